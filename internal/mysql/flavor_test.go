package mysql

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFlavorOf(t *testing.T) {
	for v, want := range map[string]Flavor{
		"10.11.6-MariaDB-0+deb12u1": MariaDB,
		"11.4.2-MariaDB":            MariaDB,
		"8.0.36":                    MySQL8,
		"8.0.mysql_aurora.3.05.2":   MySQL8,
		"8.4.0-commercial":          MySQL8,
		"5.5.5-10.11.6-MariaDB-log": MariaDB,
	} {
		if got := FlavorOf(v); got != want {
			t.Errorf("FlavorOf(%q) = %s, want %s", v, got, want)
		}
	}
}

// TestFlavorSQLGolden pins every statement that differs between MariaDB
// and MySQL 8. The MariaDB forms run against a real server in every test
// run; the MySQL 8 forms run only where RESTAGE_TEST_MYSQL8_DSN names a
// MySQL 8 server (none can be installed on restage's CI machines), so
// this file is what reviews them. -update rewrites the golden files.
func TestFlavorSQLGolden(t *testing.T) {
	for _, f := range []Flavor{MariaDB, MySQL8} {
		var b strings.Builder
		section := func(name, sql string) {
			fmt.Fprintf(&b, "-- %s\n%s\n\n", name, strings.TrimSpace(sql))
		}
		section("statistics: columns with value statistics (schema, table)", f.statsColumnsSQL())
		section("statistics: refresh from masked rows", f.refreshStatsSQL("customer", []string{"email", "last_name"}))
		section("statistics: values held, whole table (table)", f.statsValuesSQL(false))
		section("statistics: values held, one column (table, column)", f.statsValuesSQL(true))
		section("introspection: NO PAD collations (empty: known by name, *_nopad_*)", f.noPadCollationsSQL())
		section("introspection: JSON stored as checked text (schema; empty: JSON is a type)", f.checkedJSONSQL())
		section("local provider: dump and load tools", f.DumpTool()+" | "+f.ClientTool())
		section("admin: accounts as (user, host, is a role, is locked)", f.loginsSQL())
		section("admin: roles granted to an account (user, host)", f.rolesOfSQL())
		section("admin: clear an account's default role", f.clearDefaultRoleSQL("'app'@'%'"))
		section("rewrite: what keeps a table on the update path (schema, table)", f.rewriteBlockerSQL())
		path := filepath.Join("testdata", "flavor-"+string(f)+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFlavorSQLGolden -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s SQL differs from %s (run with -update if intended):\n%s", f, path, b.String())
		}
	}
}

func TestHistograms(t *testing.T) {
	maria := `{"target_histogram_size": 254, "collected_at": "2024-01-01 00:00:00", "collected_by": "10.11",
	  "histogram_hb": [{"start": "Aaron", "size": 0.5, "ndv": 3}, {"start_hex": "0041", "size": 0.5, "ndv": 2, "end": "Zoe"}]}`
	if got := mariadbHistogram(maria); !slices.Equal(got, []string{"Aaron", "\x00A", "Zoe"}) {
		t.Errorf("mariadb: %q", got)
	}
	if got := mariadbHistogram("\x01\x02binary"); got != nil {
		t.Errorf("binary histogram: %q", got)
	}
	mysql := `{"buckets": [["base64:type254:QWxpY2U=", 0.5], ["base64:type254:Qm9i", 1.0]], "data-type": "string"}`
	if got := mysql8Histogram(mysql); !slices.Equal(got, []string{"Alice", "Bob"}) {
		t.Errorf("mysql singleton: %q", got)
	}
	mysqlEH := `{"buckets": [[1, 10, 0.5, 10], [11, 12345678, 1.0, 5]], "data-type": "int"}`
	if got := mysql8Histogram(mysqlEH); !slices.Equal(got, []string{"1", "10", "11", "12345678"}) {
		t.Errorf("mysql equi-height: %q", got)
	}
	// A MySQL 8 histogram row as StatisticsValues reads it.
	s := mysql
	if got := MySQL8.statsValues([]*string{&s}); !slices.Equal(got, []string{"Alice", "Bob"}) {
		t.Errorf("mysql8 statsValues: %q", got)
	}
	lo, hi := "Aaron", "Zoe"
	if got := MariaDB.statsValues([]*string{&lo, &hi, nil}); !slices.Equal(got, []string{"Aaron", "Zoe"}) {
		t.Errorf("mariadb statsValues: %q", got)
	}
}
