package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// Introspect describes every base table of the database from
// information_schema. Views are skipped; so are MariaDB system-versioned
// tables and sequences, whose TABLE_TYPE is not 'BASE TABLE'.
func (e *Engine) Introspect(ctx context.Context) (*schema.Schema, error) {
	s, err := e.introspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("introspect %s: %w", e.dbName, err)
	}
	return s, nil
}

func (e *Engine) introspect(ctx context.Context) (*schema.Schema, error) {
	s := &schema.Schema{DefaultSchema: ""}
	byName := map[string]*schema.Table{}
	err := e.each(ctx, `SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
		func(r *sql.Rows) error {
			t := &schema.Table{}
			if err := r.Scan(&t.Name, &t.EstimatedRows); err != nil {
				return err
			}
			s.Tables = append(s.Tables, t)
			byName[t.Name] = t
			return nil
		}, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}

	charsetMax := map[string]int{}
	err = e.each(ctx, `SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS`, func(r *sql.Rows) error {
		var cs string
		var n int
		if err := r.Scan(&cs, &n); err != nil {
			return err
		}
		charsetMax[cs] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("character sets: %w", err)
	}
	noPad, err := e.noPadCollations(ctx)
	if err != nil {
		return nil, fmt.Errorf("collations: %w", err)
	}
	jsonCols, err := e.mariadbJSONColumns(ctx)
	if err != nil {
		return nil, fmt.Errorf("check constraints: %w", err)
	}

	err = e.each(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE,
			COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), COALESCE(CHARACTER_OCTET_LENGTH, 0),
			COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0), COALESCE(DATETIME_PRECISION, 0),
			COALESCE(CHARACTER_SET_NAME, ''), COALESCE(COLLATION_NAME, ''), EXTRA, COALESCE(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
		func(r *sql.Rows) error {
			var table, nullable, dataType, extra, genExpr string
			var charLen, octetLen, prec, scale, dtPrec int64
			c := &schema.Column{}
			if err := r.Scan(&table, &c.Name, &c.DataType, &dataType, &nullable, &charLen, &octetLen,
				&prec, &scale, &dtPrec, &c.Charset, &c.Collation, &extra, &genExpr); err != nil {
				return err
			}
			t := byName[table]
			if t == nil {
				return nil // a view's column
			}
			c.Nullable = nullable == "YES"
			lx := strings.ToLower(extra)
			c.Generated = strings.Contains(lx, "generated") || strings.TrimSpace(genExpr) != ""
			c.OnUpdate = strings.Contains(lx, "on update")
			c.Identity = strings.Contains(lx, "auto_increment")
			c.Unsigned = strings.Contains(strings.ToLower(c.DataType), "unsigned")
			if c.Collation != "" {
				c.CaseInsensitive = strings.HasSuffix(c.Collation, "_ci") || strings.Contains(c.Collation, "_ci_")
				c.PadSpace = !noPad(c.Collation)
			}
			switch dt := strings.ToLower(dataType); dt {
			case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
				c.Kind = schema.KindText
				if jsonCols[[2]string{table, c.Name}] {
					c.Kind = schema.KindJSON
				}
				c.MaxLength = clampInt(charLen)
				// TEXT limits are bytes: a column can't hold more characters
				// than fit in its octets at the charset's widest character.
				if mx := charsetMax[c.Charset]; mx > 0 && octetLen > 0 && octetLen/int64(mx) < charLen {
					c.MaxLength = clampInt(octetLen / int64(mx))
				}
				if dt == "char" {
					c.PadSpace = true // trailing spaces are stripped on read
				}
			case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
				c.Kind = schema.KindInt
				c.IntBits = map[string]int{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}[dt]
			case "decimal", "numeric", "fixed":
				c.Kind = schema.KindDecimal
				c.Precision, c.Scale = int(prec), int(scale)
			case "float", "double", "real", "double precision":
				c.Kind = schema.KindFloat
			case "date":
				c.Kind = schema.KindDate
			case "datetime", "timestamp":
				c.Kind = schema.KindDateTime
				c.Scale = int(dtPrec)
			case "time":
				c.Kind = schema.KindTime
				c.Scale = int(dtPrec)
			case "json":
				c.Kind = schema.KindJSON
			case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
				c.Kind = schema.KindBinary
				c.MaxLength = clampInt(octetLen)
			default: // enum, set, bit, year, geometry family, inet6, uuid, ...
				c.Kind = schema.KindOther
				c.MaxLength = clampInt(charLen)
			}
			t.Columns = append(t.Columns, c)
			return nil
		}, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("columns: %w", err)
	}

	// Unique indexes and the primary key. An index with an expression part
	// (MySQL 8 functional key parts have no COLUMN_NAME) is left out: it
	// can't address rows by column values.
	type idx struct {
		table, name string
		cols        []string
		expr        bool
	}
	var idxs []*idx
	err = e.each(ctx, `SELECT TABLE_NAME, INDEX_NAME, COALESCE(COLUMN_NAME, '') FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
		func(r *sql.Rows) error {
			var table, name, col string
			if err := r.Scan(&table, &name, &col); err != nil {
				return err
			}
			if n := len(idxs); n == 0 || idxs[n-1].table != table || idxs[n-1].name != name {
				idxs = append(idxs, &idx{table: table, name: name})
			}
			x := idxs[len(idxs)-1]
			if col == "" {
				x.expr = true
			}
			x.cols = append(x.cols, col)
			return nil
		}, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("indexes: %w", err)
	}
	for _, x := range idxs {
		t := byName[x.table]
		if t == nil || x.expr {
			continue
		}
		if x.name == "PRIMARY" {
			t.PrimaryKey = x.cols
		} else {
			t.Uniques = append(t.Uniques, schema.Index{Name: x.name, Columns: x.cols})
		}
	}

	err = e.each(ctx, `SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME,
			k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE
		FROM information_schema.KEY_COLUMN_USAGE k
		JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
		  ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = k.TABLE_NAME
		WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
		func(r *sql.Rows) error {
			var table, name, col, refSchema, refTable, refCol, onDelete string
			if err := r.Scan(&table, &name, &col, &refSchema, &refTable, &refCol, &onDelete); err != nil {
				return err
			}
			t := byName[table]
			if t == nil {
				return nil
			}
			ref := schema.TableName{Name: refTable}
			if refSchema != e.dbName {
				// A reference into another database: name it so that it
				// never matches a table of this one.
				ref.Schema = refSchema
			}
			if n := len(t.ForeignKeys); n == 0 || t.ForeignKeys[n-1].Name != name {
				t.ForeignKeys = append(t.ForeignKeys, schema.ForeignKey{Name: name, RefTable: ref, OnDelete: onDelete})
			}
			fk := &t.ForeignKeys[len(t.ForeignKeys)-1]
			fk.Columns = append(fk.Columns, col)
			fk.RefColumns = append(fk.RefColumns, refCol)
			return nil
		}, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}

	err = e.each(ctx, `SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
		func(r *sql.Rows) error {
			var table, name string
			if err := r.Scan(&table, &name); err != nil {
				return err
			}
			if t := byName[table]; t != nil {
				t.Triggers = append(t.Triggers, name)
			}
			return nil
		}, e.dbName, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}

	err = e.each(ctx, `SELECT TABLE_NAME, PARTITION_NAME FROM information_schema.PARTITIONS
		WHERE TABLE_SCHEMA = ? AND PARTITION_NAME IS NOT NULL
		ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION`,
		func(r *sql.Rows) error {
			var table, name string
			if err := r.Scan(&table, &name); err != nil {
				return err
			}
			t := byName[table]
			if t == nil {
				return nil
			}
			if n := len(t.Partitions); n == 0 || t.Partitions[n-1] != name { // subpartitions repeat it
				t.Partitions = append(t.Partitions, name)
			}
			return nil
		}, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	return s, nil
}

// noPadCollations returns a test for NO PAD collations: MySQL 8 says so in
// COLLATIONS.PAD_ATTRIBUTE; MariaDB names them *_nopad_*.
func (e *Engine) noPadCollations(ctx context.Context) (func(string) bool, error) {
	q := e.flavor.noPadCollationsSQL()
	if q == "" {
		return func(c string) bool { return strings.Contains(c, "_nopad_") }, nil
	}
	nopad := map[string]bool{}
	err := e.each(ctx, q, func(r *sql.Rows) error {
		var c string
		if err := r.Scan(&c); err != nil {
			return err
		}
		nopad[c] = true
		return nil
	})
	return func(c string) bool { return nopad[c] }, err
}

// mariadbJSONColumns finds JSON columns stored as checked text (MariaDB;
// see Flavor.checkedJSONSQL).
func (e *Engine) mariadbJSONColumns(ctx context.Context) (map[[2]string]bool, error) {
	out := map[[2]string]bool{}
	q := e.flavor.checkedJSONSQL()
	if q == "" {
		return out, nil
	}
	err := e.each(ctx, q,
		func(r *sql.Rows) error {
			var table, clause string
			if err := r.Scan(&table, &clause); err != nil {
				return err
			}
			inner := strings.TrimSpace(clause)
			inner = strings.TrimSuffix(inner[len("json_valid("):], ")")
			if len(inner) >= 2 && inner[0] == '`' && inner[len(inner)-1] == '`' {
				col := strings.ReplaceAll(inner[1:len(inner)-1], "``", "`")
				out[[2]string{table, col}] = true
			}
			return nil
		}, e.dbName)
	return out, err
}

// each runs a query on the pool and calls fn for every row.
func (e *Engine) each(ctx context.Context, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func clampInt(n int64) int {
	const maxInt = int64(^uint(0) >> 1)
	if n > maxInt {
		return int(maxInt)
	}
	return int(n)
}
