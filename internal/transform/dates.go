package transform

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/restage/restage/internal/schema"
)

var errNotDate = errors.New("date_shift: value is not a date or timestamp")

// dateParts is a date or timestamp text split into its date (proleptic
// Gregorian, year as printed) and the verbatim rest (time, fraction, zone).
type dateParts struct {
	year, month, day int
	bc               bool   // PostgreSQL " BC" suffix
	rest             string // after the day, " BC" excluded
}

// splitDate parses "YYYY-MM-DD" optionally followed by " HH:MM:SS[.f]" or
// "THH:MM:SS[.f]", a zone offset ("Z", "+09", "+05:30", "-03:30:15") and
// PostgreSQL's " BC".
func splitDate(s string) (dateParts, error) {
	var d dateParts
	if strings.HasSuffix(s, " BC") {
		d.bc, s = true, s[:len(s)-3]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < 4 || i > 7 || len(s) < i+6 || s[i] != '-' || s[i+3] != '-' {
		return d, errNotDate
	}
	y, _ := strconv.Atoi(s[:i])
	if !allDigits(s[i+1:i+3]) || !allDigits(s[i+4:i+6]) {
		return d, errNotDate
	}
	mo, _ := strconv.Atoi(s[i+1 : i+3])
	da, _ := strconv.Atoi(s[i+4 : i+6])
	d.year, d.month, d.day, d.rest = y, mo, da, s[i+6:]
	if !validDateRest(d.rest) {
		return d, errNotDate
	}
	return d, nil
}

func validDateRest(r string) bool {
	if r == "" {
		return true
	}
	if r[0] != ' ' && r[0] != 'T' {
		return false
	}
	r = r[1:]
	if len(r) < 8 || r[2] != ':' || r[5] != ':' || !allDigits(r[:2]) || !allDigits(r[3:5]) || !allDigits(r[6:8]) {
		return false
	}
	r = r[8:]
	if len(r) > 0 && r[0] == '.' {
		j := 1
		for j < len(r) && r[j] >= '0' && r[j] <= '9' {
			j++
		}
		if j == 1 {
			return false
		}
		r = r[j:]
	}
	switch {
	case r == "" || r == "Z":
		return true
	case r[0] == '+' || r[0] == '-':
		for k, part := range strings.Split(r[1:], ":") {
			if k > 2 || len(part) != 2 || !allDigits(part) {
				return false
			}
		}
		return true
	}
	return false
}

type dateShiftT struct{ days int }

func parseDateShift(_ string, p *params, _ Options) (Transformer, error) {
	n, err := p.integer("days", 0, true)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 3650000 {
		return nil, perr("days", "must be at least 1")
	}
	return &dateShiftT{days: n}, nil
}

func (*dateShiftT) Name() string { return "date_shift" }

func (t *dateShiftT) Bind(tg Target) (Func, error) {
	if err := check("date_shift", tg, spec{kinds: []schema.Kind{schema.KindDate, schema.KindDateTime, schema.KindText}}); err != nil {
		return nil, err
	}
	n := t.days
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		v := in.Value
		if v == "infinity" || v == "-infinity" {
			return "", errUnchanged
		}
		d, err := splitDate(v)
		if err != nil {
			return "", err
		}
		if d.year == 0 && !d.bc || d.month == 0 || d.day == 0 {
			return "", errUnchanged // MySQL zero dates
		}
		ay := d.year
		if d.bc {
			ay = 1 - d.year
		}
		t0 := time.Date(ay, time.Month(d.month), d.day, 12, 0, 0, 0, time.UTC)
		if t0.Year() != ay || int(t0.Month()) != d.month || t0.Day() != d.day {
			return "", errNotDate
		}
		off := draw(m, "date_shift", seed, attempt, func(r *Rand) int { return dateOffset(r, n) })
		t1 := t0.AddDate(0, 0, off)
		if inRange := ay >= 1 && ay <= 9999; inRange && (t1.Year() < 1 || t1.Year() > 9999) {
			t1 = t0.AddDate(0, 0, -off)
		}
		return formatDate(t1, d.rest), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}

// dateOffset draws an offset in [-n, n] \ {0}.
func dateOffset(r *Rand, n int) int {
	off := r.IntN(2*n) - n
	if off >= 0 {
		off++
	}
	return off
}

func formatDate(t time.Time, rest string) string {
	y := t.Year()
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	b := make([]byte, 0, 10+len(rest)+3)
	ys := strconv.Itoa(y)
	for i := len(ys); i < 4; i++ {
		b = append(b, '0')
	}
	b = append(b, ys...)
	b = append(b, '-', byte('0'+int(t.Month())/10), byte('0'+int(t.Month())%10), '-', byte('0'+t.Day()/10), byte('0'+t.Day()%10))
	b = append(b, rest...)
	if bc {
		b = append(b, " BC"...)
	}
	return string(b)
}
