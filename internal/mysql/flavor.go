package mysql

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// Flavor is the kind of MySQL-family server: MariaDB (what the machines
// restage is developed on run) or MySQL 8 (Aurora MySQL 3, RDS MySQL 8.0).
// Every SQL difference between the two lives behind this one value, and
// the SQL of each flavor is pinned by golden files (flavor_test.go), since
// no MySQL 8 server runs in restage's CI. docs/local-mysql.md lists each
// difference.
type Flavor string

const (
	MariaDB Flavor = "mariadb"
	MySQL8  Flavor = "mysql8"
)

// FlavorOf tells the flavor from SELECT VERSION(): MariaDB says so
// ("10.11.6-MariaDB-0+deb12u1"); anything else is MySQL 8.
func FlavorOf(version string) Flavor {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return MariaDB
	}
	return MySQL8
}

// statsColumnsSQL lists the columns of a table (args: schema, table) that
// have value statistics: MariaDB's engine-independent statistics, MySQL 8's
// histograms.
func (f Flavor) statsColumnsSQL() string {
	if f == MariaDB {
		return `SELECT column_name FROM mysql.column_stats WHERE db_name = ? AND table_name = ?`
	}
	return `SELECT COLUMN_NAME FROM information_schema.COLUMN_STATISTICS WHERE SCHEMA_NAME = ? AND TABLE_NAME = ?`
}

// refreshStatsSQL recomputes the value statistics of cols from the
// table's current (masked) rows.
func (f Flavor) refreshStatsSQL(table string, cols []string) string {
	if f == MariaDB {
		return "ANALYZE TABLE " + quote(table) + " PERSISTENT FOR COLUMNS (" + quoteList("", cols) + ") INDEXES ALL"
	}
	return "ANALYZE TABLE " + quote(table) + " UPDATE HISTOGRAM ON " + quoteList("", cols)
}

// statsValuesSQL reads what the value statistics of a table hold (args:
// table, then the column when col is true): MariaDB min, max and
// histogram; MySQL 8 the histogram.
func (f Flavor) statsValuesSQL(col bool) string {
	q := `SELECT HISTOGRAM FROM information_schema.COLUMN_STATISTICS WHERE SCHEMA_NAME = DATABASE() AND TABLE_NAME = ?`
	if f == MariaDB {
		q = `SELECT min_value, max_value, histogram FROM mysql.column_stats WHERE db_name = DATABASE() AND table_name = ?`
	}
	if col {
		if f == MariaDB {
			return q + ` AND column_name = ?`
		}
		return q + ` AND COLUMN_NAME = ?`
	}
	return q
}

// statsValues extracts the values of one row of statsValuesSQL.
func (f Flavor) statsValues(row []*string) []string {
	var out []string
	if f == MariaDB {
		for _, v := range row[:2] {
			if v != nil {
				out = append(out, *v)
			}
		}
		if row[2] != nil {
			out = append(out, mariadbHistogram(*row[2])...)
		}
		return out
	}
	if row[0] != nil {
		out = append(out, mysql8Histogram(*row[0])...)
	}
	return out
}

// noPadCollationsSQL lists NO PAD collations, "" when the flavor names
// them instead (MariaDB: *_nopad_*).
func (f Flavor) noPadCollationsSQL() string {
	if f == MariaDB {
		return ""
	}
	return `SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE PAD_ATTRIBUTE = 'NO PAD'`
}

// checkedJSONSQL finds JSON columns stored as text (arg: schema): MariaDB
// has no JSON type — JSON is LONGTEXT with CHECK (json_valid(`col`)).
// MySQL 8's JSON is a type of its own, found by DATA_TYPE: "".
func (f Flavor) checkedJSONSQL() string {
	if f != MariaDB {
		return ""
	}
	return `SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = ? AND LOWER(CHECK_CLAUSE) LIKE 'json\_valid(%'`
}

// DumpTool is the client program that dumps a database of this flavor
// with --single-transaction: mariadb-dump reads MySQL 8 too, but MySQL 8's
// own mysqldump is what its users have.
func (f Flavor) DumpTool() string {
	if f == MariaDB {
		return "mariadb-dump"
	}
	return "mysqldump"
}

// ClientTool is the command-line client that loads a dump.
func (f Flavor) ClientTool() string {
	if f == MariaDB {
		return "mariadb"
	}
	return "mysql"
}

// mariadbHistogram extracts the bucket bounds of a MariaDB JSON_HB
// histogram ({"histogram_hb": [{"start": v, ..., "end": v}]}, binary
// values as start_hex/end_hex). Binary (SINGLE/DOUBLE_PREC_HB) histograms
// hold fractions, no values: nothing is returned for them.
func mariadbHistogram(h string) []string {
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

// mysql8Histogram extracts the values of a MySQL 8 histogram: singleton
// buckets [value, cumulative frequency], equi-height buckets [lower, upper,
// cumulative frequency, distinct values]; strings are
// "base64:typeNNN:<base64>".
func mysql8Histogram(h string) []string {
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

// loginsSQL lists accounts as (user, host, is a role, is locked): MariaDB
// keeps roles in mysql.user (is_role), MySQL 8 marks locked accounts
// (account_locked; its roles are locked accounts too).
func (f Flavor) loginsSQL() string {
	if f == MariaDB {
		return "SELECT User, Host, is_role, 'N' FROM mysql.user"
	}
	return "SELECT User, Host, 'N', account_locked FROM mysql.user"
}

// rolesOfSQL lists the roles granted to an account (args: user, host),
// each as REVOKE takes it: MariaDB's mysql.roles_mapping names a role
// (quoted by the caller), MySQL 8's mysql.role_edges a role account.
func (f Flavor) rolesOfSQL() string {
	if f == MariaDB {
		return "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = ?"
	}
	return "SELECT CONCAT(QUOTE(FROM_USER), '@', QUOTE(FROM_HOST)) FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = ?"
}

// clearDefaultRoleSQL clears an account's default role.
func (f Flavor) clearDefaultRoleSQL(account string) string {
	if f == MariaDB {
		return "SET DEFAULT ROLE NONE FOR " + account
	}
	return "ALTER USER " + account + " DEFAULT ROLE NONE"
}
