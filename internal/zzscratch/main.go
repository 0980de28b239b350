package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/testdb/jpshop"
)

func main() {
	ctx := context.Background()
	my, _ := sql.Open("mysql", "root@unix(/run/mysqld/mysqld.sock)/")
	for _, q := range []string{"DROP DATABASE IF EXISTS jp_full", "CREATE DATABASE jp_full"} {
		must(my.Exec(q))
	}
	myf, _ := sql.Open("mysql", "root@unix(/run/mysqld/mysqld.sock)/jp_full")
	if _, err := jpshop.Load(ctx, myf, jpshop.MariaDB, 40000); err != nil {
		panic(err)
	}
	pg, _ := sql.Open("pgx", "postgres://restage:restage@127.0.0.1:5432/postgres")
	for _, q := range []string{"DROP DATABASE IF EXISTS jp_full", "CREATE DATABASE jp_full"} {
		must(pg.Exec(q))
	}
	pgf, _ := sql.Open("pgx", "postgres://restage:restage@127.0.0.1:5432/jp_full")
	if _, err := jpshop.Load(ctx, pgf, jpshop.Postgres, 40000); err != nil {
		panic(err)
	}
	fmt.Fprintln(os.Stderr, "loaded")
}

func must(_ sql.Result, err error) {
	if err != nil {
		panic(err)
	}
}
