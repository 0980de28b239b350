package local

import (
	"context"
	"errors"
	"fmt"
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

// dumpRestore pipes pg_dump of the source into psql on database name;
// extra are more pg_dump arguments (a section, a snapshot).
// Passwords travel in PGPASSWORD, never in argv.
func (p *pgProvider) dumpRestore(ctx context.Context, name string, extra ...string) error {
	srcEnv, err := postgres.ToolEnv(p.cfg.SourceDSN, "")
	if err != nil {
		return fmt.Errorf("source DSN: %w", err)
	}
	stgEnv, err := postgres.ToolEnv(p.cfg.StagingDSN, name)
	if err != nil {
		return fmt.Errorf("staging DSN: %w", err)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dump := exec.CommandContext(ctx, "pg_dump", postgres.DumpArgs(extra...)...)
	dump.Env = srcEnv
	load := exec.CommandContext(ctx, "psql", postgres.LoadArgs()...)
	load.Env = stgEnv
	dumpErr, loadErr := &postgres.ToolStderr{}, &postgres.ToolStderr{}
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
	case errLoad != nil && loadErr.Summary(true) != postgres.NoMessage:
		// psql stopped at an error; pg_dump then failed on a broken pipe.
		return fmt.Errorf("psql: %v: %s", errLoad, loadErr.Summary(true))
	case errDump != nil:
		return fmt.Errorf("pg_dump: %v: %s", errDump, dumpErr.Summary(false))
	case errLoad != nil:
		// psql's messages can quote row values (COPY input lines): data
		// errors are scrubbed.
		return fmt.Errorf("psql: %v: %s", errLoad, loadErr.Summary(true))
	}
	return nil
}

// pgLiteral quotes s as an SQL string literal.
func pgLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
