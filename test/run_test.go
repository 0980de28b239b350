package test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/slack"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/transform"
)

// fixture is one target: a Sakila "production" source, a staging name on
// the same server, a control DB of its own, and a Slack server.
type fixture struct {
	ec         engineCase
	target     string
	sourceDSN  string
	stagingDSN string
	control    string
	admin      *sql.DB // connected to the source; used for server-wide queries
	slack      *slackServer
	prodLogin  string // the production application's login
	extraRules string // appended to the engine's example rules
}

// testdbAdmin is the admin DSN of the test server (no database for MySQL,
// the postgres database for PostgreSQL).
func testdbAdmin(ec engineCase) string {
	if ec.name == "mysql" {
		if v := os.Getenv(testdb.EnvMySQL); v != "" {
			return v
		}
		return testdb.DefaultMySQL
	}
	if v := os.Getenv(testdb.EnvPostgres); v != "" {
		return v
	}
	return testdb.DefaultPostgres
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newFixture(t *testing.T, ec engineCase) *fixture {
	t.Helper()
	target := "e2e" + randomHex(t, 4)
	prod := "prod_" + target
	// Registered first, so it runs last: after the databases it has
	// privileges on are gone.
	t.Cleanup(func() {
		db, err := sql.Open(ec.driver, testdbAdmin(ec))
		if err != nil {
			return
		}
		defer db.Close()
		if ec.name == "mysql" {
			db.Exec("DROP USER IF EXISTS '" + prod + "'@'%'")
			db.Exec("DROP USER IF EXISTS 'stg_" + target + "'@'%'")
		} else {
			db.Exec("DROP ROLE IF EXISTS " + prod)
			db.Exec("DROP ROLE IF EXISTS stg_" + target)
		}
	})
	src, srcName := ec.create(t)
	ec.load(t, src)
	stg, stgName := ec.create(t)
	f := &fixture{ec: ec, target: target, sourceDSN: src, stagingDSN: stg, control: "restage_ctl_" + randomHex(t, 4), prodLogin: prod}
	f.admin = openDB(t, ec.driver, src)
	// The production application's login: access to the source only.
	if ec.name == "mysql" {
		f.exec(t, "CREATE USER '"+prod+"'@'%' IDENTIFIED BY 'prod-pw'")
		f.exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE ON `"+srcName+"`.* TO '"+prod+"'@'%'")
	} else {
		f.exec(t, "CREATE ROLE "+prod+" LOGIN PASSWORD 'prod-pw'")
		f.exec(t, "GRANT CONNECT ON DATABASE "+srcName+" TO "+prod)
		f.exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+prod)
	}
	// The staging name must not exist before the first run.
	f.exec(t, "DROP DATABASE "+quoteID(ec, stgName))
	f.slack = newSlackServer(t)
	t.Cleanup(func() {
		// Drop whatever the runs left under this target, and the control DB.
		for _, name := range f.databases(t, "restage_"+f.target+"_") {
			f.dropDB(name)
		}
		f.dropDB(f.control)
		f.dropDB(stgName)
	})
	return f
}

func (f *fixture) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := f.admin.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) dropDB(name string) {
	q := "DROP DATABASE IF EXISTS " + quoteID(f.ec, name)
	if f.ec.name == "postgres" {
		q += " WITH (FORCE)"
	}
	f.admin.Exec(q)
}

// databases lists the server's databases whose names start with prefix.
func (f *fixture) databases(t *testing.T, prefix string) []string {
	t.Helper()
	q := "SELECT datname FROM pg_database WHERE starts_with(datname, '" + prefix + "')"
	if f.ec.name == "mysql" {
		q = "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '" + strings.ReplaceAll(prefix, "_", `\_`) + "%'"
	}
	rows, err := f.admin.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// env is the environment of a `restage run` of this fixture's target.
func (f *fixture) env(extra ...string) []string {
	return append([]string{
		"RESTAGE_MASK_KEY=" + testKey, "RESTAGE_TARGET=" + f.target, "RESTAGE_SOURCE_DSN=" + f.sourceDSN,
		"RESTAGE_STAGING_DSN=" + f.stagingDSN, "RESTAGE_CONTROL_DB=" + f.control, "RESTAGE_RULES=" + f.ec.rules,
		"RESTAGE_PRODUCTION_LOGINS=" + f.prodLogin,
	}, extra...)
}

func (f *fixture) localConfig() local.Config {
	return local.Config{Target: f.target, SourceDSN: f.sourceDSN, StagingDSN: f.stagingDSN, ControlDB: f.control, ProductionLogins: []string{f.prodLogin}}
}

func (f *fixture) runConfig(t *testing.T) refresh.Config {
	t.Helper()
	text, err := os.ReadFile(f.ec.rules)
	if err != nil {
		t.Fatal(err)
	}
	text = append(text, f.extraRules...)
	rules, err := config.ParseRules(f.ec.rules, text)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := transform.NewKey([]byte(testKey))
	return refresh.Config{Target: f.target, Rules: rules, RulesText: text, Key: key, Workers: 2, BatchSize: 500,
		Users: []refresh.StagingUser{{Name: "stg_" + f.target, Password: "stg-pw-" + f.target, Privileges: "read"}}}
}

// run runs the pipeline in-process with a hook.
func (f *fixture) run(t *testing.T, hook func(ctx context.Context, step string) error) (*refresh.Report, error) {
	t.Helper()
	prov, err := engines.NewLocal(f.localConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	n := slack.New(slack.Config{Token: "xoxb-test-token", Channel: "C1", APIURL: f.slack.URL + "/api/", Timeout: 5 * time.Second, OnSuccess: false}, slog.New(slog.DiscardHandler))
	return refresh.Run(context.Background(), f.runConfig(t), refresh.Deps{
		Provider: prov,
		OpenEngine: func(ctx context.Context, admin string) (mask.Engine, error) {
			return f.ec.open(ctx, admin)
		},
		Notifier: notifierFunc(func(ctx context.Context, no refresh.Notice) {
			ev := slack.Event{Target: no.Target, RunID: no.RunID, Step: no.Step, Class: no.Class, Detail: no.Detail, Duration: no.Duration, ExitCode: no.ExitCode}
			switch no.Kind {
			case "failure":
				n.Failure(ctx, ev)
			case "warning":
				n.Warning(ctx, ev)
			default:
				n.Success(ctx, ev)
			}
		}),
		Hook: hook,
	})
}

type notifierFunc func(ctx context.Context, n refresh.Notice)

func (f notifierFunc) Notify(ctx context.Context, n refresh.Notice) { f(ctx, n) }

// stagingDB connects to the stable staging name.
func (f *fixture) stagingDB(t *testing.T) *sql.DB {
	t.Helper()
	return openDB(t, f.ec.driver, f.stagingDSN)
}

// stagingSum is a checksum of what the staging name serves.
func (f *fixture) stagingSum(t *testing.T) string {
	t.Helper()
	s := introspect(t, f.ec, f.stagingDSN)
	db := f.stagingDB(t)
	defer db.Close()
	return checksum(t, f.ec, db, s)
}

// prodGrants renders what the production login may do, to compare before
// and after a run: restage must never alter a shared server's logins.
func (f *fixture) prodGrants(t *testing.T) string {
	t.Helper()
	q := "SELECT rolcanlogin::text || ' ' || rolsuper::text || ' ' || coalesce(rolpassword, '') || ' ' || (SELECT coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()) FROM pg_authid WHERE rolname = '" + f.prodLogin + "'"
	if f.ec.name == "mysql" {
		q = "SHOW GRANTS FOR '" + f.prodLogin + "'@'%'"
	}
	rows, err := f.admin.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func (f *fixture) sourceSum(t *testing.T) string {
	t.Helper()
	return checksum(t, f.ec, f.admin, introspect(t, f.ec, f.sourceDSN))
}

// slackServer receives slack-go's real chat.postMessage calls.
type slackServer struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []string
}

func newSlackServer(t *testing.T) *slackServer {
	s := &slackServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.msgs = append(s.msgs, form.Get("text")+"\n"+form.Get("blocks"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1.2"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackServer) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs
	s.msgs = nil
	return m
}

func maskedEmails(t *testing.T, db *sql.DB) (n, masked int) {
	t.Helper()
	rows, err := db.Query("SELECT email FROM customer")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e sql.NullString
		rows.Scan(&e)
		n++
		if strings.HasSuffix(e.String, "@example.invalid") {
			masked++
		}
	}
	return n, masked
}

func TestRunRefreshesStaging(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			f.extraRules = "\npost_mask_sql:\n  - UPDATE category SET name = 'Restaged' WHERE category_id = 1\n"
			srcBefore := f.sourceSum(t)
			grantsBefore := f.prodGrants(t)

			rep, err := f.run(t, nil)
			if err != nil {
				t.Fatalf("first run: %v\n%+v", err, rep.Steps)
			}
			if rep.Previous != nil {
				t.Errorf("first run: previous = %+v, want none", rep.Previous)
			}
			// On both engines the local provider masks while copying; the
			// report still shows drift, masking and verification.
			notes := map[string]string{}
			for _, st := range rep.Steps {
				notes[st.Step] = st.Note
			}
			if !strings.Contains(notes["restore"], "drift gate passed on the source; copied with masking") ||
				!strings.Contains(notes["mask"], "masked while copying") || !strings.Contains(notes["verify"], "every check passed") ||
				rep.Drift == nil || rep.Mask == nil || rep.Verify == nil {
				t.Errorf("first run: the report does not show the masking copy's drift gate, masking and verification: %q", notes)
			}
			db := f.stagingDB(t)
			if n, m := maskedEmails(t, db); n != 599 || m != n {
				t.Errorf("staging serves %d customers, %d masked; want 599 all masked", n, m)
			}
			db.Close()
			first := rep.New.Name

			rep, err = f.run(t, nil)
			if err != nil {
				t.Fatalf("second run: %v\n%+v", err, rep.Steps)
			}
			if rep.Previous == nil || rep.Previous.Name != first {
				t.Errorf("second run retired %+v, want %s", rep.Previous, first)
			}
			for _, name := range f.databases(t, "restage_"+f.target+"_") {
				if name == first {
					t.Errorf("the first staging DB %s is still there after the second run retired it", name)
				}
			}
			if got := f.sourceSum(t); got != srcBefore {
				t.Error("the production source changed")
			}
			if got := f.prodGrants(t); got != grantsBefore {
				t.Errorf("the production login's grants changed:\nbefore %s\nafter  %s", grantsBefore, got)
			}
			// The post-mask SQL of the rules file ran on the copy.
			var cat string
			sdb0 := f.stagingDB(t)
			if err := sdb0.QueryRow("SELECT name FROM category WHERE category_id = 1").Scan(&cat); err != nil || cat != "Restaged" {
				t.Errorf("post_mask_sql: staging category 1 is %q (err %v), want Restaged", cat, err)
			}
			// The staging user logs in and reads the staging name.
			u := withUser(t, f.stagingDSN, "stg_"+f.target, "stg-pw-"+f.target)
			udb := openDB(t, ec.driver, u)
			if n, m := maskedEmails(t, udb); n != 599 || m != n {
				t.Errorf("staging user reads %d customers (%d masked), want 599 masked", n, m)
			}
			if msgs := f.slack.take(); len(msgs) != 0 {
				t.Errorf("successful runs sent %d Slack messages, want 0 (success messages off)", len(msgs))
			}
			// The production application's login cannot read staging.
			pdb := openDB(t, ec.driver, withUser(t, f.stagingDSN, f.prodLogin, "prod-pw"))
			var n int
			if err := pdb.QueryRow("SELECT COUNT(*) FROM customer").Scan(&n); err == nil {
				t.Errorf("the production login read %d staging rows, want it shut out", n)
			}
			// ... while it still reads production.
			sdb := openDB(t, ec.driver, withUser(t, f.sourceDSN, f.prodLogin, "prod-pw"))
			if err := sdb.QueryRow("SELECT COUNT(*) FROM customer").Scan(&n); err != nil || n != 599 {
				t.Errorf("the production login reads %d production rows (err %v), want 599: restage must not touch its grants", n, err)
			}
		})
	}
}

// withUser swaps the login of a DSN.
func withUser(t *testing.T, d, user, password string) string {
	t.Helper()
	p, err := engines.ParseDSN(d)
	if err != nil {
		t.Fatal(err)
	}
	if p.Engine == dsn.Postgres {
		u, _ := url.Parse(d)
		u.User = url.UserPassword(user, password)
		return u.String()
	}
	return user + ":" + password + "@tcp(" + p.Host + ":" + p.Port + ")/" + p.Database
}

func TestRunFailsClosedAtEveryStep(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			if _, err := f.run(t, nil); err != nil {
				t.Fatalf("initial run: %v", err)
			}
			for _, step := range []string{refresh.StepRestore, refresh.StepReady, refresh.StepMask, refresh.StepVerify, refresh.StepUsers, refresh.StepSwap} {
				before := f.stagingSum(t)
				injected := errors.New("injected failure")
				rep, err := f.run(t, func(ctx context.Context, s string) error {
					if s == step {
						return injected
					}
					return nil
				})
				if !errors.Is(err, injected) || refresh.ExitCode(err) != exitcode.Failed {
					t.Fatalf("%s: err = %v (exit %d), want the injected failure, exit 1", step, err, refresh.ExitCode(err))
				}
				if got := f.stagingSum(t); got != before {
					t.Errorf("%s: staging changed after a failed run", step)
				}
				live := 0
				for _, name := range f.databases(t, "restage_"+f.target+"_") {
					if rep.New != nil && name == rep.New.Name {
						t.Errorf("%s: the failed run's DB %s was left behind", step, name)
					}
					live++
				}
				msgs := f.slack.take()
				if len(msgs) != 1 || !strings.Contains(msgs[0], step) {
					t.Errorf("%s: Slack got %d message(s) %q, want one naming the step", step, len(msgs), msgs)
				}
			}
			// A failed retire is a warning: staging serves the new copy, the
			// next run removes the old one.
			rep, err := f.run(t, func(ctx context.Context, s string) error {
				if s == refresh.StepRetire {
					return errors.New("injected retire failure")
				}
				return nil
			})
			if err != nil || len(rep.Warnings) == 0 {
				t.Fatalf("retire failure: err = %v, warnings %v; want exit 0 with a warning", err, rep.Warnings)
			}
			if msgs := f.slack.take(); len(msgs) != 1 || !strings.Contains(msgs[0], "retire") {
				t.Errorf("retire failure: Slack got %q, want one warning naming retire", msgs)
			}
			old := rep.Previous.Name
			if _, err := f.run(t, nil); err != nil {
				t.Fatalf("run after a failed retire: %v", err)
			}
			for _, name := range f.databases(t, "restage_"+f.target+"_") {
				if name == old {
					t.Errorf("the DB whose retire failed (%s) is still there after the next run", name)
				}
			}
		})
	}
}

func TestRunRefusesWhileLocked(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			// Run A blocks inside its mask step until run B has finished.
			bDone := make(chan struct{})
			var bErr error
			var bRep *refresh.Report
			aRep, aErr := f.run(t, func(ctx context.Context, s string) error {
				if s == refresh.StepMask {
					go func() {
						defer close(bDone)
						bRep, bErr = f.run(t, nil)
					}()
					<-bDone
				}
				return nil
			})
			if aErr != nil {
				t.Fatalf("run A: %v", aErr)
			}
			if !errors.Is(bErr, refresh.ErrLocked) {
				t.Fatalf("run B: err = %v, want ErrLocked", bErr)
			}
			if bRep.New != nil {
				t.Errorf("run B created %s while refusing", bRep.New.Name)
			}
			if aRep.New == nil {
				t.Fatal("run A created nothing")
			}
			db := f.stagingDB(t)
			if n, m := maskedEmails(t, db); n != 599 || m != n {
				t.Errorf("after the race staging serves %d customers (%d masked)", n, m)
			}
		})
	}
}

// TestRunSurvivesSIGKILL kills restage in the middle of masking; the next
// run removes the leftover and succeeds (the lock died with the process).
func TestRunSurvivesSIGKILL(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			env := f.env("RESTAGE_BATCH_SIZE=100", "RESTAGE_WORKERS=1")
			cmd := exec.Command(binary, "run")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			killed := false
			for sc.Scan() {
				line := sc.Text()
				if strings.Contains(line, `"step start"`) && strings.Contains(line, `"step":"mask"`) {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
					break
				}
			}
			cmd.Wait()
			if !killed {
				t.Fatal("restage never reached the mask step")
			}
			leftovers := f.databases(t, "restage_"+f.target+"_")
			if len(leftovers) == 0 {
				t.Fatal("a run killed mid-mask left nothing behind: the test proves nothing")
			}
			res := restage(t, env, "run")
			if res.code != 0 {
				t.Fatalf("rerun after SIGKILL: exit %d\n%s", res.code, res.stderr)
			}
			now := f.databases(t, "restage_"+f.target+"_")
			for _, l := range leftovers {
				for _, n := range now {
					if n == l {
						t.Errorf("leftover %s of the killed run is still there", l)
					}
				}
			}
		})
	}
}

// TestRunBadConfig: every configuration problem is reported at once, exit 2,
// nothing created; --dry-run validates, prints the steps, touches nothing.
func TestRunBadConfig(t *testing.T) {
	res := restage(t, []string{"RESTAGE_MASK_KEY=short", "RESTAGE_TARGET=Bad-Name", "RESTAGE_SOURCE_DSN=", "RESTAGE_STAGING_DSN=nonsense",
		"RESTAGE_RULES=/nonexistent/rules.yaml", "RESTAGE_WORKERS=0", "RESTAGE_STAGING_USERS=qa:admin", "RESTAGE_SLACK_TOKEN=xoxb-secret-token"}, "run")
	if res.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", res.code, res.stderr)
	}
	for _, want := range []string{"RESTAGE_MASK_KEY", "RESTAGE_SOURCE_DSN", "RESTAGE_STAGING_DSN", "RESTAGE_RULES", "RESTAGE_WORKERS", "qa", "SLACK"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not mention %s:\n%s", want, res.stderr)
		}
	}
	for _, secret := range []string{"xoxb-secret-token", "short"} {
		if strings.Contains(res.stderr, "="+secret) || strings.Contains(res.stderr, secret+"\"") {
			t.Errorf("stderr leaks %q", secret)
		}
	}
}

func TestRunDryRunAndMaxDuration(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			env := f.env()
			res := restage(t, env, "run", "--dry-run")
			if res.code != 0 || !strings.Contains(res.stderr, "nothing was changed") {
				t.Fatalf("dry run: exit %d\n%s", res.code, res.stderr)
			}
			if dbs := f.databases(t, "restage_"); len(f.databases(t, "restage_"+f.target)) != 0 || containsStr(dbs, f.control) {
				t.Errorf("dry run created databases: %v", dbs)
			}

			// A run that exceeds its maximum duration aborts, cleans up and
			// alerts.
			cfg := f.runConfig(t)
			// Long enough for restore and ready even on a loaded CI machine;
			// the hook then holds the mask step until the deadline.
			cfg.MaxDuration = 20 * time.Second
			prov, err := engines.NewLocal(f.localConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer prov.Close()
			var notices []refresh.Notice
			rep, err := refresh.Run(context.Background(), cfg, refresh.Deps{
				Provider:   prov,
				OpenEngine: func(ctx context.Context, admin string) (mask.Engine, error) { return f.ec.open(ctx, admin) },
				Notifier:   notifierFunc(func(_ context.Context, n refresh.Notice) { notices = append(notices, n) }),
				Hook: func(ctx context.Context, step string) error {
					if step == refresh.StepMask { // a mask that never ends
						<-ctx.Done()
						return ctx.Err()
					}
					return nil
				},
			})
			if err == nil || refresh.ExitCode(err) != exitcode.Failed || !strings.Contains(err.Error(), "maximum run duration") {
				t.Fatalf("err = %v (exit %d), want the maximum-duration failure, exit 1", err, refresh.ExitCode(err))
			}
			if rep.New == nil {
				t.Fatal("the run created nothing before it was aborted: the test proves nothing")
			}
			if containsStr(f.databases(t, "restage_"+f.target+"_"), rep.New.Name) {
				t.Errorf("the aborted run's DB %s was left behind", rep.New.Name)
			}
			if len(notices) != 1 || notices[0].Step != refresh.StepMask || notices[0].Class != "maximum duration exceeded" {
				t.Errorf("notices = %+v, want one naming the mask step and the class", notices)
			}
		})
	}
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRunAWSBadConfig: with RESTAGE_PROVIDER=aws every missing AWS setting
// is listed at once, exit 2, before anything reaches AWS.
func TestRunAWSBadConfig(t *testing.T) {
	res := restage(t, []string{"RESTAGE_MASK_KEY=" + testKey, "RESTAGE_PROVIDER=aws", "RESTAGE_TARGET=shop", "RESTAGE_RULES=../examples/rules/sakila-mysql.yaml"}, "run")
	if res.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", res.code, res.stderr)
	}
	for _, want := range []string{"RESTAGE_AWS_REGION", "RESTAGE_ENGINE", "RESTAGE_SOURCE_ID", "RESTAGE_SUBNET_GROUP", "RESTAGE_DNS_NAME", "RESTAGE_HOSTED_ZONE_ID", "RESTAGE_LOCK_TABLE", "RESTAGE_DB_NAME"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not name %s:\n%s", want, res.stderr)
		}
	}
}

// TestRunSIGTERMCleansUp: a run stopped with SIGTERM (ECS stopping the
// task) exits 3 after removing what it created; staging is untouched.
func TestRunSIGTERMCleansUp(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			env := f.env("RESTAGE_BATCH_SIZE=100", "RESTAGE_WORKERS=1")
			if res := restage(t, env, "run"); res.code != 0 {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			before := f.stagingSum(t)
			cmd := exec.Command(binary, "run")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if line := sc.Text(); strings.Contains(line, `"step start"`) && strings.Contains(line, `"step":"mask"`) {
					cmd.Process.Signal(syscall.SIGTERM)
					break
				}
			}
			go io.Copy(io.Discard, out)
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("after SIGTERM: %v, want exit 3", err)
			}
			if got := f.stagingSum(t); got != before {
				t.Error("staging changed after a cancelled run")
			}
			// Only the live staging DB's own name may remain (PostgreSQL renames
			// the live copy to the staging name; MySQL keeps none either).
			if left := f.databases(t, "restage_"+f.target+"_"); len(left) != 0 {
				t.Errorf("the cancelled run left %v behind", left)
			}
			// The lock was released: the next run proceeds.
			if res := restage(t, env, "run"); res.code != 0 {
				t.Fatalf("run after SIGTERM: exit %d\n%s", res.code, res.stderr)
			}
		})
	}
}
