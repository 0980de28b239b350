package dsn

import "testing"

func TestSameDatabase(t *testing.T) {
	a := DSN{Engine: Postgres, Host: "localhost", Port: "5432", Database: "prod"}
	b := DSN{Engine: Postgres, Host: "127.0.0.1", Port: "5432", Database: "prod"}
	c := DSN{Engine: Postgres, Host: "127.0.0.1", Port: "5432", Database: "staging"}
	if !SameDatabase(a, b) {
		t.Error("localhost and 127.0.0.1 with the same db: want same")
	}
	if SameDatabase(a, c) {
		t.Error("different databases: want different")
	}
}
