package localserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/local"
	mysqlengine "github.com/restage/restage/internal/mysql"
)

// Create creates database name with the source's character set and
// collation and marks it as runID's copy. MySQL keeps no database
// identity beyond its name and no per-database CONNECT: until Users
// grants access, only global privileges (the admin) reach it.
func (p *mysqlServer) Create(ctx context.Context, name, runID string) error {
	srcDB, err := mysqlOpen(p.src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer srcDB.Close()
	create, err := mysqlengine.CreateDatabaseSQL(ctx, srcDB, p.sourceName, name)
	if err != nil {
		return fmt.Errorf("read source %s: %w", p.sourceName, mysqlRedact(mysqlScrub(err), p.src.Passwd))
	}
	if _, err := p.admin.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create database: %w", mysqlScrub(err))
	}
	return p.markDB(ctx, p.admin, name, local.Marker{Target: p.cfg.Target, Run: runID, Name: name, Role: "copy"})
}

// Copy pipes a consistent dump of the source into database name:
//
//	mariadb-dump --single-transaction … source | rewrite | mariadb name
//
// The dump reads every InnoDB table inside one START TRANSACTION WITH
// CONSISTENT SNAPSHOT and takes no lock that blocks writers: no FLUSH
// TABLES WITH READ LOCK (that needs --master-data, --dump-slave,
// --flush-logs or --lock-all-tables, none given), no LOCK TABLES
// (--skip-lock-tables). Only metadata locks are held, which block DDL on
// production while a table is read, never reads or writes. Non-InnoDB
// tables (MyISAM) are copied as they are read, without a snapshot.
func (p *mysqlServer) Copy(ctx context.Context, name string) error {
	if err := p.copyDump(ctx, name, nil, func(dst io.Writer, src io.Reader) error {
		return mysqlengine.RewriteDump(dst, src, p.sourceName, name)
	}); err != nil {
		return fmt.Errorf("copy from %s: %w", p.sourceName, err)
	}
	return nil
}

// mysqlOpen opens a pool for a driver config.
func mysqlOpen(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New("invalid connection settings")
	}
	return sql.OpenDB(c), nil
}

// copyDump pipes the dump of the source (with extra options) through
// xform into the new database.
func (p *mysqlServer) copyDump(ctx context.Context, name string, extra []string, xform func(dst io.Writer, src io.Reader) error) error {
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
