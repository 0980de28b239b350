package awsprov

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/ddblock/ddbfake"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/mask"
	imysql "github.com/restage/restage/internal/mysql"
	ipostgres "github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/route53"
	"github.com/restage/restage/internal/route53/route53fake"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/transform"
)

const (
	testKey     = "awsprov-end-to-end-test-key-0123456789abcdef"
	target      = "shop"
	sourceID    = "prod-shop"
	record      = "shop.staging.example.test"
	zoneID      = "ZTESTZONE"
	dbName      = "sakila"
	prodLogin   = "prod_app"
	prodPass    = "prod-app-pw"
	stagingUser = "stg_app"
	stagingPass = "stg-app-pw-0123"
)

var errInjected = errors.New("injected failure")

// loadSources creates the Sakila "production" databases on the shared
// test servers, copied into every fake restored DB.
func loadSources(t *testing.T) map[string]string {
	t.Helper()
	my, _ := testdb.MySQL(t)
	testdb.LoadSakilaMySQL(t, my)
	pg, _ := testdb.Postgres(t)
	testdb.LoadSakilaPostgres(t, pg)
	return map[string]string{"mysql": my, "postgres": pg}
}

type engineCase struct {
	engine rds.Engine
	mode   string // master password mode
	rules  string
}

var engineCases = []engineCase{
	{rds.AuroraMySQL, PasswordManaged, "../../examples/rules/sakila-mysql.yaml"},
	{rds.AuroraPostgreSQL, PasswordManaged, "../../examples/rules/sakila-postgres.yaml"},
	{rds.MySQL, PasswordRandom, "../../examples/rules/sakila-mysql.yaml"},
	// RDS PostgreSQL and MariaDB instances: the same code, configuration only.
	{rds.Postgres, PasswordRandom, "../../examples/rules/sakila-postgres.yaml"},
	{rds.MariaDB, PasswordManaged, "../../examples/rules/sakila-mysql.yaml"},
}

// env is one target on fake AWS: RDS with a production source and its
// snapshot, a hosted zone, a lock table; every restored DB a real server.
type env struct {
	t     *testing.T
	ec    engineCase
	rf    *rdsfake.Fake
	zone  *route53fake.Zone
	locks *ddbfake.Table
	clock atomic.Int64

	lease time.Duration // lock lease (0: default)
	logs  lockedBuffer
	// adopt and finalSnapshot configure the next provider;
	// notifier receives the pipeline's notices (nil: none).
	adopt         string
	finalSnapshot bool
	notifier      refresh.Notifier
	preserve      []refresh.PreserveSpec
	// rdsConfig, if set, changes the next provider's RDS configuration
	// (source mode, masking size).
	rdsConfig func(*rds.Config)
	// onDNSChange is called before every change of the staging record.
	onDNSChange func()

	mu        sync.Mutex
	instances map[string]*testdb.Instance
	hookErrs  []error
}

// lockedBuffer collects the log of every run, to check no secret is in it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if testing.Verbose() {
		os.Stderr.Write(p)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (ec engineCase) family() string { return ec.engine.Family() }

func newEnv(t *testing.T, ec engineCase, src string) *env {
	t.Helper()
	e := &env{t: t, ec: ec, rf: rdsfake.New(), zone: route53fake.New(zoneID, 1),
		locks: ddbfake.New("restage-locks", ddblock.AttrTarget), instances: map[string]*testdb.Instance{}}
	e.clock.Store(time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC).Unix())
	port := int32(3306)
	if ec.family() == "postgres" {
		port = 5432
	}
	created := aws.Time(time.Now().Add(-time.Hour))
	prodTags := []types.Tag{{Key: aws.String("env"), Value: aws.String("production")}}
	if ec.engine.Aurora() {
		e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(sourceID), Engine: aws.String(string(ec.engine)),
			Endpoint: aws.String(sourceID + ".cluster-prod.us-east-1.rds.amazonaws.com"), Port: aws.Int32(port),
			MasterUsername: aws.String("restage_admin"), TagList: prodTags, LatestRestorableTime: created})
		e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(sourceID + "-1"), DBClusterIdentifier: aws.String(sourceID),
			Engine: aws.String(string(ec.engine)), TagList: prodTags})
		e.rf.AddClusterSnapshot(types.DBClusterSnapshot{DBClusterSnapshotIdentifier: aws.String("rds:prod-shop-2026-11-25-02-00"),
			DBClusterIdentifier: aws.String(sourceID), Engine: aws.String(string(ec.engine)), EngineVersion: aws.String("8.0"),
			SnapshotType: aws.String("automated"), Status: aws.String("available"), SnapshotCreateTime: created,
			MasterUsername: aws.String("restage_admin"), Port: aws.Int32(port), TagList: prodTags})
	} else {
		e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(sourceID), Engine: aws.String(string(ec.engine)),
			Endpoint:       &types.Endpoint{Address: aws.String(sourceID + ".prod.us-east-1.rds.amazonaws.com"), Port: aws.Int32(port)},
			MasterUsername: aws.String("restage_admin"), TagList: prodTags, LatestRestorableTime: created})
		e.rf.AddDBSnapshot(types.DBSnapshot{DBSnapshotIdentifier: aws.String("rds:prod-shop-2026-11-25-02-00"),
			DBInstanceIdentifier: aws.String(sourceID), Engine: aws.String(string(ec.engine)), EngineVersion: aws.String("8.0"),
			SnapshotType: aws.String("automated"), Status: aws.String("available"), SnapshotCreateTime: created,
			MasterUsername: aws.String("restage_admin"), Port: aws.Int32(port), TagList: prodTags})
	}
	// A restored DB "becomes available": a real private server holding
	// production's data and production's application login.
	e.rf.OnAvailable = func(id string) (string, int32) {
		var inst *testdb.Instance
		if ec.family() == "mysql" {
			inst = testdb.StartMariaDB(t)
		} else {
			inst = testdb.StartPostgres(t)
		}
		inst.Load(t, src, dbName)
		inst.AddLogin(t, prodLogin, prodPass, dbName)
		e.mu.Lock()
		e.instances[id] = inst
		e.mu.Unlock()
		return id + ".cfake.us-east-1.rds.test", int32(inst.Port)
	}
	// A new master password takes effect on the real server.
	e.rf.OnPassword = func(id, password string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		inst := e.instances[id]
		if inst == nil {
			e.hookErrs = append(e.hookErrs, fmt.Errorf("password for %s: no server", id))
			return
		}
		if err := setAdminPassword(inst, password); err != nil {
			e.hookErrs = append(e.hookErrs, fmt.Errorf("password for %s: %v", id, err))
			return
		}
		inst.AdminPassword = password
	}
	return e
}

func setAdminPassword(inst *testdb.Instance, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	driver, q := "mysql", "ALTER USER '"+inst.AdminUser+"'@'%' IDENTIFIED BY '"+password+"'"
	if inst.Engine == testdb.EnginePostgres {
		driver, q = "pgx", `ALTER ROLE "`+inst.AdminUser+`" PASSWORD '`+password+"'"
	}
	db, err := sql.Open(driver, inst.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, q)
	return err
}

func clusterParams(e rds.Engine) string {
	if e.Aurora() {
		return "restage-cluster-params"
	}
	return ""
}

func (e *env) instance(id string) *testdb.Instance {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.instances[id]
}

func (e *env) provider(t *testing.T) *Provider {
	t.Helper()
	log := slog.New(slog.NewTextHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rcfg := rds.Config{Target: target, Engine: e.ec.engine, SourceID: sourceID, SubnetGroup: "staging",
		QuarantineSecurityGroupIDs: []string{"sg-0quarantine"}, SecurityGroupIDs: []string{"sg-0staging"},
		DBParameterGroup: "restage-params", ClusterParameterGroup: clusterParams(e.ec.engine),
		InstanceClass: "db.t4g.medium", BackupRetention: 3,
		WaitTimeout: time.Minute, PollInterval: 2 * time.Millisecond, Adopt: e.adopt}
	if e.rdsConfig != nil {
		e.rdsConfig(&rcfg)
		if err := rcfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	rdsc := rds.New(e.rf, rcfg, log)
	var zone route53.API = e.zone
	if e.onDNSChange != nil {
		zone = &watchedZone{Zone: e.zone, onChange: e.onDNSChange}
	}
	dns := route53.New(zone, route53.Config{ZoneID: zoneID, Name: record, TTL: 1, PollInterval: 2 * time.Millisecond, Backoff: time.Millisecond}, log)
	lock := ddblock.New(e.locks, ddblock.Config{Table: "restage-locks", Lease: e.lease}, log)
	p, err := New(Config{Target: target, Engine: string(e.ec.engine), DBName: dbName, MasterPasswordMode: e.ec.mode,
		DNSName: record, TLS: TLSOff, ReadyTimeout: 30 * time.Second, Adopt: e.adopt, FinalSnapshot: e.finalSnapshot,
		PreserveUser: stagingUser, PreservePassword: stagingPass,
		Resolve: func(string) string { return "127.0.0.1" },
		Now: func() time.Time {
			return time.Unix(e.clock.Add(60), 0)
		}}, rdsc, dns, lock, &FakeSecrets{Lookup: e.rf.Secret}, log)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) run(t *testing.T, hook func(ctx context.Context, step string) error) (*refresh.Report, error) {
	t.Helper()
	p := e.provider(t)
	defer p.Close()
	cfg := runConfig(t, e.ec, "")
	cfg.Preserve = e.preserve
	return refresh.Run(context.Background(), cfg, refresh.Deps{
		Provider:   p,
		OpenEngine: opener(e.ec.family()),
		Log:        slog.New(slog.NewTextHandler(&e.logs, nil)),
		Hook:       hook,
		Notifier:   e.notifier,
	})
}

func runConfig(t *testing.T, ec engineCase, runID string) refresh.Config {
	t.Helper()
	text, err := os.ReadFile(ec.rules)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.ParseRules(ec.rules, text)
	if err != nil {
		t.Fatal(err)
	}
	key, err := transform.NewKey([]byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	return refresh.Config{Target: target, RunID: runID, Rules: rules, RulesText: text, Key: key, Workers: 2, BatchSize: 500,
		CleanupTimeout: time.Minute,
		Users:          []refresh.StagingUser{{Name: stagingUser, Password: stagingPass, Privileges: "read"}}}
}

func opener(family string) func(ctx context.Context, dsn string) (mask.Engine, error) {
	return func(ctx context.Context, dsn string) (mask.Engine, error) {
		if family == "mysql" {
			return imysql.Open(ctx, dsn)
		}
		return ipostgres.Open(ctx, dsn)
	}
}

func failAt(step string) func(ctx context.Context, s string) error {
	return func(_ context.Context, s string) error {
		if s == step {
			return errInjected
		}
		return nil
	}
}

// cname is the staging record's value ("" if none).
func (e *env) cname() string {
	v, _, ok := e.zone.CNAME(record)
	if !ok {
		return ""
	}
	return strings.TrimSuffix(v, ".")
}

// exists reports whether the fake still has the DB.
func (e *env) exists(id string) bool {
	if e.ec.engine.Aurora() {
		_, ok := e.rf.Cluster(id)
		return ok
	}
	_, ok := e.rf.Instance(id)
	return ok
}

func (e *env) deleted(id string) bool {
	op := "DeleteDBInstance"
	if e.ec.engine.Aurora() {
		op = "DeleteDBCluster"
	}
	for _, c := range e.rf.CallsTo(id) {
		if c.Op == op && c.Err == nil {
			return true
		}
	}
	return false
}

// checkServed checks what the DB behind the record serves: masked data,
// readable by the staging user; production's login locked out.
func (e *env) checkServed(t *testing.T, id string) {
	t.Helper()
	inst := e.instance(id)
	if inst == nil {
		t.Fatalf("no server for %s", id)
	}
	driver := "mysql"
	if inst.Engine == testdb.EnginePostgres {
		driver = "pgx"
	}
	open := func(user, pw string) *sql.DB {
		db, err := sql.Open(driver, inst.UserDSN(user, pw, dbName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n, masked int
	if err := open(stagingUser, stagingPass).QueryRowContext(ctx,
		"SELECT COUNT(*), COUNT(CASE WHEN email LIKE '%@example.invalid' THEN 1 END) FROM customer").Scan(&n, &masked); err != nil {
		t.Fatalf("staging user reads customer: %v", err)
	}
	if n != 599 || masked != n {
		t.Errorf("staging serves %d customers, %d masked; want 599 all masked", n, masked)
	}
	if err := open(prodLogin, prodPass).PingContext(ctx); err == nil {
		t.Errorf("inherited production login %s can still log in", prodLogin)
	}
	if err := open(stagingUser, stagingPass).QueryRowContext(ctx, "SELECT COUNT(*) FROM staff").Scan(&n); err != nil {
		t.Errorf("staging user reads staff: %v", err)
	}
}

// checkProductionUntouched: no mutating call named the source.
func (e *env) checkProductionUntouched(t *testing.T) {
	t.Helper()
	for _, c := range e.rf.Calls() {
		if c.Mutating() && (c.ID == sourceID || strings.HasPrefix(c.ID, sourceID+"-") || strings.HasPrefix(c.ID, "rds:"+sourceID)) {
			t.Errorf("mutating call %s on the production source %s", c.Op, c.ID)
		}
	}
}

// checkHooks reports the fake's hook errors and any master or staging
// password found in the logs.
func (e *env) checkHooks(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.hookErrs {
		t.Error(err)
	}
	logs := e.logs.String()
	secrets := []string{stagingPass, prodPass}
	for _, inst := range e.instances {
		secrets = append(secrets, inst.AdminPassword)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a password is in the logs")
		}
	}
}

func TestAWS(t *testing.T) {
	srcs := loadSources(t)
	for _, ec := range engineCases {
		t.Run(string(ec.engine), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ec, srcs[ec.family()])
			defer e.checkHooks(t)
			defer e.checkProductionUntouched(t)

			// A failure before anything exists: nothing created, no record.
			rep, err := e.run(t, failAt(refresh.StepRestore))
			if !errors.Is(err, errInjected) || refresh.ExitCode(err) != exitcode.Failed || rep.New != nil {
				t.Fatalf("failure at restore: err %v, exit %d, new %+v", err, refresh.ExitCode(err), rep.New)
			}
			if e.cname() != "" {
				t.Fatalf("record created by a failed run: %q", e.cname())
			}

			// First run.
			rep, err = e.run(t, nil)
			if err != nil {
				t.Fatalf("first run: %v\n%+v", err, rep.Steps)
			}
			first := rep.New.Name
			if rep.Previous != nil {
				t.Errorf("first run: previous %+v, want none", rep.Previous)
			}
			if !strings.HasPrefix(first, "restage-shop-") || !e.exists(first) {
				t.Fatalf("first run created %q (exists %t)", first, e.exists(first))
			}
			if want := first + ".cfake.us-east-1.rds.test"; e.cname() != want {
				t.Fatalf("record = %q, want %q", e.cname(), want)
			}
			e.checkServed(t, first)

			// Failures after the restore: the new DB goes, the record stays.
			for _, step := range []string{refresh.StepMask, refresh.StepSwap} {
				rep, err = e.run(t, failAt(step))
				if !errors.Is(err, errInjected) || refresh.ExitCode(err) != exitcode.Failed || rep.New == nil {
					t.Fatalf("failure at %s: err %v, exit %d", step, err, refresh.ExitCode(err))
				}
				if e.exists(rep.New.Name) || !e.deleted(rep.New.Name) {
					t.Errorf("failure at %s: the run's DB %s was not deleted", step, rep.New.Name)
				}
				if want := first + ".cfake.us-east-1.rds.test"; e.cname() != want {
					t.Fatalf("failure at %s: record = %q, want %q", step, e.cname(), want)
				}
			}
			if ec.engine == rds.AuroraPostgreSQL {
				// Route53 accepts the UPSERT, then the wait fails: the
				// record is switched back to the first DB.
				e.zone.Inject(route53fake.OpGet, route53fake.AccessDenied(route53fake.OpGet))
				rep, err = e.run(t, nil)
				if !errors.Is(err, route53.ErrSubmitted) || refresh.ExitCode(err) != exitcode.Failed || rep.New == nil {
					t.Fatalf("failed DNS wait: err %v, exit %d", err, refresh.ExitCode(err))
				}
				if !strings.Contains(err.Error(), "switched back") {
					t.Errorf("failed DNS wait: %v, want a switch back", err)
				}
				if e.exists(rep.New.Name) {
					t.Errorf("failed DNS wait: the run's DB %s was not deleted", rep.New.Name)
				}
				if want := first + ".cfake.us-east-1.rds.test"; e.cname() != want {
					t.Fatalf("failed DNS wait: record = %q, want %q", e.cname(), want)
				}
			}

			// Second run retires the first.
			rep, err = e.run(t, nil)
			if err != nil {
				t.Fatalf("second run: %v\n%+v", err, rep.Steps)
			}
			if rep.Previous == nil || rep.Previous.Name != first {
				t.Fatalf("second run: previous %+v, want %s", rep.Previous, first)
			}
			second := rep.New.Name
			if len(rep.Warnings) > 0 {
				t.Errorf("second run warnings: %v", rep.Warnings)
			}
			if !e.deleted(first) || e.exists(first) {
				t.Errorf("first DB %s not retired", first)
			}
			if want := second + ".cfake.us-east-1.rds.test"; e.cname() != want {
				t.Fatalf("record = %q, want %q", e.cname(), want)
			}
			e.checkServed(t, second)
		})
	}
}

// TestAWSRace: two runs of one target at once; exactly one gets past the
// lock. No DB is restored (the winner stops at the restore step).
func TestAWSRace(t *testing.T) {
	e := newEnv(t, engineCases[0], "unused")
	e.rf.OnAvailable = nil
	var arrived sync.WaitGroup
	arrived.Add(2)
	loserDone := make(chan struct{})
	var restored atomic.Int32
	hook := func(ctx context.Context, step string) error {
		switch step {
		case refresh.StepPrepare:
			arrived.Done()
			arrived.Wait() // both take the lock at the same moment
		case refresh.StepRestore:
			restored.Add(1)
			select {
			case <-loserDone:
			case <-time.After(30 * time.Second):
				return errors.New("the other run did not end")
			}
			return errInjected
		}
		return nil
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := e.provider(t)
			_, errs[i] = refresh.Run(context.Background(), runConfig(t, e.ec, fmt.Sprintf("20261125030000_000%d", i)), refresh.Deps{
				Provider: p, OpenEngine: opener("mysql"), Hook: hook,
				Log: slog.New(slog.NewTextHandler(&e.logs, nil)),
			})
			if errors.Is(errs[i], refresh.ErrLocked) {
				close(loserDone)
			}
		}()
	}
	wg.Wait()
	locked, injected := 0, 0
	for _, err := range errs {
		var se *refresh.StepError
		switch {
		case errors.Is(err, refresh.ErrLocked) && errors.As(err, &se) && se.Step == refresh.StepPrepare:
			locked++
		case errors.Is(err, errInjected):
			injected++
		default:
			t.Errorf("unexpected result: %v", err)
		}
	}
	if locked != 1 || injected != 1 || restored.Load() != 1 {
		t.Errorf("%d locked out, %d proceeded (%d reached restore); want exactly one each", locked, injected, restored.Load())
	}
	if _, ok := e.locks.Get(target); ok {
		t.Errorf("lock item left after both runs ended")
	}
	e.checkProductionUntouched(t)
}

// TestAWSSweep: leftovers of killed runs go; the live DB, other targets'
// DBs and the source stay.
func TestAWSSweep(t *testing.T) {
	e := newEnv(t, engineCases[2], "unused")
	tags := func(tgt, run, state string) []types.Tag {
		return []types.Tag{{Key: aws.String(rds.TagManaged), Value: aws.String("true")}, {Key: aws.String(rds.TagTarget), Value: aws.String(tgt)},
			{Key: aws.String(rds.TagRun), Value: aws.String(run)}, {Key: aws.String(rds.TagState), Value: aws.String(state)}}
	}
	add := func(id, tgt, run, state string) {
		e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id), Engine: aws.String("mysql"),
			Endpoint:       &types.Endpoint{Address: aws.String(id + ".cfake.us-east-1.rds.test"), Port: aws.Int32(3306)},
			MasterUsername: aws.String("admin"), TagList: tags(tgt, run, state)})
	}
	add("restage-shop-202611240300", target, "r1", "live")
	add("restage-shop-202611240400", target, "r2", "provisioning") // killed run
	add("restage-shop-202611230300", target, "r0", "retiring")     // failed retire
	add("restage-other-202611240300", "other", "r9", "provisioning")
	e.zone.PutCNAME(record, "restage-shop-202611240300.cfake.us-east-1.rds.test", 1)

	p := e.provider(t)
	release, err := p.Lock(context.Background(), "run-sweep")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	swept, err := p.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(swept, ",") != "restage-shop-202611230300,restage-shop-202611240400" &&
		strings.Join(swept, ",") != "restage-shop-202611240400,restage-shop-202611230300" {
		t.Errorf("swept %v", swept)
	}
	for id, want := range map[string]bool{"restage-shop-202611240300": true, "restage-shop-202611240400": false,
		"restage-shop-202611230300": false, "restage-other-202611240300": true, sourceID: true} {
		if got := e.exists(id); got != want {
			t.Errorf("%s exists = %t, want %t", id, got, want)
		}
	}
	e.checkProductionUntouched(t)

	// Retire refuses a DB restage did not create (and did not adopt).
	if err := p.Retire(context.Background(), &refresh.DB{Name: sourceID, Engine: "mysql"}); !errors.Is(err, refresh.ErrNotOurs) {
		t.Errorf("retire source: %v, want ErrNotOurs", err)
	}
	// Discard is idempotent.
	db := &refresh.DB{Name: "restage-shop-202611240300", RunID: "r1", Engine: "mysql"}
	for range 2 {
		if err := p.Discard(context.Background(), db); err != nil {
			t.Fatalf("discard: %v", err)
		}
	}
	e.checkProductionUntouched(t)
}

// TestAWSLeaseLost: a run whose lease was taken over does not switch.
func TestAWSLeaseLost(t *testing.T) {
	e := newEnv(t, engineCases[2], "unused")
	e.lease = 300 * time.Millisecond
	p := e.provider(t)
	release, err := p.Lock(context.Background(), "run-a")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	item, _ := e.locks.Get(target)
	item[ddblock.AttrOwner] = &ddbtypes.AttributeValueMemberS{Value: "run-b"}
	e.locks.Put(item)
	time.Sleep(500 * time.Millisecond) // a renewal finds run-b's item
	_, err = p.Switch(context.Background(), &refresh.DB{Name: "restage-shop-202611250300", Engine: "mysql"})
	if err == nil || !strings.Contains(err.Error(), "lease was lost") {
		t.Fatalf("switch after a lost lease: %v", err)
	}
	if len(e.zone.Calls()) != 0 {
		t.Errorf("Route53 called: %v", e.zone.Calls())
	}
}

func TestConfigValidate(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not read by Validate"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := Config{Target: target, Engine: "aurora-mysql", DBName: "shop", TLSCAFile: ca}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{Engine: "oracle", DBName: "a/b", MasterPasswordMode: "plain", TLS: "verify", ReadyTimeout: -1}
	err := bad.Validate()
	for _, want := range []string{"target", "engine", "database name", "master password mode", "CA bundle", "ready timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v; want a problem with %s", err, want)
		}
	}
	// Verification is the default: no CA bundle, no run — unless the
	// opt-out is explicit.
	noCA := good
	noCA.TLSCAFile = ""
	if err := noCA.Validate(); err == nil || !strings.Contains(err.Error(), "RESTAGE_TLS_INSECURE_SKIP_VERIFY") {
		t.Errorf("no CA bundle: %v, want a problem naming the opt-out", err)
	}
	if noCA.TLS = TLSOn; noCA.Validate() != nil {
		t.Errorf("explicit opt-out refused: %v", noCA.Validate())
	}
	if _, err := New(good, nil, nil, nil, nil, nil); err == nil {
		t.Error("New without clients succeeded")
	}
}

func TestRandomPassword(t *testing.T) {
	a, err := randomPassword()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := randomPassword()
	if len(a) != 32 || a == b || strings.Trim(a, pwAlphabet) != "" {
		t.Errorf("passwords %d chars, distinct %t", len(a), a != b)
	}
}
