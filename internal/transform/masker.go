package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math/bits"
	"math/rand/v2"
	"unsafe"
)

// Masker is one worker's keyed state: a reusable HMAC-SHA256 keyed with the
// masking key. It is not safe for concurrent use; give each worker its own.
type Masker struct {
	mac     hash.Hash
	sum     [sha256.Size]byte
	num     [4]byte
	scratch []byte
	fp      ShortMAC // verification fingerprints (Fingerprint)
	spare   []*Rand  // streams given back by draw, reseeded by Rand
}

// NewMasker returns a Masker for the key. It panics on the zero Key (one
// not made by NewKey): masking with an empty key would be unkeyed.
func NewMasker(k Key) *Masker {
	if len(k.b) < MinKeyLen {
		panic("transform: NewMasker needs a key from NewKey")
	}
	m := &Masker{mac: hmac.New(sha256.New, k.b)}
	m.fp = m.ShortMAC(fpDomain)
	return m
}

// String never shows the key.
func (*Masker) String() string { return "[masker]" }

// GoString never shows the key.
func (*Masker) GoString() string { return "[masker]" }

// bytesOf views a string as bytes without copying. The result must not be
// modified; it is only fed to the HMAC, which reads it.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// macOf computes HMAC(key, domain || 0 || attempt (4 bytes, big endian) || 0
// || seed) into m.sum. Domains never contain a NUL byte.
func (m *Masker) macOf(domain string, seed []byte, attempt int) []byte {
	m.mac.Reset()
	m.mac.Write(bytesOf(domain))
	m.num[0] = 0
	m.mac.Write(m.num[:1])
	binary.BigEndian.PutUint32(m.num[:], uint32(attempt))
	m.mac.Write(m.num[:])
	m.num[0] = 0
	m.mac.Write(m.num[:1])
	m.mac.Write(seed)
	return m.mac.Sum(m.sum[:0])
}

// Rand is a deterministic random stream: ChaCha8 seeded with a MAC. Its
// IntN is implemented here (not by math/rand) so outputs never change with
// the standard library's algorithms; ChaCha8 itself is fixed by the
// C2SP chacha8rand specification.
type Rand struct {
	c rand.ChaCha8
}

// Rand returns the stream for (domain, attempt, seed). The output depends
// only on the key and those three.
func (m *Masker) Rand(domain string, seed []byte, attempt int) *Rand {
	sum := m.macOf(domain, seed, attempt)
	var r *Rand
	if n := len(m.spare); n > 0 {
		r, m.spare = m.spare[n-1], m.spare[:n-1]
	} else {
		r = new(Rand)
	}
	r.c.Seed([32]byte(sum)) // the whole state: a reused stream starts afresh
	return r
}

// draw returns f of the stream for (domain, seed, attempt) and keeps the
// stream for the Masker's next Rand: f must not keep it. The hot
// generators use it, saving an allocation of the ChaCha8 state per value
// (the output is Rand's, to the bit).
func draw[T any](m *Masker, domain string, seed []byte, attempt int, f func(*Rand) T) T {
	r := m.Rand(domain, seed, attempt)
	v := f(r)
	if len(m.spare) < 4 {
		m.spare = append(m.spare, r)
	}
	return v
}

// Uint64 returns 64 random bits.
func (r *Rand) Uint64() uint64 { return r.c.Uint64() }

// IntN returns a uniform int in [0, n). It panics if n <= 0.
func (r *Rand) IntN(n int) int {
	if n <= 0 {
		panic("transform: IntN with n <= 0")
	}
	return int(r.uint64n(uint64(n)))
}

// uint64n is Lemire's nearly-divisionless bounded draw.
func (r *Rand) uint64n(n uint64) uint64 {
	hi, lo := bits.Mul64(r.c.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.c.Uint64(), n)
		}
	}
	return hi
}

const b32 = "abcdefghijklmnopqrstuvwxyz234567"

// MaxTagLen is the longest tag Tag can produce (256 bits in base32).
const MaxTagLen = 51

// Tag returns nchars (at most MaxTagLen) of lower-case, unpadded base32
// (a-z2-7) of HMAC(key, domain || 0 || 0000 || 0 || seed): keyed entropy
// for outputs that must be unique.
func (m *Masker) Tag(domain string, seed []byte, nchars int) string {
	var buf [MaxTagLen]byte
	return string(m.appendTag(buf[:0], domain, seed, 0, nchars))
}

// appendTag appends nchars of base32 of the MAC for (domain, attempt,
// seed) to dst.
func (m *Masker) appendTag(dst []byte, domain string, seed []byte, attempt, nchars int) []byte {
	if nchars > MaxTagLen {
		nchars = MaxTagLen
	}
	sum := m.macOf(domain, seed, attempt)
	for i := 0; i < nchars; i++ {
		bit := i * 5
		byteI, off := bit/8, bit%8
		v := uint16(sum[byteI]) << 8
		if byteI+1 < len(sum) {
			v |= uint16(sum[byteI+1])
		}
		dst = append(dst, b32[(v>>(11-off))&31])
	}
	return dst
}

// SeedOf encodes several column values unambiguously, for rules with
// `seed: [col, ...]`: per value one marker byte (0 NULL, 1 value), then for
// a value its length as a uvarint and its bytes.
func SeedOf(vals []string, nulls []bool) []byte {
	n := 0
	for _, v := range vals {
		n += 1 + binary.MaxVarintLen64 + len(v)
	}
	out := make([]byte, 0, n)
	for i, v := range vals {
		if i < len(nulls) && nulls[i] {
			out = append(out, 0)
			continue
		}
		out = append(out, 1)
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	return out
}
