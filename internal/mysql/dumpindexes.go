package mysql

import (
	"bytes"
	"regexp"
	"slices"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// The masking copy builds the secondary indexes over masked columns after
// the table's rows, as the in-place path does (internal/mysql
// DeferIndexes): masked values arrive in no particular order, and a
// B-tree filled in random order (a unique e-mail index) costs the load
// far more than one sorted build afterwards.

// myIndexLine matches a plain B-tree index line of SHOW CREATE TABLE
// (FULLTEXT and SPATIAL are not deferred).
var myIndexLine = regexp.MustCompile("^  ((?:UNIQUE )?KEY) `((?:[^`]|``)+)` \\((.*)\\)(.*?),?$")

var myBackticked = regexp.MustCompile("`((?:[^`]|``)+)`")

// myCreateLine is an element line of SHOW CREATE TABLE whose shape the
// deferral understands; a table with any other line keeps its indexes.
var myCreateLine = regexp.MustCompile("^  (`|PRIMARY KEY |UNIQUE KEY |KEY |FULLTEXT KEY |SPATIAL KEY |CONSTRAINT )")

// myDeferIndexes takes the CREATE TABLE statement of a masked table from
// the dump and returns it without the indexes to build after the rows,
// and the ALTER TABLE that builds them (nil when none is deferred).
//
// SHOW CREATE TABLE lists indexes by kind (unique before plain) and, within
// a kind, in the order they were made; an index added later comes after
// its kind's others. So what is deferred is every index from the first one
// covering a masked column to the last: added back in order, they take
// their places again. Nothing is deferred when one of them is FULLTEXT or
// SPATIAL, may serve a foreign key (of this table, or of another table
// referring to it), or the table has no primary key (InnoDB would cluster
// on a unique index instead).
func myDeferIndexes(create []byte, t *schema.Table, masked map[string]bool, referenced [][]string) ([]byte, []byte, []string) {
	if len(t.PrimaryKey) == 0 {
		return create, nil, nil
	}
	lines := strings.Split(strings.TrimSuffix(string(create), "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "CREATE TABLE ") || !strings.HasPrefix(lines[len(lines)-1], ")") {
		return create, nil, nil
	}
	elems := lines[1 : len(lines)-1]
	first := -1
	for i, l := range elems {
		if !myCreateLine.MatchString(l) {
			return create, nil, nil
		}
		m := myIndexLine.FindStringSubmatch(l)
		if m == nil || first >= 0 {
			continue
		}
		for _, c := range myIndexCols(m[3]) {
			if masked[c] {
				first = i
			}
		}
	}
	if first < 0 {
		return create, nil, nil
	}
	needs := [][]string{}
	for _, fk := range t.ForeignKeys {
		needs = append(needs, fk.Columns)
	}
	needs = append(needs, referenced...)
	var keep, adds, names []string
	for i, l := range elems {
		isKey := strings.HasPrefix(l, "  UNIQUE KEY ") || strings.HasPrefix(l, "  KEY ") ||
			strings.HasPrefix(l, "  FULLTEXT KEY ") || strings.HasPrefix(l, "  SPATIAL KEY ")
		if i < first || !isKey {
			keep = append(keep, strings.TrimSuffix(l, ","))
			continue
		}
		m := myIndexLine.FindStringSubmatch(l)
		if m == nil {
			return create, nil, nil
		}
		cols := myIndexCols(m[3])
		for _, n := range needs {
			if len(n) > 0 && len(n) <= len(cols) && slices.Equal(cols[:len(n)], n) {
				return create, nil, nil
			}
		}
		adds = append(adds, "ADD "+strings.TrimSuffix(strings.TrimSpace(l), ","))
		names = append(names, strings.ReplaceAll(m[2], "``", "`"))
	}
	var out bytes.Buffer
	out.WriteString(lines[0] + "\n")
	out.WriteString(strings.Join(keep, ",\n") + "\n")
	out.WriteString(lines[len(lines)-1] + "\n")
	alter := "ALTER TABLE " + Quote(t.TableName.Name) + " " + strings.Join(adds, ", ") + ";\n"
	return out.Bytes(), []byte(alter), names
}

// myIndexCols are the column names of an index's column list
// ("`a`,`b`(10)").
func myIndexCols(list string) []string {
	var out []string
	for _, c := range myBackticked.FindAllStringSubmatch(list, -1) {
		out = append(out, strings.ReplaceAll(c[1], "``", "`"))
	}
	return out
}
