package gate

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

// SQL of the checks that run on the server. Every statement is plain,
// read-only SQL built from QuoteIdent, From and Text; names that must be
// string literals (catalog lookups) are passed hex-encoded, so no quoting
// mode or escape setting can change their meaning.

// verifyLit renders a name as a string literal.
func verifyLit(rd mask.Reader, s string) string {
	h := hex.EncodeToString([]byte(s))
	if rd.Flavor() == "postgres" {
		return "convert_from(decode('" + h + "', 'hex'), 'UTF8')"
	}
	return "CONVERT(X'" + h + "' USING utf8mb4)"
}

// verifyFromAll renders a table for FROM including the rows of its
// partitions when it is a PostgreSQL partitioned table (which holds none
// itself, and whose unique and foreign keys span its partitions).
func verifyFromAll(rd mask.Reader, t *schema.Table) string {
	f := rd.From(t.TableName)
	if t.Partitioned {
		f = strings.TrimPrefix(f, "ONLY ")
	}
	return f
}

func verifyQueryInt(ctx context.Context, rd mask.Reader, q string) (int64, error) {
	var n int64
	err := rd.Query(ctx, q, func(row []mask.Value) error {
		if row[0].Null {
			return nil
		}
		_, err := fmt.Sscan(row[0].S, &n)
		return err
	})
	return n, err
}

// verifyUnique checks every primary key and unique index of t: no two rows
// share a non-NULL tuple (GROUP BY compares the way the index does).
func verifyUnique(ctx context.Context, rd mask.Reader, t *schema.Table, acc *verifyAcc) error {
	indexes := t.Uniques
	if len(t.PrimaryKey) > 0 {
		indexes = append([]schema.Index{{Name: "PRIMARY KEY", Columns: t.PrimaryKey}}, indexes...)
	}
	name := t.TableName.String()
	ok := true
	for _, ix := range indexes {
		var cols, notNull []string
		for _, c := range ix.Columns {
			q := rd.QuoteIdent(c)
			cols = append(cols, q)
			notNull = append(notNull, q+" IS NOT NULL")
		}
		q := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 AS x FROM %s WHERE %s GROUP BY %s HAVING COUNT(*) > 1) d",
			verifyFromAll(rd, t), strings.Join(notNull, " AND "), strings.Join(cols, ", "))
		n, err := verifyQueryInt(ctx, rd, q)
		if err != nil {
			return fmt.Errorf("unique check of %s (%s): %w", name, ix.Name, err)
		}
		if n > 0 {
			ok = false
			acc.mu.Lock()
			acc.fail(name, strings.Join(ix.Columns, ","), VerifyCheckUnique, "%d values occur in more than one row under unique index %s", n, ix.Name)
			acc.mu.Unlock()
		}
	}
	if ok {
		acc.mu.Lock()
		acc.pass(name, VerifyCheckUnique)
		acc.mu.Unlock()
	}
	return nil
}

// verifyForeignKey counts the rows of child whose (non-NULL) reference
// finds no row of ref. PostgreSQL masks with session_replication_role =
// replica, which skips FK triggers, so nothing else would notice.
func verifyForeignKey(ctx context.Context, rd mask.Reader, child, ref *schema.Table, fk schema.ForeignKey, acc *verifyAcc) error {
	var notNull, on []string
	for i, c := range fk.Columns {
		if i >= len(fk.RefColumns) {
			break
		}
		notNull = append(notNull, "c."+rd.QuoteIdent(c)+" IS NOT NULL")
		on = append(on, "p."+rd.QuoteIdent(fk.RefColumns[i])+" = c."+rd.QuoteIdent(c))
	}
	if len(on) == 0 {
		return nil
	}
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)",
		verifyFromAll(rd, child), strings.Join(notNull, " AND "), verifyFromAll(rd, ref), strings.Join(on, " AND "))
	n, err := verifyQueryInt(ctx, rd, q)
	name := child.TableName.String()
	if err != nil {
		return fmt.Errorf("foreign key check of %s (%s): %w", name, fk.Name, err)
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if n > 0 {
		acc.fail(name, strings.Join(fk.Columns, ","), VerifyCheckForeignKeys, "%d rows reference no row of %s (foreign key %s)", n, fk.RefTable, fk.Name)
		return nil
	}
	// Passed only if no other foreign key of the table failed.
	for _, f := range acc.failures {
		if f.Table == name && f.Check == VerifyCheckForeignKeys {
			return nil
		}
	}
	acc.pass(name, VerifyCheckForeignKeys)
	return nil
}

// verifyStatValues returns the values the server's statistics hold for a
// column of t (col "" for every column): PostgreSQL most common values and
// histogram bounds of the table and, for one column, of its inheritance
// ancestors; MariaDB mysql.column_stats min/max and JSON histograms;
// MySQL 8 histograms. NULLs are left out.
func verifyStatValues(ctx context.Context, rd mask.Reader, s *schema.Schema, t *schema.Table, col string) ([]string, error) {
	var out []string
	collect := func(row []mask.Value) error {
		for _, v := range row {
			if !v.Null {
				out = append(out, v.S)
			}
		}
		return nil
	}
	var err error
	switch rd.Flavor() {
	case "postgres":
		tables := []*schema.Table{t}
		for p := t.Parent; col != "" && p != nil && len(tables) < 64; {
			pt := s.Lookup(*p)
			if pt == nil {
				break
			}
			tables = append(tables, pt)
			p = pt.Parent
		}
		for _, tt := range tables {
			q := "SELECT v FROM pg_catalog.pg_stats st, unnest(coalesce(st.most_common_vals::text::text[], '{}'::text[]) || coalesce(st.histogram_bounds::text::text[], '{}'::text[])) v" +
				" WHERE st.schemaname = " + verifyLit(rd, tt.Schema) + " AND st.tablename = " + verifyLit(rd, tt.Name)
			if col != "" {
				q += " AND st.attname = " + verifyLit(rd, col)
			}
			if err = rd.Query(ctx, q, collect); err != nil {
				break
			}
		}
	case "mariadb":
		q := "SELECT min_value, max_value, histogram FROM mysql.column_stats WHERE db_name = DATABASE() AND table_name = " + verifyLit(rd, t.Name)
		if col != "" {
			q += " AND column_name = " + verifyLit(rd, col)
		}
		err = rd.Query(ctx, q, func(row []mask.Value) error {
			if err := collect(row[:2]); err != nil {
				return err
			}
			if !row[2].Null {
				out = append(out, verifyMariaDBHistogram(row[2].S)...)
			}
			return nil
		})
	default: // mysql
		q := "SELECT HISTOGRAM FROM information_schema.COLUMN_STATISTICS WHERE SCHEMA_NAME = DATABASE() AND TABLE_NAME = " + verifyLit(rd, t.Name)
		if col != "" {
			q += " AND COLUMN_NAME = " + verifyLit(rd, col)
		}
		err = rd.Query(ctx, q, func(row []mask.Value) error {
			if !row[0].Null {
				out = append(out, verifyMySQLHistogram(row[0].S)...)
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read statistics of %s: %w", t.TableName, err)
	}
	return out, nil
}

// verifyMariaDBHistogram extracts the bucket bounds of a MariaDB JSON_HB
// histogram ({"histogram_hb": [{"start": v, ..., "end": v}]}, binary
// values as start_hex/end_hex). Binary (SINGLE/DOUBLE_PREC_HB) histograms
// hold fractions, no values: nothing is returned for them.
func verifyMariaDBHistogram(h string) []string {
	if !strings.HasPrefix(strings.TrimSpace(h), "{") {
		return nil
	}
	var doc struct {
		Buckets []map[string]any `json:"histogram_hb"`
	}
	if json.Unmarshal([]byte(h), &doc) != nil {
		return nil
	}
	var out []string
	for _, b := range doc.Buckets {
		for _, k := range []string{"start", "end"} {
			if v, ok := b[k].(string); ok {
				out = append(out, v)
			}
			if v, ok := b[k+"_hex"].(string); ok {
				if raw, err := hex.DecodeString(v); err == nil {
					out = append(out, string(raw))
				}
			}
		}
	}
	return out
}

// verifyMySQLHistogram extracts the values of a MySQL 8 histogram:
// singleton buckets [value, cumulative frequency], equi-height buckets
// [lower, upper, cumulative frequency, distinct values]; strings are
// "base64:typeNNN:<base64>".
func verifyMySQLHistogram(h string) []string {
	var doc struct {
		Buckets [][]any `json:"buckets"`
	}
	if json.Unmarshal([]byte(h), &doc) != nil {
		return nil
	}
	var out []string
	for _, b := range doc.Buckets {
		n := 1
		if len(b) == 4 {
			n = 2
		}
		for _, v := range b[:min(n, len(b))] {
			switch x := v.(type) {
			case string:
				if rest, ok := strings.CutPrefix(x, "base64:"); ok {
					if i := strings.IndexByte(rest, ':'); i >= 0 {
						if raw, err := base64.StdEncoding.DecodeString(rest[i+1:]); err == nil {
							out = append(out, string(raw))
							continue
						}
					}
				}
				out = append(out, x)
			case float64:
				out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
			}
		}
	}
	return out
}
