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

// A 30-character target with an adopted hand-made staging DB: the holding
// name fits the engine and is recorded exactly as the server stores it,
// and retire finds and drops it under that name.
func TestMySQLLongTargetHoldingName(t *testing.T) {
	long := "t" + myRand(t) + strings.Repeat("x", 21)
	e := newMyEnv(t, false, func(c *local.Config) { c.Target = long })
	e.cfg.Adopt = e.staging
	e.p = e.provider()
	e.s = my(e.p)
	ctx := context.Background()
	e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
	e.execIn(e.staging, "CREATE TABLE handmade (id INT PRIMARY KEY)", "INSERT INTO handmade VALUES (1)")
	e.execIn(e.src, "CREATE TABLE fresh (id INT PRIMARY KEY)", "INSERT INTO fresh VALUES (2)")
	run := refresh.NewRunID(time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC))
	want := local.HoldingName(long, run)
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
