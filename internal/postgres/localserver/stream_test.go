package localserver

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/restage/restage/internal/local/localtest"

	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

func pgSakilaMasking(t *testing.T) *refresh.Masking {
	t.Helper()
	return localtest.SakilaMasking(t, "sakila-postgres.yaml")
}

// pgSchemaDump is pg_dump --schema-only of db, without the per-run
// \restrict key lines of newer pg_dump releases.
func pgSchemaDump(t *testing.T, db string) string {
	t.Helper()
	env, err := postgres.ToolEnv(pgTestDSN(t, db), "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pg_dump", "--schema-only", "--no-owner", "--no-privileges")
	cmd.Env = env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump %s: %v: %s", db, err, stderr.String())
	}
	var keep []string
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(l, `\restrict`) && !strings.HasPrefix(l, `\unrestrict`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// pgTableSum is a checksum of every row of table (its own rows).
func pgTableSum(t *testing.T, db, table string) string {
	t.Helper()
	return pgString(t, db, "SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '') FROM ONLY "+table+" x")
}

func pgColumnSum(t *testing.T, db, table, col string) string {
	t.Helper()
	return pgString(t, db, "SELECT coalesce(md5(string_agg(coalesce(x."+pgIdent(col)+"::text, '<null>'), E'\\n' ORDER BY x::text)), '') FROM ONLY "+table+" x")
}

// TestPGRestoreMaskedSakila: the masking copy of Sakila has the schema of
// a plain copy, every unmasked table (and every sequence) identical to a
// plain copy's, and every masked table identical to the plain copy masked
// in place by restage mask's code (so the same transformers ran on the
// same text); the gates pass on it.
func TestPGRestoreMaskedSakila(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	testdb.LoadSakilaPostgres(t, f.cfg.SourceDSN)
	ctx := context.Background()

	m := pgSakilaMasking(t)
	streamed, used, err := f.p.RestoreMasked(ctx, "s1", m)
	if err != nil || !used {
		t.Fatalf("RestoreMasked: used %v, %v", used, err)
	}
	if got := f.state(t, streamed.Name); got != "ready" {
		t.Errorf("state = %q, want ready", got)
	}
	plain, err := f.p.Restore(ctx, "p1")
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}

	if a, b := pgSchemaDump(t, plain.Name), pgSchemaDump(t, streamed.Name); a != b {
		t.Errorf("schema of the masking copy differs from a plain copy's:\nplain:\n%s\nmasking copy:\n%s", a, b)
	}

	masked := map[string][]string{}
	for _, tp := range m.Plan.Jobs {
		masked[tp.Job.Table.TableName.String()] = tp.Job.Write
	}
	if len(masked) < 3 {
		t.Fatalf("plan masks %d tables; the test wants Sakila's rules", len(masked))
	}
	tables := strings.Split(pgString(t, f.src, `SELECT string_agg(c.relkind::text || format('%I.%I', n.nspname, c.relname), ',' ORDER BY 1)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S')`), ",")
	unmasked := 0
	seqs := 0
	for _, kt := range tables {
		kind, tb := kt[:1], kt[1:]
		if masked[tb] != nil {
			continue
		}
		unmasked++
		sum := pgTableSum
		if kind == "S" {
			seqs++
			sum = func(t *testing.T, db, seq string) string {
				return pgString(t, db, "SELECT last_value::text || ':' || is_called::text FROM "+seq)
			}
		}
		if a, b := sum(t, plain.Name, tb), sum(t, streamed.Name, tb); a != b {
			t.Errorf("%s: unmasked, but the masking copy's rows differ from a plain copy's", tb)
		}
	}
	if unmasked < 10 || seqs < 5 {
		t.Errorf("only %d unmasked tables and sequences (%d sequences) compared", unmasked, seqs)
	}
	for tb, cols := range masked {
		for _, c := range cols {
			// Blank in the whole table (Sakila's phones): nothing to change.
			if pgString(t, f.src, "SELECT count(nullif(btrim("+pgIdent(c)+"::text), ''))::text FROM ONLY "+tb) == "0" {
				continue
			}
			if a, b := pgColumnSum(t, f.src, tb, c), pgColumnSum(t, streamed.Name, tb, c); a == b {
				t.Errorf("%s.%s: masked column equals production", tb, c)
			}
		}
	}

	// The gates on the masking copy: the post-mask step and verification.
	eng, err := postgres.Open(ctx, streamed.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	localtest.GatesPass(t, m, eng)
	if m.Report.Rows == 0 {
		t.Errorf("report counts no masked rows")
	}

	// The plain copy masked in place: every masked table equals the
	// masking copy's.
	inPlace := pgSakilaMasking(t)
	peng, err := postgres.Open(ctx, plain.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer peng.Close()
	localtest.MaskedInPlaceEqual(t, inPlace, peng, masked, func(db, tb string) string { return pgTableSum(t, db, tb) }, plain.Name, streamed.Name)

	// The baselines came from the copy's stream: an original put back
	// into the masking copy is found by the verification gate.
	orig := pgString(t, f.src, "SELECT email FROM customer WHERE customer_id = 1")
	pgExec(t, streamed.Name, "UPDATE customer SET email = '"+strings.ReplaceAll(orig, "'", "''")+"' WHERE customer_id = 1")
	if err := m.VerifyMasked(ctx, eng); err == nil || exitcode.Of(err) != exitcode.Refused {
		t.Errorf("VerifyMasked with an original back in customer.email: %v, want a refusal", err)
	} else if strings.Contains(err.Error(), orig) {
		t.Errorf("the refusal shows the original value")
	}
}

// TestPGRestoreMaskedDriftRefusesFirst: a personal column without a rule
// on the source refuses the masking copy (exit 4) before anything is
// created, the drift report names it, and the source is unchanged.
func TestPGRestoreMaskedDriftRefusesFirst(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	testdb.LoadSakilaPostgres(t, f.cfg.SourceDSN)
	pgExec(t, f.src,
		"ALTER TABLE customer ADD COLUMN mobile_tel varchar(20)",
		"UPDATE customer SET mobile_tel = '080-1234-' || lpad(customer_id::text, 4, '0')")
	localtest.DriftRefusesFirst(t, f.p, pgSakilaMasking(t), f.world(t))
}
