package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/refresh"
)

func TestOwnerCheck(t *testing.T) {
	o := owner{target: "app", adopt: "handmade"}
	mine := &marker{Target: "app", Run: "r1", Name: "restage_app_r1", Role: "copy"}
	for _, c := range []struct {
		name string
		c    claim
		ok   bool
	}{
		{"recorded copy", claim{Name: "restage_app_r1", Recorded: true, Target: "app", RunID: "r1"}, true},
		{"other target", claim{Name: "restage_app_r1", Recorded: true, Target: "other", RunID: "r1"}, false},
		{"recorded without run", claim{Name: "restage_app_previous_r1", Recorded: true, Target: "app"}, false},
		{"hand-made holding", claim{Name: "restage_app_previous_r1", Recorded: true, Target: "app", RunID: "r1", Origin: "stg"}, false},
		{"adopted holding", claim{Name: "restage_app_previous_r1", Recorded: true, Target: "app", Origin: "handmade"}, true},
		{"adopted itself", claim{Name: "handmade"}, true},
		{"name alone", claim{Name: "restage_app_r2"}, false},
		{"marker of this target", claim{Name: "restage_app_r1", Marker: mine}, true},
		{"marker of another target", claim{Name: "restage_app_r1", Marker: &marker{Target: "x", Run: "r1", Role: "copy"}}, false},
		{"staging schema restage fills", claim{Name: "stg", Marker: &marker{Target: "app", Role: "staging"}}, true},
		{"staging schema of another target", claim{Name: "stg", Marker: &marker{Target: "x", Run: "r1", Role: "staging"}}, false},
		{"holding marker with a hand-made origin", claim{Name: "restage_app_previous_r1", Marker: &marker{Target: "app", Run: "r1", Role: "holding", Origin: "stg"}}, false},
	} {
		err := o.check(c.c)
		if (err == nil) != c.ok {
			t.Errorf("%s: check = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, refresh.ErrNotOurs) {
			t.Errorf("%s: %v does not wrap ErrNotOurs", c.name, err)
		}
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	m := marker{Target: "app", Run: "20261202150405_ab12", Name: "restage_app_20261202150405_ab12", Role: "copy"}
	got, ok := parseMarker(m.String())
	if m.Restage = markerVersion; !ok || got != m {
		t.Errorf("parseMarker(%s) = %+v, %v", m.String(), got, ok)
	}
	for _, s := range []string{"", "a comment", `{"target":"app"}`, `{"restage":1}`, `{"restage":1,"target":`} {
		if _, ok := parseMarker(s); ok {
			t.Errorf("parseMarker(%q) accepted", s)
		}
	}
}

func TestNamesFit(t *testing.T) {
	run := refresh.NewRunID(fixedNow)
	long := strings.Repeat("a", 30)
	for _, target := range []string{"t", "app", long, strings.Repeat("b", 29) + "c"} {
		for _, n := range []string{DBName(target, run), holdingName(target, run), DBName(target, strings.Repeat("9", 60))} {
			if len(n) > maxDBName {
				t.Errorf("%s: %d bytes, want at most %d", n, len(n), maxDBName)
			}
			if !strings.HasPrefix(n, "restage_") {
				t.Errorf("%s: want the restage_ prefix", n)
			}
		}
	}
	if got, want := DBName("app", run), "restage_app_"+run; got != want {
		t.Errorf("DBName = %s, want %s (short names unchanged)", got, want)
	}
	if got, want := holdingName("app", run), "restage_app_previous_"+run; got != want {
		t.Errorf("holdingName = %s, want %s", got, want)
	}
	a, b := holdingName(long, run), holdingName(long[:29]+"b", run)
	if a == b {
		t.Errorf("two 30-character targets with one prefix share %s", a)
	}
	if !strings.HasSuffix(a, "_previous_"+run) {
		t.Errorf("%s: the run id must stay readable", a)
	}
}

// A 30-character target with an adopted hand-made staging DB: the holding
// name fits the engine and is recorded exactly as the server stores it,
// and retire finds and drops it under that name.
func TestMySQLLongTargetHoldingName(t *testing.T) {
	long := "t" + myRand(t) + strings.Repeat("x", 21)
	e := newMyEnv(t, false, func(c *Config) { c.Target = long })
	e.cfg.Adopt = e.staging
	e.p = e.provider()
	e.s = my(e.p)
	ctx := context.Background()
	e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
	e.execIn(e.staging, "CREATE TABLE handmade (id INT PRIMARY KEY)", "INSERT INTO handmade VALUES (1)")
	e.execIn(e.src, "CREATE TABLE fresh (id INT PRIMARY KEY)", "INSERT INTO fresh VALUES (2)")
	run := refresh.NewRunID(fixedNow)
	want := holdingName(long, run)
	t.Cleanup(func() { e.admin.Exec("DROP DATABASE IF EXISTS " + mysqlQuote(want)) })

	rel, err := e.p.Lock(ctx, run)
	if err != nil {
		t.Fatalf("Lock with the staging DB adopted: %v", err)
	}
	defer rel()
	prev, err := e.p.Switch(ctx, e.restore(run))
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if prev == nil || prev.Name != want || len(prev.Name) > 64 {
		t.Fatalf("previous = %+v, want %s", prev, want)
	}
	if got := e.strings("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", prev.Name); len(got) != 1 {
		t.Fatalf("server has no database named %s", prev.Name)
	}
	if s := e.state(prev.Name); s != myStatePrevious {
		t.Errorf("control DB state of %s = %s, want previous", prev.Name, s)
	}
	if n := e.count("SELECT COUNT(*) FROM " + mysqlQuote(prev.Name) + ".handmade"); n != 1 {
		t.Errorf("holding DB has %d hand-made rows, want 1", n)
	}
	if err := e.p.Retire(ctx, prev); err != nil {
		t.Fatalf("Retire the adopted DB's holding: %v", err)
	}
	if e.exists(prev.Name) {
		t.Error("retire left the holding DB")
	}
}

func TestPGLongTargetHoldingName(t *testing.T) {
	long := "t" + pgRandom(t)
	long += strings.Repeat("x", 30-len(long))
	f := pgSetup(t, true, func(c *Config) { c.Target = long })
	f.target = long
	f.cfg.Adopt = f.staging
	f.p = f.provider(t)
	f.s = pg(f.p)
	ctx := context.Background()
	pgExec(t, f.staging, "CREATE TABLE handmade (v text)", "INSERT INTO handmade VALUES ('hand-made')")
	run := refresh.NewRunID(fixedNow)
	want := holdingName(long, run)
	t.Cleanup(func() { pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+pgIdent(want)+" WITH (FORCE)") })

	rel, err := f.p.Lock(ctx, run)
	if err != nil {
		t.Fatalf("Lock with the staging DB adopted: %v", err)
	}
	defer rel()
	prev, err := f.p.Switch(ctx, f.restore(t, run, "new"))
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if prev == nil || prev.Name != want || len(prev.Name) > 63 {
		t.Fatalf("previous = %+v, want %s", prev, want)
	}
	if !pgExists(t, prev.Name) {
		t.Fatalf("server has no database named %s (the control DB records a name the server cut)", prev.Name)
	}
	if s := f.state(t, prev.Name); s != "previous" {
		t.Errorf("control DB state of %s = %q, want previous", prev.Name, s)
	}
	if err := f.p.Retire(ctx, prev); err != nil {
		t.Fatalf("Retire the adopted DB: %v", err)
	}
	if pgExists(t, prev.Name) {
		t.Error("retire left the adopted DB")
	}
}

// fixedNow gives run ids of the real format (19 characters).
var fixedNow = time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)

// A hand-made database behind the staging name, not adopted: the run
// stops at its lock with ErrBadInput saying how to adopt it, before the
// control DB or anything else exists. Adopted, the lock is taken.
func TestMySQLRefusesHandMadeStaging(t *testing.T) {
	e := newMyEnv(t, false)
	e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
	e.execIn(e.staging, "CREATE TABLE handmade (id INT PRIMARY KEY)", "INSERT INTO handmade VALUES (1)")
	_, err := e.p.Lock(context.Background(), "r1")
	if !errors.Is(err, refresh.ErrBadInput) || !strings.Contains(err.Error(), "RESTAGE_ADOPT="+e.staging) {
		t.Fatalf("Lock on a hand-made staging DB: %v; want ErrBadInput saying RESTAGE_ADOPT=%s", err, e.staging)
	}
	if e.exists(e.cfg.ControlDB) {
		t.Error("a refused run created the control DB")
	}
	e.cfg.Adopt = e.staging
	rel, err := e.provider().Lock(context.Background(), "r1")
	if err != nil {
		t.Fatalf("Lock with the staging DB adopted: %v", err)
	}
	rel()
}

func TestPGRefusesHandMadeStaging(t *testing.T) {
	f := pgSetup(t, true, nil)
	pgExec(t, f.staging, "CREATE TABLE handmade (v text)", "INSERT INTO handmade VALUES ('hand-made')")
	_, err := f.p.Lock(context.Background(), "r1")
	if !errors.Is(err, refresh.ErrBadInput) || !strings.Contains(err.Error(), "RESTAGE_ADOPT="+f.staging) {
		t.Fatalf("Lock on a hand-made staging DB: %v; want ErrBadInput saying RESTAGE_ADOPT=%s", err, f.staging)
	}
	if pgExists(t, f.ctl) {
		t.Error("a refused run created the control DB")
	}
	f.cfg.Adopt = f.staging
	rel, err := f.provider(t).Lock(context.Background(), "r1")
	if err != nil {
		t.Fatalf("Lock with the staging DB adopted: %v", err)
	}
	rel()
}
