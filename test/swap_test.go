package test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// swapKillPoints are each engine's swap sub-steps in order (the test hook
// RESTAGE_TEST_PAUSE_AT stops the process right after the named one), with
// the direction `restage sweep` must finish the swap in after a SIGKILL
// there: forward once the commit point passed (MySQL: the RENAME TABLE;
// PostgreSQL: the rename transaction), back before it.
var swapKillPoints = map[string][]struct {
	at      string
	forward bool
}{
	"mysql": {
		{"capture", false}, {"intent", false}, {"create-staging", false}, {"create-holding", false},
		{"drop-new-objects", false}, {"drop-staging-objects", false}, {"rename", true}, {"record", true},
		{"create-new-objects", true}, {"create-previous-objects", true}, {"drop-new-database", true},
	},
	"postgres": {
		{"intent", false}, {"block-new", false}, {"block-staging", false}, {"blocked", false}, {"committed", true},
	},
}

// TestSwapSurvivesSIGKILL kills `restage run` between each pair of swap
// sub-steps; `restage sweep` then leaves staging serving exactly the old or
// exactly the new database (full schema — tables, views, triggers,
// routines, events, grants, datallowconn — and every table's content),
// in the documented direction, and the next run succeeds.
func TestSwapSurvivesSIGKILL(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			user := "stg_" + f.target
			env := f.env("RESTAGE_STAGING_USERS="+user+":read", "RESTAGE_STAGING_USER_"+strings.ToUpper(user)+"_PASSWORD=stg-pw-"+f.target)
			if res := restage(t, env, "run"); res.code != 0 {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			for i, kp := range swapKillPoints[ec.name] {
				old := f.swapState(t)
				// A source change makes the new copy differ from the old one.
				f.exec(t, fmt.Sprintf("UPDATE film SET length = length + 1 WHERE film_id = %d", i+1))

				f.runKilledAt(t, env, kp.at)
				res := restage(t, env, "sweep")
				if res.code != 0 {
					t.Fatalf("kill after %s: sweep exit %d\n%s", kp.at, res.code, res.stderr)
				}
				swept := f.swapState(t)
				if res := restage(t, env, "run"); res.code != 0 {
					t.Fatalf("kill after %s: the run after the sweep: exit %d\n%s", kp.at, res.code, res.stderr)
				}
				fresh := f.swapState(t)
				if fresh == old {
					t.Fatalf("kill after %s: the new copy equals the old one: the test proves nothing", kp.at)
				}
				want, dir := old, "old"
				if kp.forward {
					want, dir = fresh, "new"
				}
				if swept != want {
					t.Errorf("kill after %s: after the sweep staging is not exactly the %s database:\n%s", kp.at, dir, stateDiff(swept, want))
				}
				if left := f.databases(t, "restage_"+f.target+"_"); len(left) > 0 {
					t.Errorf("kill after %s: left behind after the next run: %v", kp.at, left)
				}
			}
		})
	}
}

// runKilledAt starts `restage run` with the swap's test hook set to at,
// waits until it pauses there and SIGKILLs it.
func (f *fixture) runKilledAt(t *testing.T, env []string, at string) {
	t.Helper()
	cmd := exec.Command(binary, "run")
	cmd.Env = append(append(os.Environ(), env...), "RESTAGE_TEST_PAUSE_AT="+at)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	paused := false
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"msg":"test pause"`) && strings.Contains(line, `"at":"`+at+`"`) {
			paused = true
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !paused {
		t.Fatalf("restage run never paused after swap sub-step %s:\n%s", at, stderr.String())
	}
}

// swapState renders everything the staging name serves: every table's
// definition and content, views, triggers (in firing order), routines,
// events, database-level grants; on PostgreSQL the whole catalog as
// pg_dump --schema-only sees it, and datallowconn / datacl.
func (f *fixture) swapState(t *testing.T) string {
	t.Helper()
	d, err := engines.ParseDSN(f.stagingDSN)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if f.ec.name == "mysql" {
		db := f.stagingDB(t)
		defer db.Close()
		lists := []struct{ kind, query string }{
			{"TABLE", "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME"},
			{"VIEW", "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME"},
			{"TRIGGER", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"},
			{"PROCEDURE", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY ROUTINE_NAME"},
			{"FUNCTION", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION' ORDER BY ROUTINE_NAME"},
			{"EVENT", "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME"},
		}
		for _, l := range lists {
			for _, name := range queryStrings(t, db, l.query, d.Database) {
				fmt.Fprintf(&b, "%s %s:\n%s\n", l.kind, name, showCreate(t, db, l.kind, name))
			}
		}
		esc := strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(d.Database)
		for _, g := range queryStrings(t, f.admin, "SELECT CONCAT_WS(' ', User, Host, Select_priv, Insert_priv, Update_priv, Delete_priv, Create_priv, Drop_priv) FROM mysql.db WHERE Db = ? ORDER BY User, Host", esc) {
			fmt.Fprintf(&b, "GRANT %s\n", g)
		}
	} else {
		for _, s := range queryStrings(t, f.admin, "SELECT datallowconn::text || ' ' || datconnlimit::text || ' ' || coalesce(datacl::text, '') FROM pg_database WHERE datname = $1", d.Database) {
			fmt.Fprintf(&b, "DATABASE %s\n", s)
		}
		out, err := exec.Command("pg_dump", "--schema-only", "--dbname", f.stagingDSN).Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("pg_dump of staging: %v\n%s", err, stderr)
		}
		for _, l := range strings.Split(string(out), "\n") {
			// Comments and pg_dump's per-run \restrict keys aside.
			if l == "" || strings.HasPrefix(l, "--") || strings.HasPrefix(l, `\`) {
				continue
			}
			b.WriteString(l + "\n")
		}
	}
	fmt.Fprintf(&b, "CONTENT %s\n", f.stagingSum(t))
	return b.String()
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	return testdb.Strings(t, db, q, args...)
}

// showCreate returns SHOW CREATE's definition and the session settings it
// was created under, without creation timestamps.
func showCreate(t *testing.T, db *sql.DB, kind, name string) string {
	t.Helper()
	rows, err := db.Query("SHOW CREATE " + kind + " `" + name + "`")
	if err != nil {
		t.Fatalf("show create %s %s: %v", kind, name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("show create %s %s: no row", kind, name)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for i, c := range cols {
		if strings.EqualFold(c, "Created") {
			continue
		}
		parts = append(parts, c+"="+vals[i].String)
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

// stateDiff shows the first lines where two renderings differ.
func stateDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			out = append(out, fmt.Sprintf("line %d:\n got %.300s\nwant %.300s", i+1, gl, wl))
			if len(out) == 5 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestSweep: `restage sweep` without a pending swap removes a killed run's
// leftover exactly as a run's prepare does — but not while a live run holds
// the lock (exit 0, nothing touched) — and refuses bad input with exit 2.
func TestSweep(t *testing.T) {
	if res := restage(t, []string{"RESTAGE_TARGET=", "RESTAGE_STAGING_DSN=nonsense"}, "sweep"); res.code != 2 ||
		!strings.Contains(res.stderr, "RESTAGE_TARGET") || !strings.Contains(res.stderr, "RESTAGE_STAGING_DSN") {
		t.Errorf("sweep with bad settings: exit %d, want 2 naming every problem\n%s", res.code, res.stderr)
	}
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			ctx := context.Background()
			prov, err := engines.NewLocal(f.localConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer prov.Close()
			// A run that dies after its restore leaves its copy behind.
			db, err := prov.Restore(ctx, refresh.NewRunID(time.Now()))
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			release, err := prov.Lock(ctx, "live-run")
			if err != nil {
				t.Fatal(err)
			}
			res := restage(t, f.env(), "sweep")
			if res.code != 0 || !strings.Contains(res.stderr, "holds the lock") {
				t.Errorf("sweep while a run holds the lock: exit %d, want 0 and a report\n%s", res.code, res.stderr)
			}
			if !containsStr(f.databases(t, "restage_"+f.target+"_"), db.Name) {
				t.Fatalf("sweep removed %s while a live run held the lock", db.Name)
			}
			release()
			res = restage(t, f.env(), "sweep")
			if res.code != 0 || !strings.Contains(res.stderr, db.Name) {
				t.Errorf("sweep: exit %d, want 0 naming %s\n%s", res.code, db.Name, res.stderr)
			}
			if left := f.databases(t, "restage_"+f.target+"_"); len(left) > 0 {
				t.Errorf("sweep left %v", left)
			}
			if res := restage(t, f.env(), "sweep"); res.code != 0 || !strings.Contains(res.stderr, "nothing left") {
				t.Errorf("second sweep: exit %d\n%s", res.code, res.stderr)
			}
		})
	}
}

// TestRunFinishesKilledSwap: without any `restage sweep`, the next run's
// prepare finishes a swap killed half way (back: the commit point was not
// reached) and then refreshes staging. Before the intent record, MySQL's
// next runs all failed with "holding database … already exists", and
// PostgreSQL's staging refused connections until then.
func TestRunFinishesKilledSwap(t *testing.T) {
	at := map[string]string{"mysql": "drop-staging-objects", "postgres": "blocked"}
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			env := f.env()
			if res := restage(t, env, "run"); res.code != 0 {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			f.runKilledAt(t, env, at[ec.name])
			res := restage(t, env, "run")
			if res.code != 0 {
				t.Fatalf("the run after the kill: exit %d\n%s", res.code, res.stderr)
			}
			if !strings.Contains(res.stdout, `"direction":"back"`) {
				t.Errorf("the run's prepare did not report finishing the swap back:\n%.2000s", res.stdout)
			}
			db := f.stagingDB(t)
			if n, m := maskedEmails(t, db); n != 599 || m != n {
				t.Errorf("staging serves %d customers, %d masked; want 599 all masked", n, m)
			}
			if left := f.databases(t, "restage_"+f.target+"_"); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}
