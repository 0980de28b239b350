package localserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/postgres"
)

// Create creates database name with the source's encoding and collation
// (pg_dump without --create carries neither), owned by the admin login,
// marked as runID's copy, its OID recorded; until Users grants access,
// only the admin (its owner) and superusers may connect: the copy is not
// masked yet.
func (p *pgServer) Create(ctx context.Context, name, runID string) error {
	create, err := p.createStatement(ctx, name)
	if err != nil {
		return err
	}
	return p.withControl(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, create); err != nil {
			return fmt.Errorf("create database: %w", pgScrub(err))
		}
		if err := pgMark(ctx, c, name, local.Marker{Target: p.cfg.Target, Run: runID, Name: name, Role: "copy"}); err != nil {
			return err
		}
		oid, err := pgDBOID(ctx, c, name)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "UPDATE "+pgControlTable+" SET db_oid = $2, updated_at = clock_timestamp() WHERE name = $1", name, oid); err != nil {
			return fmt.Errorf("record in control DB: %w", pgScrub(err))
		}
		return postgres.NewAdmin(c).Restrict(ctx, name)
	})
}

// Copy pipes pg_dump of the source into psql on database name: pg_dump
// reads the source in one repeatable-read snapshot taking only ACCESS
// SHARE locks (production keeps reading and writing; its own DDL waits
// for the dump).
func (p *pgServer) Copy(ctx context.Context, name string) error {
	if err := p.dumpRestore(ctx, name); err != nil {
		return fmt.Errorf("copy from %s: %w", p.src.Target(), err)
	}
	return nil
}

// createStatement builds CREATE DATABASE for the new DB with the source's
// encoding and collation (pg_dump without --create carries neither). The
// new DB is owned by the admin login that creates it.
func (p *pgServer) createStatement(ctx context.Context, name string) (string, error) {
	s, err := p.connectSource(ctx)
	if err != nil {
		return "", fmt.Errorf("connect to source %s: %w", p.src.Target(), err)
	}
	defer pgClose(s)
	create, err := postgres.CreateDatabaseSQL(ctx, s, name)
	if err != nil {
		return "", err
	}
	return create, nil
}

// dumpRestore pipes pg_dump of the source into psql on database name;
// extra are more pg_dump arguments (a section, a snapshot).
// Passwords travel in PGPASSWORD, never in argv.
func (p *pgServer) dumpRestore(ctx context.Context, name string, extra ...string) error {
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
