package transform

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// params reads a rule's decoded YAML parameters and remembers which were
// used, so that done can refuse the rest.
type params struct {
	m    map[string]any
	used map[string]bool
}

func newParams(m map[string]any) *params {
	return &params{m: m, used: map[string]bool{}}
}

func perr(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

func (p *params) get(name string) (any, bool) {
	p.used[name] = true
	v, ok := p.m[name]
	if ok && v == nil {
		return nil, false
	}
	return v, ok
}

func (p *params) has(name string) bool {
	v, ok := p.m[name]
	return ok && v != nil
}

func (p *params) str(name, def string, required bool) (string, error) {
	v, ok := p.get(name)
	if !ok {
		if required {
			return "", perr(name, "is required")
		}
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", perr(name, "must be a string")
	}
	return s, nil
}

func (p *params) integer(name string, def int, required bool) (int, error) {
	v, ok := p.get(name)
	if !ok {
		if required {
			return 0, perr(name, "is required")
		}
		return def, nil
	}
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case uint64:
		if n > math.MaxInt32 {
			return 0, perr(name, "is too large")
		}
		return int(n), nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<31 {
			return int(n), nil
		}
	}
	return 0, perr(name, "must be an integer")
}

func (p *params) float(name string, required bool) (float64, bool, error) {
	v, ok := p.get(name)
	if !ok {
		if required {
			return 0, false, perr(name, "is required")
		}
		return 0, false, nil
	}
	switch n := v.(type) {
	case int:
		return float64(n), true, nil
	case int64:
		return float64(n), true, nil
	case uint64:
		return float64(n), true, nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, false, perr(name, "must be a finite number")
		}
		return n, true, nil
	}
	return 0, false, perr(name, "must be a number")
}

func (p *params) boolean(name string, def bool) (bool, error) {
	v, ok := p.get(name)
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, perr(name, "must be true or false")
	}
	return b, nil
}

// locale reads the locale param, defaulting to the file's locale.
func (p *params) locale(opt Options) (string, error) {
	def := opt.Locale
	if def == "" {
		def = "en"
	}
	if def != "en" && def != "ja" {
		return "", perr("locale", "unsupported locale (want en or ja)")
	}
	l, err := p.str("locale", def, false)
	if err != nil {
		return "", err
	}
	if l != "en" && l != "ja" {
		return "", perr("locale", "unsupported locale (want en or ja)")
	}
	return l, nil
}

// done refuses parameters that were never read.
func (p *params) done() error {
	var unknown []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return perr(unknown[0], "unknown parameter")
}

// oneOf checks a string param against a fixed set.
func oneOf(param, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return perr(param, "must be one of %s", strings.Join(allowed, ", "))
}
