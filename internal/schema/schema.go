// Package schema holds the engine-neutral description of a database that the
// masking planner checks rules against. Engines fill it by introspection.
package schema

import (
	"fmt"
	"strings"
)

// Kind is the broad family of a column's type, which decides which
// transformers can produce values for it.
type Kind int

// Column kinds. KindOther covers what no transformer but keep/fixed/nullify
// handles (enum, set, uuid, arrays, spatial, ...).
const (
	KindOther Kind = iota
	KindText
	KindInt
	KindDecimal
	KindFloat
	KindBool
	KindDate
	KindDateTime // timestamp, datetime, timestamptz
	KindTime
	KindJSON
	KindBinary
)

var kindNames = [...]string{"other", "text", "int", "decimal", "float", "bool", "date", "datetime", "time", "json", "binary"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// TableName names a table. Schema is the PostgreSQL namespace; it is empty on
// MySQL, where the database itself is the namespace.
type TableName struct {
	Schema string
	Name   string
}

func (n TableName) String() string {
	if n.Schema == "" {
		return n.Name
	}
	return n.Schema + "." + n.Name
}

// Column is one column of a table as the server describes it.
type Column struct {
	Name     string
	DataType string // as the server prints it, e.g. "varchar(45)", "character varying(45)"
	Kind     Kind
	// MaxLength is the maximum length in characters for text kinds (bytes
	// for binary); 0 means unbounded.
	MaxLength int
	// Precision and Scale for KindDecimal (digits); Scale also for
	// fractional seconds of KindDateTime/KindTime.
	Precision int
	Scale     int
	// IntBits is 8, 16, 24, 32 or 64 for KindInt.
	IntBits  int
	Unsigned bool
	Nullable bool
	// Charset is the column's character set ("utf8mb4", "utf8mb3", "latin1",
	// "ascii"; PostgreSQL reports the database encoding, e.g. "UTF8").
	Charset   string
	Collation string
	// CaseInsensitive is true when the collation compares case-insensitively
	// (MySQL *_ci collations, PostgreSQL nondeterministic collations, citext).
	CaseInsensitive bool
	// PadSpace is true when trailing spaces are ignored in comparisons
	// (MySQL PAD SPACE collations, char(n) columns).
	PadSpace bool
	// Generated columns (stored or virtual) can't be written.
	Generated bool
	// OnUpdate is true for MySQL "ON UPDATE CURRENT_TIMESTAMP" columns: an
	// UPDATE must pin them or they change.
	OnUpdate bool
	// Identity marks auto-increment / identity / serial columns.
	Identity bool
}

// Index is a unique index or constraint.
type Index struct {
	Name    string
	Columns []string
}

// ForeignKey is an outgoing reference from a table.
type ForeignKey struct {
	Name       string
	Columns    []string
	RefTable   TableName
	RefColumns []string
	OnDelete   string // "CASCADE", "SET NULL", "RESTRICT", "NO ACTION", "SET DEFAULT"
}

// Table is one base table (views are not tables here).
type Table struct {
	TableName
	Columns     []*Column
	PrimaryKey  []string
	Uniques     []Index // unique indexes/constraints, the primary key excluded
	ForeignKeys []ForeignKey
	Triggers    []string
	// Parent is set on a partition or an inherited child table: it follows
	// its parent in truncation and masking plans.
	Parent *TableName
	// Partitioned is true for a PostgreSQL partitioned (parent-only) table,
	// which holds no rows itself. MySQL partitions are not separate tables.
	Partitioned bool
	// Partitions lists MySQL partition names (informational).
	Partitions []string
	// EstimatedRows is the server's estimate, used for scheduling only.
	EstimatedRows int64
}

// Column returns the named column or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// UniqueColumn reports whether name is covered by a single-column unique
// index or primary key, or is part of a multi-column one (which counts: a
// masked value there must keep the tuple unique).
func (t *Table) UniqueColumn(name string) bool {
	for _, c := range t.PrimaryKey {
		if c == name {
			return true
		}
	}
	for _, ix := range t.Uniques {
		for _, c := range ix.Columns {
			if c == name {
				return true
			}
		}
	}
	return false
}

// Schema is a whole database: its base tables in a stable order.
type Schema struct {
	Tables []*Table
	// DefaultSchema is the namespace unqualified names resolve to
	// ("public" on PostgreSQL, "" on MySQL).
	DefaultSchema string
}

// Table finds a table by a name as written in a rules file: "name" (in the
// default schema) or "schema.name".
func (s *Schema) Table(name string) *Table {
	n := TableName{Schema: s.DefaultSchema, Name: name}
	if i := strings.IndexByte(name, '.'); i >= 0 && s.DefaultSchema != "" {
		n = TableName{Schema: name[:i], Name: name[i+1:]}
	}
	return s.Lookup(n)
}

// Lookup finds a table by its exact name.
func (s *Schema) Lookup(n TableName) *Table {
	for _, t := range s.Tables {
		if t.TableName == n {
			return t
		}
	}
	return nil
}

// ReferencedBy returns the tables with a foreign key to t (t itself
// included when it references itself).
func (s *Schema) ReferencedBy(t TableName) []*Table {
	var out []*Table
	for _, o := range s.Tables {
		for _, fk := range o.ForeignKeys {
			if fk.RefTable == t {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// Children returns the partitions / inherited children of t.
func (s *Schema) Children(t TableName) []*Table {
	var out []*Table
	for _, o := range s.Tables {
		if o.Parent != nil && *o.Parent == t {
			out = append(out, o)
		}
	}
	return out
}
