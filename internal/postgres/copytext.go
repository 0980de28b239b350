package postgres

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/restage/restage/internal/mask"
)

// TransformCopy rewrites a COPY text stream (one row a line, fields
// separated by tabs, \N for NULL, backslash escapes) from r to w: each
// row has ncols copied fields followed by nread fields the row function
// reads; the function's output replaces the fields at pos where it
// differs from what it read, and the nread extra fields are dropped. The
// fields it does not change pass byte for byte. It returns the rows
// written. Errors never quote a value.
func TransformCopy(r io.Reader, w io.Writer, ncols int, pos []int, nread int, fn mask.RowFunc) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	bw := bufio.NewWriterSize(w, 1<<16)
	in := make([]mask.Value, nread)
	out := make([]mask.Value, len(pos))
	var (
		fields [][]byte
		long   []byte
		n      int64
	)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		if line[len(line)-1] != '\n' {
			return n, errors.New("copy stream: a row without its line end")
		}
		fields = splitTabs(fields[:0], line[:len(line)-1])
		if len(fields) != ncols+nread {
			return n, fmt.Errorf("copy stream: a row of %d fields, want %d", len(fields), ncols+nread)
		}
		for i := range in {
			in[i] = CopyDecode(fields[ncols+i])
		}
		clear(out)
		if err := fn(in, out); err != nil {
			return n, fmt.Errorf("row function: %w", err)
		}
		for i, v := range out {
			if v != in[i] {
				fields[pos[i]] = CopyEncode(v)
			}
		}
		for i, f := range fields[:ncols] {
			if i > 0 {
				bw.WriteByte('\t')
			}
			bw.Write(f)
		}
		if err := bw.WriteByte('\n'); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

// splitTabs appends the tab-separated fields of line to fields (views into
// line, no copies): bytes.Split without its allocation per row.
func splitTabs(fields [][]byte, line []byte) [][]byte {
	for {
		i := bytes.IndexByte(line, '\t')
		if i < 0 {
			return append(fields, line)
		}
		fields = append(fields, line[:i])
		line = line[i+1:]
	}
}

// CopyDecode reads one field of COPY's text format.
func CopyDecode(f []byte) mask.Value {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return mask.Value{Null: true}
	}
	if bytes.IndexByte(f, '\\') < 0 {
		return mask.Value{S: string(f)}
	}
	b := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 == len(f) {
			b = append(b, c)
			continue
		}
		i++
		switch c = f[i]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'v':
			b = append(b, '\v')
		case 'x':
			v, k := 0, 0
			for ; k < 2 && i+1 < len(f) && isHex(f[i+1]); k++ {
				i++
				v = v*16 + hexVal(f[i])
			}
			if k == 0 {
				b = append(b, 'x')
			} else {
				b = append(b, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 1; k < 3 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(f[i]-'0')
			}
			b = append(b, byte(v))
		default:
			b = append(b, c)
		}
	}
	return mask.Value{S: string(b)}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

// CopyEncode writes one field of COPY's text format.
func CopyEncode(v mask.Value) []byte {
	if v.Null {
		return []byte(`\N`)
	}
	b := make([]byte, 0, len(v.S)+8)
	for i := 0; i < len(v.S); i++ {
		switch c := v.S[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, c)
		}
	}
	return b
}

// copyBatchBytes is about how much of a COPY stream one goroutine of
// TransformCopyParallel masks at a time.
const copyBatchBytes = 256 << 10

// TransformCopyParallel is TransformCopy with the rows masked by
// len(fns) goroutines, each calling its own function: the stream is cut
// into batches of whole rows, masked in parallel and written in their
// original order. One function runs TransformCopy itself.
func TransformCopyParallel(r io.Reader, w io.Writer, ncols int, pos []int, nread int, fns []mask.RowFunc) (int64, error) {
	if len(fns) == 1 {
		return TransformCopy(r, w, ncols, pos, nread, fns[0])
	}
	type batch struct {
		seq  int
		data []byte
		rows int64
		err  error
	}
	stop := make(chan struct{})
	todo := make(chan batch, len(fns))
	done := make(chan batch, len(fns))
	readErr := make(chan error, 1)
	// tokens bound the batches read but not yet written: a batch that
	// takes long holds the ones after it in memory until it is done.
	tokens := make(chan struct{}, 4*len(fns))
	go func() {
		defer close(todo)
		br := bufio.NewReaderSize(r, 1<<16)
		for seq := 0; ; seq++ {
			buf := make([]byte, 0, copyBatchBytes+4096)
			var err error
			// A batch ends at a line end only (a row longer than the
			// reader's buffer comes in several pieces).
			for midLine := false; midLine || len(buf) < copyBatchBytes; {
				var line []byte
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
				midLine = errors.Is(err, bufio.ErrBufferFull)
				if midLine {
					err = nil
					continue
				}
				if err != nil {
					break
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				// Not the partial batch: its cut row would hide err.
				readErr <- err
				return
			}
			if len(buf) > 0 {
				select {
				case tokens <- struct{}{}:
				case <-stop:
					readErr <- nil
					return
				}
				select {
				case todo <- batch{seq: seq, data: buf}:
				case <-stop:
					readErr <- nil
					return
				}
			}
			if err != nil {
				readErr <- nil
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				var out bytes.Buffer
				out.Grow(len(b.data) + len(b.data)/4)
				// A batch without its final line end is a row cut short:
				// TransformCopy refuses it, as it would at the stream's end.
				b.rows, b.err = TransformCopy(bytes.NewReader(b.data), &out, ncols, pos, nread, fn)
				b.data = out.Bytes()
				select {
				case done <- b:
				case <-stop:
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	var (
		n       int64
		next    int
		err     error
		pending = map[int]batch{}
	)
	for b := range done {
		if err != nil {
			continue
		}
		if b.err != nil {
			err = b.err
			close(stop)
			continue
		}
		pending[b.seq] = b
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if _, werr := w.Write(p.data); werr != nil {
				err = werr
				close(stop)
				break
			}
			n += p.rows
			<-tokens
		}
	}
	if err != nil {
		return n, err
	}
	if rerr := <-readErr; rerr != nil {
		return n, rerr
	}
	if len(pending) > 0 {
		return n, errors.New("copy stream: a batch was lost")
	}
	return n, nil
}
