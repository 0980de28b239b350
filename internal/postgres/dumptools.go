package postgres

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"strings"
)

// The command lines of pg_dump and psql for a local server's copy
// (internal/local runs them).

// dumpArgs: a plain SQL dump without owners, grants, subscriptions (a
// copied subscription would start replicating from production's
// publisher), publications, tablespaces (the staging server may not have
// them) or security labels.
var dumpArgs = []string{
	"--format=plain", "--no-owner", "--no-privileges", "--no-subscriptions",
	"--no-publications", "--no-tablespaces", "--no-security-labels",
}

// DumpArgs are pg_dump's arguments for a copy (dumpArgs), extra (a
// section, a snapshot) after them. The connection goes in ToolEnv's
// environment, never in argv.
func DumpArgs(extra ...string) []string {
	return append(append([]string{}, dumpArgs...), extra...)
}

// LoadArgs are psql's arguments to run a dump: no psqlrc, quiet, stop at
// the first error.
func LoadArgs() []string { return []string{"-X", "-q", "-v", "ON_ERROR_STOP=1"} }

// ToolEnv is the environment for a libpq client tool connecting as the
// DSN says (to database db, if not empty): inherited PG* variables are
// dropped except PGPASSFILE, and the DSN's parts go into PG* variables, the
// password into PGPASSWORD.
func ToolEnv(dsnURL, db string) ([]string, error) {
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

// ToolStderr keeps the first 64 KiB a tool writes to stderr.
type ToolStderr struct{ b bytes.Buffer }

func (t *ToolStderr) Write(b []byte) (int, error) {
	if room := 64<<10 - t.b.Len(); room > 0 {
		t.b.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// Summary returns the tool's error lines (at most three): DETAIL, CONTEXT
// and the like are left out since they can quote data; with scrub, quoted
// parts of the error lines are replaced by "…" too.
func (t *ToolStderr) Summary(scrub bool) string {
	var out []string
	for _, line := range strings.Split(t.b.String(), "\n") {
		l := strings.TrimSpace(line)
		if !strings.Contains(l, "ERROR:") && !strings.Contains(l, "FATAL:") && !strings.Contains(l, "error:") {
			continue
		}
		if scrub {
			l = scrubMessage(l)
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
		return NoMessage
	}
	return strings.Join(out, "; ")
}

// NoMessage is Summary when the tool printed no error line.
const NoMessage = "no error message"
