package enginetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/restage/restage/internal/mask"
)

// Planted is the personal value the scrubber corpus plants in every error
// it provokes. Its fragments are distinctive enough that finding any of
// them in an error means the value leaked.
const Planted = "zebulon.quackenbush+4711@example.org"

// PlantedNumber is planted where only digits fit (out-of-range errors).
const PlantedNumber = "90471147114711"

// plantedFragments are the parts of the planted values a partial leak
// would still show.
var plantedFragments = []string{"zebulon", "quackenbush", "4711@", "4711471"}

// ScrubCase provokes one server error class with a planted value.
type ScrubCase struct {
	Name string
	// Setup runs first, on the plain connection; every statement must
	// succeed.
	Setup []string
	// Provoke must fail. It runs once on the plain connection (the raw
	// driver error) and once through the engine's post-mask SQL path.
	Provoke string
	// Carries says the server's raw error quotes the planted value (in its
	// message or detail): the case proves the scrubber removes it. Cases
	// whose raw error carries no value still pin that the error keeps its
	// code and names.
	Carries bool
	// Code is the SQLSTATE (PostgreSQL) or error number (MySQL) the
	// scrubbed error must still show; "a|b" accepts either (MariaDB and
	// MySQL 8 number some errors differently).
	Code string
	// Names are the constraint, table or column names the scrubbed error
	// must still show, so an operator can act on it.
	Names []string
}

// ScrubHarness adapts the corpus to one engine.
type ScrubHarness struct {
	// Open returns the engine's post-mask SQL executor on a fresh database
	// and a plain connection to the same database.
	Open func(t *testing.T) (mask.Execer, *sql.DB)
	// Scrub is the engine's one scrubber, as other packages call it.
	Scrub func(error) error
	// Raw renders everything the driver's error carries (message, detail,
	// hints, context) so that Carries can be checked.
	Raw func(error) string
	// Cases is the engine's corpus: every server error class that can
	// carry a value.
	Cases []ScrubCase
}

// ScrubCorpus runs every case of the corpus: the value the case plants
// appears nowhere in the scrubbed error (neither through the engine's own
// path nor through Scrub), and the scrubbed error keeps the code and the
// names. A scrubber that blanks everything fails the second half.
func ScrubCorpus(t *testing.T, h ScrubHarness) {
	for _, c := range h.Cases {
		t.Run(c.Name, func(t *testing.T) {
			ex, db := h.Open(t)
			ctx := context.Background()
			for _, s := range c.Setup {
				if _, err := db.ExecContext(ctx, s); err != nil {
					t.Fatalf("setup %q: %v", s, err)
				}
			}
			_, raw := db.ExecContext(ctx, c.Provoke)
			if raw == nil {
				t.Fatalf("%q succeeded; the case must provoke an error", c.Provoke)
			}
			if c.Carries && !leaks(h.Raw(raw)) {
				t.Fatalf("the raw error does not quote the planted value, so the case proves nothing: %s", h.Raw(raw))
			}
			viaEngine := ex.Exec(ctx, c.Provoke)
			if viaEngine == nil {
				t.Fatalf("%q succeeded through the engine", c.Provoke)
			}
			for path, err := range map[string]error{"engine post-mask SQL": viaEngine, "Scrub": h.Scrub(raw)} {
				checkScrubbed(t, path, err, c)
			}
		})
	}
}

func checkScrubbed(t *testing.T, path string, err error, c ScrubCase) {
	t.Helper()
	msg := err.Error()
	// Every error of the chain in Go syntax: a field that kept the
	// server's detail would show here even if Error() hides it.
	all := msg
	for _, e := range unwrapAll(err) {
		all += "\n" + fmt.Sprintf("%#v", e)
	}
	if leaks(all) {
		t.Errorf("%s: the scrubbed error carries the planted value: %s", path, msg)
	}
	found := false
	for _, code := range strings.Split(c.Code, "|") {
		found = found || strings.Contains(msg, code)
	}
	if !found {
		t.Errorf("%s: the scrubbed error lost its code %s: %s", path, c.Code, msg)
	}
	for _, n := range c.Names {
		if !strings.Contains(msg, n) {
			t.Errorf("%s: the scrubbed error lost the name %q: %s", path, n, msg)
		}
	}
}

// unwrapAll lists the chain so that %#v shows every error's fields.
func unwrapAll(err error) []error {
	var out []error
	for err != nil {
		out = append(out, err)
		err = errors.Unwrap(err)
	}
	return out
}

func leaks(s string) bool {
	s = strings.ToLower(s)
	for _, f := range plantedFragments {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// Leaks reports whether s holds any part of the planted values (for
// end-to-end tests that check logs, reports and Slack text).
func Leaks(s string) bool { return leaks(s) }
