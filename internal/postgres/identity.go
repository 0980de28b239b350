package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// querier is what tableIdentity reads through: a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// tableIdentity describes a table and everything bound to it, from the
// catalog, without OIDs (names, definitions as the server prints them,
// flags): columns with their defaults, generation, identity, collation,
// storage, statistics target and privileges; the table's kind,
// persistence, options, owner, privileges, row-level security and
// replica identity; indexes, constraints, the foreign keys of other
// tables referencing it, triggers, rules, policies, dependent views,
// owned sequences, extended statistics, publications and comments. One
// line per object, "kind<TAB>name<TAB>definition", sorted: two
// descriptions are equal when nothing about the table differs. A
// rewrite compares the description before and after, inside its
// transaction. The definitions are schema text, never row values.
func tableIdentity(ctx context.Context, q querier, name string) ([]string, error) {
	rows, err := q.Query(ctx, identitySQL, name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	return lines, nil
}

// identityDiff names the first object whose description differs ("" when
// none does): its kind and name, not its definition.
func identityDiff(before, after []string) string {
	head := func(l string) string {
		parts := strings.SplitN(l, "\t", 3)
		return strings.Join(parts[:min(2, len(parts))], " ")
	}
	for i := 0; i < max(len(before), len(after)); i++ {
		switch {
		case i >= len(before):
			return "added: " + head(after[i])
		case i >= len(after):
			return "gone: " + head(before[i])
		case before[i] != after[i]:
			return "changed: " + head(before[i])
		}
	}
	return ""
}

const identitySQL = `WITH t AS (SELECT c.* FROM pg_class c WHERE c.oid = $1::regclass)
SELECT line FROM (
SELECT concat_ws(E'\t', 'table', t.oid::regclass::text, t.relkind, t.relpersistence, t.reloptions::text, pg_get_userbyid(t.relowner),
  t.relacl::text, t.relrowsecurity, t.relforcerowsecurity, t.relreplident, t.reltablespace <> 0, (SELECT amname FROM pg_am WHERE oid = t.relam),
  t.relispartition, t.relhasrules, t.relhastriggers, t.relhassubclass, t.relnatts - (SELECT count(*) FROM pg_attribute d WHERE d.attrelid = t.oid AND d.attisdropped),
  obj_description(t.oid, 'pg_class')) AS line FROM t
UNION ALL
SELECT concat_ws(E'\t', 'column', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
  a.attgenerated, a.attidentity, (SELECT collname FROM pg_collation WHERE oid = a.attcollation), a.attstorage, a.attcompression,
  a.attstattarget, a.attoptions::text, a.attacl::text, a.attfdwoptions::text, a.attislocal, a.attinhcount, col_description(a.attrelid, a.attnum))
FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
UNION ALL
SELECT concat_ws(E'\t', 'index', i.relname, pg_get_indexdef(x.indexrelid), x.indisprimary, x.indisunique, x.indisclustered,
  x.indisreplident, x.indisvalid, x.indimmediate, i.reloptions::text, i.reltablespace <> 0, obj_description(i.oid, 'pg_class'),
  (SELECT string_agg(a.attname || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = i.oid AND a.attstattarget >= 0))
FROM t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
UNION ALL
SELECT concat_ws(E'\t', 'constraint', c.conname, pg_get_constraintdef(c.oid), c.contype, c.condeferrable, c.condeferred,
  c.convalidated, c.conislocal, c.coninhcount, c.connoinherit, obj_description(c.oid, 'pg_constraint'))
FROM t JOIN pg_constraint c ON c.conrelid = t.oid
UNION ALL
SELECT concat_ws(E'\t', 'referenced by', c.conrelid::regclass::text || '.' || c.conname, pg_get_constraintdef(c.oid), c.condeferrable,
  c.condeferred, c.convalidated, obj_description(c.oid, 'pg_constraint'),
  (SELECT string_agg(g.tgenabled::text, ',' ORDER BY g.tgfoid, g.tgtype) FROM pg_trigger g WHERE g.tgconstraint = c.oid))
FROM t JOIN pg_constraint c ON c.confrelid = t.oid AND c.conrelid <> t.oid
UNION ALL
SELECT concat_ws(E'\t', 'trigger', g.tgname, pg_get_triggerdef(g.oid), g.tgenabled, obj_description(g.oid, 'pg_trigger'))
FROM t JOIN pg_trigger g ON g.tgrelid = t.oid AND NOT g.tgisinternal
UNION ALL
SELECT concat_ws(E'\t', 'internal triggers', count(*)::text, string_agg(g.tgenabled::text, ',' ORDER BY g.tgenabled))
FROM t JOIN pg_trigger g ON g.tgrelid = t.oid AND g.tgisinternal
UNION ALL
SELECT concat_ws(E'\t', 'rule', r.rulename, pg_get_ruledef(r.oid), r.ev_enabled, obj_description(r.oid, 'pg_rewrite'))
FROM t JOIN pg_rewrite r ON r.ev_class = t.oid
UNION ALL
SELECT concat_ws(E'\t', 'policy', p.polname, p.polcmd, p.polpermissive,
  (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END, ',' ORDER BY 1) FROM unnest(p.polroles) r),
  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy'))
FROM t JOIN pg_policy p ON p.polrelid = t.oid
UNION ALL
SELECT DISTINCT concat_ws(E'\t', 'dependent view', v.oid::regclass::text, v.relkind, pg_get_viewdef(v.oid))
FROM t JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.classid = 'pg_rewrite'::regclass
JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class AND v.oid <> t.oid
UNION ALL
SELECT concat_ws(E'\t', 'owned sequence', s.oid::regclass::text, d.deptype, a.attname)
FROM t JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
UNION ALL
SELECT concat_ws(E'\t', 'statistics', s.stxname, pg_get_statisticsobjdef(s.oid), s.stxstattarget)
FROM t JOIN pg_statistic_ext s ON s.stxrelid = t.oid
UNION ALL
SELECT concat_ws(E'\t', 'publication', p.pubname)
FROM t JOIN pg_publication_rel pr ON pr.prrelid = t.oid JOIN pg_publication p ON p.oid = pr.prpubid
) x ORDER BY line`
