package localserver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
)

func TestPGLongTargetHoldingName(t *testing.T) {
	long := "t" + pgRandom(t)
	long += strings.Repeat("x", 30-len(long))
	f := pgSetup(t, true, func(c *local.Config) { c.Target = long })
	f.target = long
	f.cfg.Adopt = f.staging
	f.p = f.provider(t)
	f.s = pg(f.p)
	ctx := context.Background()
	pgExec(t, f.staging, "CREATE TABLE handmade (v text)", "INSERT INTO handmade VALUES ('hand-made')")
	run := refresh.NewRunID(time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC))
	want := local.HoldingName(long, run)
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
