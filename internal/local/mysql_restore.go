package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

var myRunIDRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// Restore records restage_<target>_<run> as "creating", creates it with
// the source's character set and copies the source into it:
//
//	mariadb-dump --single-transaction … source | rewrite | mariadb new
//
// The dump reads every InnoDB table inside one START TRANSACTION WITH
// CONSISTENT SNAPSHOT and takes no lock that blocks writers: no FLUSH
// TABLES WITH READ LOCK (that needs --master-data, --dump-slave,
// --flush-logs or --lock-all-tables, none given), no LOCK TABLES
// (--skip-lock-tables). Only metadata locks are held, which block DDL on
// production while a table is read, never reads or writes. Non-InnoDB
// tables (MyISAM) are copied as they are read, without a snapshot.
func (p *mysqlProvider) Restore(ctx context.Context, runID string) (*refresh.DB, error) {
	return p.restore(ctx, runID, p.copySchema)
}

// restore is Restore with the copy into the created database left to
// fill (the plain copy, or the masking copy of mysql_stream.go).
func (p *mysqlProvider) restore(ctx context.Context, runID string, fill func(ctx context.Context, name string) error) (*refresh.DB, error) {
	name := DBName(p.cfg.Target, runID)
	if !myRunIDRE.MatchString(runID) || len(name) > 64 {
		return nil, fmt.Errorf("restore %s: run id %q: want lower-case letters, digits or underscores, and a database name of at most 64 characters", p.cfg.Target, runID)
	}
	if err := p.ensureIdentity(ctx); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	if why := p.protected(name); why != "" {
		return nil, fmt.Errorf("restore into %s: %s", name, why)
	}
	if err := p.ensureControl(ctx); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	if err := p.record(ctx, p.admin, myRecord{Name: name, Target: p.cfg.Target, RunID: runID, State: myStateCreating}); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	db := p.dbFor(name, runID)

	srcDB, err := mysqlOpen(p.src)
	if err != nil {
		return db, fmt.Errorf("restore %s: source: %w", name, err)
	}
	defer srcDB.Close()
	create, err := mysqlengine.CreateDatabaseSQL(ctx, srcDB, p.sourceName, name)
	if err != nil {
		return db, fmt.Errorf("restore %s: read source %s: %w", name, p.sourceName, mysqlRedact(mysqlScrub(err), p.src.Passwd))
	}
	if _, err := p.admin.ExecContext(ctx, create); err != nil {
		return db, fmt.Errorf("restore %s: create database: %w", name, mysqlScrub(err))
	}
	if err := p.markDB(ctx, p.admin, name, marker{Target: p.cfg.Target, Run: runID, Name: name, Role: "copy"}); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	start := time.Now()
	if err := fill(ctx, name); err != nil {
		return db, fmt.Errorf("restore %s from %s: %w", name, p.sourceName, err)
	}
	if err := p.setState(ctx, p.admin, name, myStateReady); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	p.log.Info("restored", "step", "restore", "target", p.cfg.Target, "db", name, "duration", time.Since(start))
	return db, nil
}

// mysqlOpen opens a pool for a driver config.
func mysqlOpen(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New("invalid connection settings")
	}
	return sql.OpenDB(c), nil
}

// copySchema pipes a consistent dump of the source into the new database.
func (p *mysqlProvider) copySchema(ctx context.Context, name string) error {
	return p.copyDump(ctx, name, nil, func(dst io.Writer, src io.Reader) error {
		return mysqlengine.RewriteDump(dst, src, p.sourceName, name)
	})
}

// copyDump pipes the dump of the source (with extra options) through
// xform into the new database.
func (p *mysqlProvider) copyDump(ctx context.Context, name string, extra []string, xform func(dst io.Writer, src io.Reader) error) error {
	dumpBin, err := mysqlengine.DumpTool()
	if err != nil {
		return err
	}
	clientBin, err := mysqlengine.ClientTool()
	if err != nil {
		return err
	}
	dumpArgs := mysqlengine.DumpArgs(p.src, p.sourceName, extra...)
	loadArgs := mysqlengine.LoadArgs(p.stg, name)

	g, gctx := errgroup.WithContext(ctx)
	dump := exec.CommandContext(gctx, dumpBin, dumpArgs...)
	dump.Env = append(os.Environ(), "MYSQL_PWD="+p.src.Passwd)
	load := exec.CommandContext(gctx, clientBin, loadArgs...)
	load.Env = append(os.Environ(), "MYSQL_PWD="+p.stg.Passwd)
	var dumpErr, loadErr mysqlengine.StderrTail
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	load.Stdout = io.Discard

	dr, dw, err := os.Pipe()
	if err != nil {
		return err
	}
	lr, lw, err := os.Pipe()
	if err != nil {
		dr.Close()
		dw.Close()
		return err
	}
	dump.Stdout, load.Stdin = dw, lr
	if err := dump.Start(); err != nil {
		dr.Close()
		dw.Close()
		lr.Close()
		lw.Close()
		return fmt.Errorf("start %s: %w", dumpBin, err)
	}
	dw.Close()
	if err := load.Start(); err != nil {
		dr.Close()
		lr.Close()
		lw.Close()
		_ = dump.Process.Kill()
		_ = dump.Wait()
		return fmt.Errorf("start %s: %w", clientBin, err)
	}
	lr.Close()
	g.Go(func() error {
		defer dr.Close()
		err := xform(lw, dr)
		if cerr := lw.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("copy dump: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := dump.Wait(); err != nil {
			return fmt.Errorf("mariadb-dump of %s: %v: %s", p.sourceName, err, dumpErr.String())
		}
		return nil
	})
	g.Go(func() error {
		if err := load.Wait(); err != nil {
			return fmt.Errorf("load into %s: %v: %s", name, err, loadErr.String())
		}
		return nil
	})
	return g.Wait()
}
