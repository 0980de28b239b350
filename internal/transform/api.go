package transform

import (
	"errors"

	"github.com/restage/restage/internal/schema"
)

// MinKeyLen is the shortest masking key accepted, in bytes.
const MinKeyLen = 32

// Key is the masking key. It formats as "[redacted]" so it can't leak
// through a log or an error by accident.
type Key struct{ b []byte }

// ErrWeakKey is returned by NewKey for a missing or short key.
var ErrWeakKey = errors.New("masking key must be at least 32 bytes")

// NewKey validates and wraps a raw key.
func NewKey(raw []byte) (Key, error) {
	if len(raw) < MinKeyLen {
		return Key{}, ErrWeakKey
	}
	return Key{b: append([]byte(nil), raw...)}, nil
}

func (Key) String() string   { return "[redacted]" }
func (Key) GoString() string { return "[redacted]" }

// Options are the file-level defaults a rule inherits.
type Options struct {
	Locale string // "en" (default) or "ja"
}

// ParamError reports a bad transformer parameter; Param names it so the
// rules parser can point at its line.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string {
	if e.Param == "" {
		return e.Msg
	}
	return "parameter " + e.Param + ": " + e.Msg
}

// Target is what a transformer is bound to: the column plus whether it is
// under a unique index.
type Target struct {
	Column *schema.Column
	Unique bool
	// Loose is set by a rule's `consistent: false`: the output is fitted
	// to this column (cut to its length; e-mail's short tag off a unique
	// column) instead of being the one form every column gets. Without
	// it, a column shorter than the transformer's maximum output is
	// refused at Bind (a plan error naming the length needed).
	Loose bool
}

// Input is one non-NULL original value. Seed, when not nil, replaces Value
// as the source of randomness (row-coherent fakes: several columns seeded by
// the same column(s) describe the same fake person).
type Input struct {
	Value string
	Seed  []byte
	// Attempt is the first draw to try (0 normally). The planner raises it
	// for every column of a seeded entity in a row when one of them
	// collided with its original (row-level redraw).
	Attempt int
	// NoRedraw makes the Func try Attempt only and return
	// ErrSameAsOriginal when that draw equals the original, so that the
	// caller can redraw the whole row's entity.
	NoRedraw bool
}

// ErrSameAsOriginal is returned by a Func called with Input.NoRedraw when
// its draw equals the original (compared folded, see FoldKey).
var ErrSameAsOriginal = errors.New("draw equals the original")

// Entity names the fake entity a transformer draws from its seed when
// several columns of a row must agree: "person" for first_name,
// last_name, full_name, email and a template with name placeholders; ""
// for a transformer whose output stands alone. Columns of one row with the
// same seed and entity are redrawn together.
func Entity(t Transformer) string {
	if e, ok := t.(interface{ entity() string }); ok {
		return e.entity()
	}
	return ""
}

// Transformer is a parsed, validated rule transformer.
type Transformer interface {
	Name() string
	// Bind checks that the transformer can produce values for the target
	// (type, length, charset, uniqueness) and returns the column function.
	Bind(t Target) (Func, error)
}

// Func masks one value. Null inputs never reach it (NULL in, NULL out),
// except for nullify, whose Func is never called: see Nullifies. The
// Masker carries the per-worker key state; a Func is safe for concurrent
// use with distinct Maskers. The output fits the column and differs from
// the input under the column's collation (fixed and nullify excepted).
// Errors never contain the value.
type Func func(m *Masker, in Input) (out string, null bool, err error)
