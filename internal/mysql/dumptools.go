package mysql

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	osexec "os/exec"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Tool finds a client program: MariaDB's name first, then MySQL's.
func Tool(names ...string) (string, error) {
	for _, n := range names {
		if p, err := osexec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH (install the MariaDB or MySQL client)", names[0])
}

// ClientArgs are the connection options for the command-line tools.
// The password goes through MYSQL_PWD, never the command line.
func ClientArgs(cfg *mysql.Config) []string {
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

// DumpArgs are the arguments of mariadb-dump (or mysqldump) for the copy
// of database db on the server cfg names, extra options before the name.
// --single-transaction reads every InnoDB table inside one START
// TRANSACTION WITH CONSISTENT SNAPSHOT and no option given takes a lock
// that blocks writers (FLUSH TABLES WITH READ LOCK needs --master-data,
// --dump-slave, --flush-logs or --lock-all-tables; --skip-lock-tables
// leaves out LOCK TABLES). The password is not among them: pass it as
// MYSQL_PWD.
func DumpArgs(cfg *mysql.Config, db string, extra ...string) []string {
	args := append(ClientArgs(cfg),
		"--single-transaction", "--skip-lock-tables", "--skip-add-locks",
		"--routines", "--triggers", "--events", "--no-create-db",
		"--hex-blob", "--quick", "--skip-comments")
	return append(append(args, extra...), db)
}

// LoadArgs are the arguments of the mariadb (or mysql) client that runs a
// dump into database db on the server cfg names; the password goes as
// MYSQL_PWD.
func LoadArgs(cfg *mysql.Config, db string) []string {
	return append(ClientArgs(cfg), "--batch", "--binary-mode", db)
}

// DumpTool finds the dump program.
func DumpTool() (string, error) { return Tool("mariadb-dump", "mysqldump") }

// ClientTool finds the client program that loads a dump.
func ClientTool() (string, error) { return Tool("mariadb", "mysql") }

// StderrTail keeps the last few KiB a tool writes to stderr, with quoted
// literals elided: the client's errors can quote row values.
type StderrTail struct{ b []byte }

func (t *StderrTail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *StderrTail) String() string {
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "no error output"
	}
	return ScrubMessage(s)
}

// RewriteDump copies a mysqldump script, pointing qualified references
// to the source schema (`src`.t or src.t in view, trigger, routine and
// event definitions) at the new one, so the copy never reads production.
// Data statements (INSERT INTO … at the start of a line while the
// delimiter is ";": trigger and routine bodies are always inside
// DELIMITER ;; blocks) pass unchanged to their final ";", every row line
// of an extended INSERT included, so row values are never rewritten.
func RewriteDump(dst io.Writer, src io.Reader, from, to string) error {
	rw := SchemaRewriter(from, to)
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

// SchemaRewriter returns a function replacing qualified references to
// schema from (`from`. and, for a plain name, from.) with `to`.
func SchemaRewriter(from, to string) func([]byte) []byte {
	if from == to {
		return func(b []byte) []byte { return b }
	}
	quoted := []byte(Quote(from) + ".")
	repl := []byte(Quote(to) + ".")
	var bare *regexp.Regexp
	if regexp.MustCompile(`^[A-Za-z0-9_$]+$`).MatchString(from) {
		bare = regexp.MustCompile(`(^|[^A-Za-z0-9_$.` + "`" + `])` + regexp.QuoteMeta(from) + `\.`)
	}
	bareRepl := []byte("${1}" + strings.ReplaceAll(Quote(to), "$", "$$") + ".")
	return func(b []byte) []byte {
		b = bytes.ReplaceAll(b, quoted, repl)
		if bare != nil {
			b = bare.ReplaceAll(b, bareRepl)
		}
		return b
	}
}
