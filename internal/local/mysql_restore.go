package local

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
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
	var charset, collation string
	err = srcDB.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", p.sourceName).Scan(&charset, &collation)
	if err != nil {
		return db, fmt.Errorf("restore %s: read source %s: %w", name, p.sourceName, mysqlRedact(mysqlScrub(err), p.src.Passwd))
	}
	if _, err := p.admin.ExecContext(ctx, "CREATE DATABASE "+mysqlQuote(name)+" CHARACTER SET "+charset+" COLLATE "+collation); err != nil {
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

// mysqlTool finds a client program: MariaDB's name first, then MySQL's.
func mysqlTool(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH (install the MariaDB or MySQL client)", names[0])
}

// mysqlClientArgs are the connection options for the command-line tools.
// The password goes through MYSQL_PWD, never the command line.
func mysqlClientArgs(cfg *mysql.Config) []string {
	args := []string{"--no-defaults", "--default-character-set=utf8mb4"}
	if cfg.User != "" {
		args = append(args, "--user="+cfg.User)
	}
	if cfg.Net == "unix" {
		return append(args, "--socket="+cfg.Addr)
	}
	host, port := cfg.Addr, "3306"
	if i := strings.LastIndexByte(cfg.Addr, ':'); i >= 0 {
		host, port = cfg.Addr[:i], cfg.Addr[i+1:]
	}
	return append(args, "--protocol=TCP", "--host="+strings.Trim(host, "[]"), "--port="+port)
}

// copySchema pipes a consistent dump of the source into the new database.
func (p *mysqlProvider) copySchema(ctx context.Context, name string) error {
	return p.copyDump(ctx, name, nil, func(dst io.Writer, src io.Reader) error {
		return mysqlRewriteDump(dst, src, p.sourceName, name)
	})
}

// copyDump pipes the dump of the source (with extra options) through
// xform into the new database.
func (p *mysqlProvider) copyDump(ctx context.Context, name string, extra []string, xform func(dst io.Writer, src io.Reader) error) error {
	dumpBin, err := mysqlTool("mariadb-dump", "mysqldump")
	if err != nil {
		return err
	}
	clientBin, err := mysqlTool("mariadb", "mysql")
	if err != nil {
		return err
	}
	dumpArgs := append(mysqlClientArgs(p.src),
		"--single-transaction", "--skip-lock-tables", "--skip-add-locks",
		"--routines", "--triggers", "--events", "--no-create-db",
		"--hex-blob", "--quick", "--skip-comments")
	dumpArgs = append(append(dumpArgs, extra...), p.sourceName)
	loadArgs := append(mysqlClientArgs(p.stg), "--batch", "--binary-mode", name)

	g, gctx := errgroup.WithContext(ctx)
	dump := exec.CommandContext(gctx, dumpBin, dumpArgs...)
	dump.Env = append(os.Environ(), "MYSQL_PWD="+p.src.Passwd)
	load := exec.CommandContext(gctx, clientBin, loadArgs...)
	load.Env = append(os.Environ(), "MYSQL_PWD="+p.stg.Passwd)
	var dumpErr, loadErr myTail
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

// myTail keeps the last few KiB a tool writes to stderr, with quoted
// literals elided: the client's errors can quote row values.
type myTail struct{ b []byte }

func (t *myTail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *myTail) String() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "no error output"
	}
	return mysqlengine.ScrubMessage(s)
}

// mysqlRewriteDump copies a mysqldump script, pointing qualified references
// to the source schema (`src`.t or src.t in view, trigger, routine and
// event definitions) at the new one, so the copy never reads production.
// Data statements (INSERT INTO … at the start of a line while the
// delimiter is ";": trigger and routine bodies are always inside
// DELIMITER ;; blocks) pass unchanged to their final ";", every row line
// of an extended INSERT included, so row values are never rewritten.
func mysqlRewriteDump(dst io.Writer, src io.Reader, from, to string) error {
	rw := mysqlSchemaRewriter(from, to)
	d := newMyDumpReader(src)
	bw := bufio.NewWriterSize(dst, 256<<10)
	var buf []byte
	for {
		text, ins, err := d.next(buf)
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
		if ins != nil {
			if _, err := bw.Write(ins.stmt); err != nil {
				return err
			}
			buf = ins.stmt[:0]
			continue
		}
		if myEventLine(text) {
			// Production's events arrive disabled: on the copy they
			// would run against unmasked data (and later on staging).
			text = myEventEnable.ReplaceAll(text, []byte("${1} DISABLE "))
		}
		if _, err := bw.Write(rw(text)); err != nil {
			return err
		}
	}
}

// myEventEnable matches the ENABLE of a dumped event definition.
var myEventEnable = regexp.MustCompile(`(ON COMPLETION (?:NOT )?PRESERVE) ENABLE `)

// mysqlSchemaRewriter returns a function replacing qualified references to
// schema from (`from`. and, for a plain name, from.) with `to`.
func mysqlSchemaRewriter(from, to string) func([]byte) []byte {
	if from == to {
		return func(b []byte) []byte { return b }
	}
	quoted := []byte(mysqlQuote(from) + ".")
	repl := []byte(mysqlQuote(to) + ".")
	var bare *regexp.Regexp
	if regexp.MustCompile(`^[A-Za-z0-9_$]+$`).MatchString(from) {
		bare = regexp.MustCompile(`(^|[^A-Za-z0-9_$.` + "`" + `])` + regexp.QuoteMeta(from) + `\.`)
	}
	bareRepl := []byte("${1}" + strings.ReplaceAll(mysqlQuote(to), "$", "$$") + ".")
	return func(b []byte) []byte {
		b = bytes.ReplaceAll(b, quoted, repl)
		if bare != nil {
			b = bare.ReplaceAll(b, bareRepl)
		}
		return b
	}
}
