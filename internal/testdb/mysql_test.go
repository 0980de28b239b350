package testdb

import (
	"database/sql"
	"strings"
	"sync"
	"testing"

	_ "github.com/go-sql-driver/mysql"
)

func TestRewriteSakila(t *testing.T) {
	in := "DROP SCHEMA IF EXISTS sakila;\nCREATE SCHEMA sakila;\nUSE sakila;\nSELECT 1 FROM sakila.film f, 'MARY@sakilacustomer.org';\n"
	got := string(rewriteSakila([]byte(in), "x_1"))
	want := "USE `x_1`;\nSELECT 1 FROM `x_1`.film f, 'MARY@sakilacustomer.org';\n"
	if got != want {
		t.Errorf("rewriteSakila =\n%q\nwant\n%q", got, want)
	}
}

func TestLoadSakilaMySQLConcurrently(t *testing.T) {
	type db struct{ dsn, name string }
	dbs := make([]db, 2)
	for i := range dbs {
		dbs[i].dsn, dbs[i].name = MySQL(t)
	}
	if dbs[0].name == dbs[1].name {
		t.Fatalf("two databases share the name %s", dbs[0].name)
	}
	var wg sync.WaitGroup
	for _, d := range dbs {
		wg.Go(func() { LoadSakilaMySQL(t, d.dsn) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := map[string]int{"actor": 200, "customer": 599, "film": 1000, "film_text": 1000, "rental": 16044, "payment": 16049}
	for _, d := range dbs {
		conn, err := sql.Open("mysql", d.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for table, n := range want {
			var got int
			if err := conn.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&got); err != nil {
				t.Fatalf("%s: count %s: %v", d.name, table, err)
			}
			if got != n {
				t.Errorf("%s: %s has %d rows, want %d", d.name, table, got, n)
			}
		}
		// Views resolve inside the target database, not in a `sakila` schema.
		var n int
		if err := conn.QueryRow("SELECT COUNT(*) FROM actor_info").Scan(&n); err != nil {
			t.Fatalf("%s: actor_info view: %v", d.name, err)
		}
		var def string
		if err := conn.QueryRow("SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'actor_info'").Scan(&def); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(def, "`sakila`") {
			t.Errorf("%s: actor_info still names the sakila schema", d.name)
		}
	}
}
