package mysql_test

import (
	"bytes"
	"context"
	"database/sql"
	"testing"

	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/testdb"
)

// TestMoveSchema moves a schema's tables and the objects RENAME TABLE
// can't carry into another schema, as the local provider's switch does.
func TestMoveSchema(t *testing.T) {
	ctx := context.Background()
	fromDSN, from := testdb.MySQL(t)
	_, to := testdb.MySQL(t)
	db, err := sql.Open("mysql", fromDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := mysql.Quote(from)
	for _, s := range []string{
		"CREATE TABLE parent (id INT PRIMARY KEY)",
		"CREATE TABLE t (id INT PRIMARY KEY, n INT, p INT, FOREIGN KEY (p) REFERENCES parent (id))",
		"CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = NEW.id * 2",
		"CREATE VIEW v1 AS SELECT id, n FROM " + q + ".t",
		"CREATE VIEW v0 AS SELECT id FROM v1",
		"CREATE PROCEDURE p1() SELECT COUNT(*) FROM " + q + ".t",
	} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	objs, err := mysql.Objects(ctx, conn, from)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind+" "+o.Name)
	}
	// v0 is listed before the view it reads: EnsureObjects must retry it.
	if len(objs) != 4 || objs[0].Kind != "TRIGGER" || objs[1].Name != "v0" {
		t.Fatalf("objects %v, want the trigger, views v0 and v1 and the procedure", kinds)
	}
	tables, err := mysql.Tables(ctx, conn, from)
	if err != nil || len(tables) != 2 {
		t.Fatalf("tables %v, %v; want parent and t", tables, err)
	}
	if err := mysql.DropObjects(ctx, conn, from, objs); err != nil {
		t.Fatal(err)
	}
	var moves []mysql.TableMove
	for _, tb := range []string{"t", "parent"} { // the referencing table first
		moves = append(moves, mysql.TableMove{Table: tb, From: from, To: to})
	}
	if err := mysql.RenameTables(ctx, conn, moves); err != nil {
		t.Fatalf("rename tables: %v", err)
	}
	rw := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(q+"."), []byte(mysql.Quote(to)+".")) }
	for range 2 { // idempotent
		if err := mysql.EnsureObjects(ctx, conn, objs, to, rw); err != nil {
			t.Fatalf("ensure objects: %v", err)
		}
	}
	qt := mysql.Quote(to)
	for _, s := range []string{"INSERT INTO " + qt + ".parent VALUES (1)", "INSERT INTO " + qt + ".t (id, p) VALUES (21, 1)"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT n FROM "+qt+".v1 WHERE id = 21").Scan(&n); err != nil || n != 42 {
		t.Errorf("through the moved view and trigger: n = %d, %v; want 42", n, err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qt+".v0").Scan(&n); err != nil || n != 1 {
		t.Errorf("the view on a view: %d rows, %v; want 1", n, err)
	}
	if left, err := mysql.Objects(ctx, conn, from); err != nil || len(left) != 0 {
		t.Errorf("objects left in the source schema: %v, %v", left, err)
	}
}
