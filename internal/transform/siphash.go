package transform

import (
	"encoding/binary"
	"math/bits"
)

// ShortMAC is SipHash-2-4 (Aumasson and Bernstein, 2012) under a 128-bit
// key derived from the masking key for one domain. SipHash is a keyed
// pseudorandom function made for short inputs: a fingerprint of a short
// value costs tens of nanoseconds instead of the two SHA-256 blocks of an
// HMAC. Its 64-bit output serves where a fingerprint only has to tell
// values apart within one run (the leak scan's baseline); masking outputs
// keep using the HMAC.
type ShortMAC struct{ k0, k1 uint64 }

// ShortMAC derives the SipHash key of a domain: the first 16 bytes of
// HMAC(key, "shortmac" || 0 || attempt 0 || 0 || domain). Two domains get
// unrelated keys, and the key never leaves the process.
func (m *Masker) ShortMAC(domain string) ShortMAC {
	sum := m.macOf("shortmac", bytesOf(domain), 0)
	return ShortMAC{k0: binary.LittleEndian.Uint64(sum[0:8]), k1: binary.LittleEndian.Uint64(sum[8:16])}
}

// String never shows the key.
func (ShortMAC) String() string { return "[shortmac]" }

// GoString never shows the key.
func (ShortMAC) GoString() string { return "[shortmac]" }

// Sum64 is SipHash-2-4 of p.
func (s ShortMAC) Sum64(p []byte) uint64 {
	v0 := s.k0 ^ 0x736f6d6570736575
	v1 := s.k1 ^ 0x646f72616e646f6d
	v2 := s.k0 ^ 0x6c7967656e657261
	v3 := s.k1 ^ 0x7465646279746573
	n := len(p)
	for len(p) >= 8 {
		m := binary.LittleEndian.Uint64(p)
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		p = p[8:]
	}
	m := uint64(n) << 56
	for i := len(p) - 1; i >= 0; i-- {
		m |= uint64(p[i]) << (8 * uint(i))
	}
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// String64 is Sum64 of a string, without copying it.
func (s ShortMAC) String64(p string) uint64 { return s.Sum64(bytesOf(p)) }

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
