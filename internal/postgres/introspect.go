package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/schema"
)

// relsSQL selects the tables Introspect describes: ordinary and partitioned
// tables outside the system schemas (other sessions' temp schemas included).
const relsSQL = `
SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'`

// tablesSQL: EstimatedRows is reltuples, or, on a table never vacuumed or
// analysed (reltuples = -1, e.g. right after pg_restore), a guess at 100
// bytes a row.
const tablesSQL = `
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p',
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 ELSE pg_relation_size(c.oid) / 100 END,
       pn.nspname::text, p.relname::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhseqno = 1
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.oid IN (` + relsSQL + `)
ORDER BY n.nspname, c.relname`

// columnsSQL resolves domains (also domains over domains) to their base
// type; a domain's typmod and NOT NULL carry over.
const columnsSQL = `
WITH RECURSIVE dom(start, typ, typmod, nn) AS (
    SELECT t.oid, t.typbasetype, t.typtypmod, t.typnotnull FROM pg_type t WHERE t.typtype = 'd'
  UNION ALL
    SELECT d.start, t.typbasetype, CASE WHEN d.typmod >= 0 THEN d.typmod ELSE t.typtypmod END, d.nn OR t.typnotnull
    FROM dom d JOIN pg_type t ON t.oid = d.typ AND t.typtype = 'd'
), base AS (
    SELECT d.* FROM dom d JOIN pg_type t ON t.oid = d.typ AND t.typtype <> 'd'
)
SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod),
       bt.typname::text, CASE WHEN b.start IS NULL THEN a.atttypmod ELSE b.typmod END,
       NOT (a.attnotnull OR coalesce(b.nn, false)),
       a.attgenerated <> '',
       a.attidentity <> '' OR coalesce(pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%', false),
       a.attcollation <> 0,
       coalesce(co.collname::text, ''), coalesce(NOT co.collisdeterministic, false)
FROM pg_attribute a
LEFT JOIN base b ON b.start = a.atttypid
JOIN pg_type bt ON bt.oid = coalesce(b.typ, a.atttypid)
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum AND a.attgenerated = ''
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid IN (` + relsSQL + `) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

// constraintsSQL: primary keys and foreign keys. A foreign key to a
// partitioned table is cloned once per referenced partition with the same
// referencing table (conparentid set); only the original is reported.
const constraintsSQL = `
SELECT c.conrelid, c.contype::text, c.conname::text,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
       coalesce(rn.nspname::text, ''), coalesce(r.relname::text, ''),
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o),
       c.confdeltype::text
FROM pg_constraint c
LEFT JOIN pg_class r ON r.oid = c.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE c.contype IN ('p', 'f') AND c.conrelid IN (` + relsSQL + `)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint pc WHERE pc.oid = c.conparentid AND pc.conrelid = c.conrelid)
ORDER BY c.conrelid, c.contype, c.conname`

// uniquesSQL: valid unique indexes other than the primary key, key columns
// only (INCLUDE columns left out). Partial and expression indexes are
// skipped: they can't address rows, and a collision under them still fails
// the masking UPDATE loudly.
const uniquesSQL = `
SELECT i.indrelid, ic.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
             WHERE k.o <= i.indnkeyatts ORDER BY k.o)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indisunique AND NOT i.indisprimary AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
  AND i.indrelid IN (` + relsSQL + `)
ORDER BY i.indrelid, ic.relname`

const triggersSQL = `
SELECT tgrelid, tgname::text FROM pg_trigger
WHERE NOT tgisinternal AND tgrelid IN (` + relsSQL + `)
ORDER BY tgrelid, tgname`

var onDelete = map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

// Introspect describes every ordinary and partitioned table of the
// database, in every schema but the system ones. It reads in one
// REPEATABLE READ transaction so the parts agree.
func (e *Engine) Introspect(ctx context.Context) (*schema.Schema, error) {
	var s *schema.Schema
	err := e.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			s, err = introspect(ctx, tx)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("introspect postgres: %w", scrub(err))
	}
	return s, nil
}

func introspect(ctx context.Context, tx pgx.Tx) (*schema.Schema, error) {
	var encoding string
	if err := tx.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()`).Scan(&encoding); err != nil {
		return nil, fmt.Errorf("database encoding: %w", err)
	}
	s := &schema.Schema{DefaultSchema: "public"}
	byOID := map[uint32]*schema.Table{}

	rows, _ := tx.Query(ctx, tablesSQL)
	var (
		oid                  uint32
		ns, name             string
		partitioned          bool
		est                  int64
		parentNS, parentName *string
	)
	_, err := pgx.ForEachRow(rows, []any{&oid, &ns, &name, &partitioned, &est, &parentNS, &parentName}, func() error {
		t := &schema.Table{
			TableName:     schema.TableName{Schema: ns, Name: name},
			Partitioned:   partitioned,
			EstimatedRows: max(est, 0),
		}
		if parentName != nil {
			t.Parent = &schema.TableName{Schema: *parentNS, Name: *parentName}
		}
		s.Tables = append(s.Tables, t)
		byOID[oid] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}

	var (
		colName, dataType, typName, collation string
		typmod                                int32
		nullable, generated, identity         bool
		collatable, nondeterministic          bool
	)
	rows, _ = tx.Query(ctx, columnsSQL)
	_, err = pgx.ForEachRow(rows, []any{&oid, &colName, &dataType, &typName, &typmod, &nullable, &generated, &identity, &collatable, &collation, &nondeterministic}, func() error {
		t := byOID[oid]
		if t == nil {
			return nil // created after the tables query: can't happen in one snapshot
		}
		col := &schema.Column{
			Name:      colName,
			DataType:  dataType,
			Nullable:  nullable,
			Generated: generated,
			Identity:  identity,
		}
		classify(col, typName, typmod)
		if collatable {
			col.Collation = collation
			col.CaseInsensitive = col.CaseInsensitive || nondeterministic
		}
		if col.Kind == schema.KindText || col.Kind == schema.KindJSON {
			col.Charset = encoding
		}
		t.Columns = append(t.Columns, col)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}

	var (
		conType, conName, refNS, refName, delType string
		cols, refCols                             []string
	)
	rows, _ = tx.Query(ctx, constraintsSQL)
	_, err = pgx.ForEachRow(rows, []any{&oid, &conType, &conName, &cols, &refNS, &refName, &refCols, &delType}, func() error {
		t := byOID[oid]
		if t == nil {
			return nil
		}
		switch conType {
		case "p":
			t.PrimaryKey = cols
		case "f":
			t.ForeignKeys = append(t.ForeignKeys, schema.ForeignKey{
				Name:       conName,
				Columns:    cols,
				RefTable:   schema.TableName{Schema: refNS, Name: refName},
				RefColumns: refCols,
				OnDelete:   onDelete[delType],
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("constraints: %w", err)
	}

	rows, _ = tx.Query(ctx, uniquesSQL)
	_, err = pgx.ForEachRow(rows, []any{&oid, &conName, &cols}, func() error {
		if t := byOID[oid]; t != nil {
			t.Uniques = append(t.Uniques, schema.Index{Name: conName, Columns: cols})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unique indexes: %w", err)
	}

	rows, _ = tx.Query(ctx, triggersSQL)
	_, err = pgx.ForEachRow(rows, []any{&oid, &conName}, func() error {
		if t := byOID[oid]; t != nil {
			t.Triggers = append(t.Triggers, conName)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}
	return s, nil
}

// classify sets Kind and its size attributes from the base type's name and
// typmod.
func classify(c *schema.Column, typName string, typmod int32) {
	const varhdrsz = 4
	switch typName {
	case "text", "name":
		c.Kind = schema.KindText
	case "varchar", "bpchar":
		c.Kind = schema.KindText
		if typmod >= varhdrsz {
			c.MaxLength = int(typmod - varhdrsz)
		}
		c.PadSpace = typName == "bpchar"
	case "citext":
		c.Kind = schema.KindText
		c.CaseInsensitive = true
	case "int2":
		c.Kind, c.IntBits = schema.KindInt, 16
	case "int4":
		c.Kind, c.IntBits = schema.KindInt, 32
	case "int8":
		c.Kind, c.IntBits = schema.KindInt, 64
	case "numeric":
		c.Kind = schema.KindDecimal
		if typmod >= varhdrsz {
			m := typmod - varhdrsz
			c.Precision = int(m>>16) & 0xffff
			// PostgreSQL 15 allows a negative scale: 11 bits, two's complement.
			c.Scale = int(((m & 0x7ff) ^ 1024) - 1024)
		}
	case "float4", "float8":
		c.Kind = schema.KindFloat
	case "bool":
		c.Kind = schema.KindBool
	case "date":
		c.Kind = schema.KindDate
	case "timestamp", "timestamptz":
		c.Kind = schema.KindDateTime
		c.Scale = fractional(typmod)
	case "time", "timetz":
		c.Kind = schema.KindTime
		c.Scale = fractional(typmod)
	case "json", "jsonb":
		c.Kind = schema.KindJSON
	case "bytea":
		c.Kind = schema.KindBinary
	default:
		c.Kind = schema.KindOther
	}
}

// fractional is the fractional-second digits of a time type's typmod
// (6, microseconds, when unconstrained).
func fractional(typmod int32) int {
	if typmod < 0 {
		return 6
	}
	return int(typmod)
}
