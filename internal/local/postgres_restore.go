package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/restage/restage/internal/lifecycle"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
)

// Restore copies the source into a new database restage_<target>_<run>:
// pg_dump reads the source in one repeatable-read snapshot taking only
// ACCESS SHARE locks (production keeps reading and writing; its own DDL
// waits for the dump), and psql replays it into the new database. The DB
// is recorded as "creating" before CREATE DATABASE and marked "ready" after
// the copy. On error the returned DB (non-nil once recorded) is what the
// caller passes to Discard.
func (p *pgProvider) Restore(ctx context.Context, runID string) (*refresh.DB, error) {
	return p.restore(ctx, runID, func(ctx context.Context, name string) error { return p.dumpRestore(ctx, name) })
}

// restore creates and records the new DB and fills it with fill: the
// plain dump | load (Restore) or the masking copy (RestoreMasked).
func (p *pgProvider) restore(ctx context.Context, runID string, fill func(ctx context.Context, name string) error) (*refresh.DB, error) {
	if runID == "" {
		return nil, errors.New("restore: empty run id")
	}
	name := DBName(p.cfg.Target, runID)
	if len(name) > 63 {
		return nil, fmt.Errorf("restore: database name %s is longer than PostgreSQL's 63 bytes; use a shorter run id", name)
	}
	if err := p.ensureIdentity(ctx); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	log := p.log.With("step", "restore", "db", name, "run_id", runID)
	start := time.Now()

	create, err := p.createStatement(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := p.control(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	defer pgClose(c)
	oid, err := pgDBOID(ctx, c, name)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	if oid != 0 {
		return nil, fmt.Errorf("restore %s: a database by that name exists already; restage did not create it in this run and leaves it alone", name)
	}
	tag, err := c.Exec(ctx, "INSERT INTO "+pgControlTable+" (name, target, run_id, state) VALUES ($1, $2, $3, 'creating') ON CONFLICT (name) DO NOTHING",
		name, p.cfg.Target, runID)
	if err != nil {
		return nil, fmt.Errorf("restore %s: record in control DB: %w", name, pgScrub(err))
	}
	if tag.RowsAffected() == 0 {
		return nil, fmt.Errorf("restore %s: the control DB records it already (run id reused?)", name)
	}
	db := p.dbFor(name, runID)

	if _, err := c.Exec(ctx, create); err != nil {
		return db, fmt.Errorf("restore %s: create database: %w", name, pgScrub(err))
	}
	if err := pgMark(ctx, c, name, marker{Target: p.cfg.Target, Run: runID, Name: name, Role: "copy"}); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	if oid, err = pgDBOID(ctx, c, name); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	if _, err := c.Exec(ctx, "UPDATE "+pgControlTable+" SET db_oid = $2, updated_at = clock_timestamp() WHERE name = $1", name, oid); err != nil {
		return db, fmt.Errorf("restore %s: record in control DB: %w", name, pgScrub(err))
	}
	// Until Users grants access, only the admin (its owner) and superusers
	// may connect: the copy is not masked yet.
	if err := postgres.NewAdmin(c).Restrict(ctx, name); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	log.Info("created database; copying the source", "source", p.src.Target())

	if err := fill(ctx, name); err != nil {
		return db, fmt.Errorf("restore %s from %s: %w", name, p.src.Target(), err)
	}
	if err := pgSetState(ctx, c, name, string(lifecycle.Ready)); err != nil {
		return db, fmt.Errorf("restore %s: mark ready: %w", name, err)
	}
	log.Info("restored", "duration", time.Since(start).Round(time.Millisecond).String())
	return db, nil
}

// createStatement builds CREATE DATABASE for the new DB with the source's
// encoding and collation (pg_dump without --create carries neither). The
// new DB is owned by the admin login that creates it.
func (p *pgProvider) createStatement(ctx context.Context, name string) (string, error) {
	s, err := p.connectSource(ctx)
	if err != nil {
		return "", fmt.Errorf("restore %s: connect to source %s: %w", name, p.src.Target(), err)
	}
	defer pgClose(s)
	create, err := postgres.CreateDatabaseSQL(ctx, s, name)
	if err != nil {
		return "", fmt.Errorf("restore %s: %w", name, err)
	}
	return create, nil
}

// pgDumpArgs: a plain SQL dump without owners, grants, subscriptions (a
// copied subscription would start replicating from production's
// publisher), publications, tablespaces (the staging server may not have
// them) or security labels.
var pgDumpArgs = []string{
	"--format=plain", "--no-owner", "--no-privileges", "--no-subscriptions",
	"--no-publications", "--no-tablespaces", "--no-security-labels",
}

// dumpRestore pipes pg_dump of the source into psql on database name;
// extra are more pg_dump arguments (a section, a snapshot).
// Passwords travel in PGPASSWORD, never in argv.
func (p *pgProvider) dumpRestore(ctx context.Context, name string, extra ...string) error {
	srcEnv, err := pgToolEnv(p.cfg.SourceDSN, "")
	if err != nil {
		return fmt.Errorf("source DSN: %w", err)
	}
	stgEnv, err := pgToolEnv(p.cfg.StagingDSN, name)
	if err != nil {
		return fmt.Errorf("staging DSN: %w", err)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dump := exec.CommandContext(ctx, "pg_dump", append(append([]string{}, pgDumpArgs...), extra...)...)
	dump.Env = srcEnv
	load := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1")
	load.Env = stgEnv
	dumpErr, loadErr := &pgTail{}, &pgTail{}
	dump.Stderr, load.Stderr = dumpErr, loadErr
	load.Stdout = nil // psql echoes set_config results; discard them

	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	dump.Stdout, load.Stdin = pw, pr
	if err := load.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("start psql (is the PostgreSQL client installed?): %w", err)
	}
	if err := dump.Start(); err != nil {
		pr.Close()
		pw.Close()
		cancel()
		_ = load.Wait()
		return fmt.Errorf("start pg_dump (is the PostgreSQL client installed?): %w", err)
	}
	// The children hold their ends now.
	pr.Close()
	pw.Close()
	errDump := dump.Wait()
	if errDump != nil {
		// Don't let psql commit half a dump's worth of work to a wait.
		cancel()
	}
	errLoad := load.Wait()
	switch {
	case (errDump != nil || errLoad != nil) && parent.Err() != nil:
		return fmt.Errorf("copy stopped: %w", parent.Err())
	case errLoad != nil && loadErr.summary(true) != pgNoMessage:
		// psql stopped at an error; pg_dump then failed on a broken pipe.
		return fmt.Errorf("psql: %v: %s", errLoad, loadErr.summary(true))
	case errDump != nil:
		return fmt.Errorf("pg_dump: %v: %s", errDump, dumpErr.summary(false))
	case errLoad != nil:
		// psql's messages can quote row values (COPY input lines): data
		// errors are scrubbed.
		return fmt.Errorf("psql: %v: %s", errLoad, loadErr.summary(true))
	}
	return nil
}

// pgToolEnv is the environment for a libpq client tool connecting as the
// DSN says (to database db, if not empty): inherited PG* variables are
// dropped except PGPASSFILE, and the DSN's parts go into PG* variables, the
// password into PGPASSWORD.
func pgToolEnv(dsnURL, db string) ([]string, error) {
	u, err := url.Parse(dsnURL)
	if err != nil {
		return nil, errors.New("not a valid URL (details withheld)")
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "PGPASSFILE=") {
			continue
		}
		env = append(env, kv)
	}
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	if db == "" {
		db = strings.TrimPrefix(u.Path, "/")
	}
	q := u.Query()
	host := u.Hostname()
	if h := q.Get("host"); h != "" {
		host = h
	}
	set("PGHOST", host)
	port := u.Port()
	if pp := q.Get("port"); pp != "" {
		port = pp
	}
	set("PGPORT", port)
	set("PGDATABASE", db)
	if u.User != nil {
		set("PGUSER", u.User.Username())
		pw, _ := u.User.Password()
		set("PGPASSWORD", pw)
	}
	if v := q.Get("user"); v != "" {
		set("PGUSER", v)
	}
	if v := q.Get("password"); v != "" {
		set("PGPASSWORD", v)
	}
	for param, v := range map[string]string{
		"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
		"sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL", "connect_timeout": "PGCONNECT_TIMEOUT",
		"target_session_attrs": "PGTARGETSESSIONATTRS",
	} {
		set(v, q.Get(param))
	}
	set("PGAPPNAME", "restage")
	if q.Get("connect_timeout") == "" {
		set("PGCONNECT_TIMEOUT", "30")
	}
	return env, nil
}

// pgTail keeps the first 64 KiB a tool writes to stderr.
type pgTail struct{ b bytes.Buffer }

func (t *pgTail) Write(b []byte) (int, error) {
	if room := 64<<10 - t.b.Len(); room > 0 {
		t.b.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// summary returns the tool's error lines (at most three): DETAIL, CONTEXT
// and the like are left out since they can quote data; with scrub, quoted
// parts of the error lines are replaced by "…" too.
func (t *pgTail) summary(scrub bool) string {
	var out []string
	for _, line := range strings.Split(t.b.String(), "\n") {
		l := strings.TrimSpace(line)
		if !strings.Contains(l, "ERROR:") && !strings.Contains(l, "FATAL:") && !strings.Contains(l, "error:") {
			continue
		}
		if scrub {
			l = pgScrubQuoted(l)
		}
		if len(l) > 300 {
			l = l[:300] + "…"
		}
		out = append(out, l)
		if len(out) == 3 {
			break
		}
	}
	if len(out) == 0 {
		return pgNoMessage
	}
	return strings.Join(out, "; ")
}

const pgNoMessage = "no error message"

// pgLiteral quotes s as an SQL string literal.
func pgLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
