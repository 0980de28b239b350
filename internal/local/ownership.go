package local

import (
	"fmt"

	"github.com/restage/restage/internal/refresh"
)

// Owner decides, for one target, which databases restage may drop, rename
// away or retire. It is the one ownership rule of the local provider:
// retire, sweep, discard and the swap all ask it (docs/ARCHITECTURE.md,
// "restage deletes only what it created for this target, or what ops
// named for adoption").
type Owner struct {
	Target string
	Adopt  string // RESTAGE_ADOPT: the one hand-made database restage may replace and retire
}

// Claim is what restage knows about one database: its control DB record
// (if any) and the marker on the database (if any).
type Claim struct {
	Name     string
	Recorded bool   // the control DB has a row for it
	Target   string // the row's target
	RunID    string // the row's run id; "" when no run created it
	Origin   string // the hand-made database whose data it holds, if any
	Marker   *Marker
}

// Check returns nil when restage may destroy or move the database away,
// and an error wrapping refresh.ErrNotOurs otherwise. Only two things make
// a database restage's: a run of this target created it (control DB row
// or marker), or it is — or holds the data of — the database RESTAGE_ADOPT
// names. A name alone never does.
func (o Owner) Check(c Claim) error {
	if o.Adopt != "" && (c.Name == o.Adopt || c.Origin == o.Adopt) {
		return nil
	}
	if c.Recorded && c.Target == o.Target && c.RunID != "" && c.Origin == "" {
		return nil
	}
	// A marker counts when it names this target and no hand-made origin:
	// a copy or holding DB of a run, or the staging schema restage fills
	// (MySQL; its run may not be known yet mid-swap).
	if m := c.Marker; m != nil && m.Target == o.Target && m.Origin == "" && (m.Run != "" || m.Role == "staging") {
		return nil
	}
	what := "not created by restage for target " + o.Target
	if c.Origin != "" {
		what = "it holds the data of hand-made database " + c.Origin
	}
	return fmt.Errorf("%s: %s and not adopted (RESTAGE_ADOPT): %w", c.Name, what, refresh.ErrNotOurs)
}

// AdoptHint is how an operator lets restage replace a hand-made database.
func AdoptHint(name string) string {
	return fmt.Sprintf("to let restage replace it (its content is retired after the next successful run), set RESTAGE_ADOPT=%s; or point RESTAGE_STAGING_DSN at another database name", name)
}
