package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Identity by server: host names can't tell whether two connection
// strings reach one server (an /etc/hosts alias, a DNS CNAME, 127.0.0.1 vs
// ::1 all spell one server differently), and MariaDB has no
// @@server_uuid. So the servers are asked: one session takes a named lock
// on a fresh random name, the other looks it up. No privilege is needed.

// SameServer reports whether sessions mine and other are on one
// MySQL/MariaDB server: mine takes GET_LOCK on a random name, other asks
// IS_USED_LOCK, which names the holding connection only on that server.
func SameServer(ctx context.Context, mine, other *sql.Conn) (bool, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	name := "restage-ident-" + hex.EncodeToString(b[:])
	var got sql.NullInt64
	var id int64
	if err := mine.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0), CONNECTION_ID()", name).Scan(&got, &id); err != nil {
		return false, fmt.Errorf("identity lock: %w", Scrub(err))
	}
	if !got.Valid || got.Int64 != 1 {
		return false, errors.New("identity lock: not granted")
	}
	defer func() { _, _ = mine.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name) }()
	var holder sql.NullInt64
	if err := other.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder); err != nil {
		return false, fmt.Errorf("identity lock lookup: %w", Scrub(err))
	}
	return holder.Valid && holder.Int64 == id, nil
}

// LowerCaseNames is @@lower_case_table_names: 0 means database names are
// case-sensitive, 1 and 2 that they compare case-insensitively.
func LowerCaseNames(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&n); err != nil {
		return 0, fmt.Errorf("read lower_case_table_names: %w", Scrub(err))
	}
	return n, nil
}

// SameName compares two database names the way a server with the given
// lower_case_table_names does.
func SameName(lctn int, a, b string) bool {
	if lctn == 0 {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// SameDatabase reports whether two go-sql-driver DSNs reach the same
// database, as the server sees it: the same server (SameServer), then the
// same database name under its case rules. It connects to both; errors
// never hold a password.
func SameDatabase(ctx context.Context, a, b string) (bool, error) {
	var cfgs [2]*mysql.Config
	var conns [2]*sql.Conn
	for i, s := range []string{a, b} {
		cfg, err := mysql.ParseDSN(s)
		if err != nil {
			return false, errors.New("invalid MySQL DSN")
		}
		cfgs[i] = cfg
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return false, errors.New("invalid connection settings")
		}
		h := sql.OpenDB(c)
		defer h.Close()
		conn, err := h.Conn(ctx)
		if err != nil {
			return false, fmt.Errorf("connect to %s: %w", cfg.Addr, redact(Scrub(err), cfg.Passwd))
		}
		defer conn.Close()
		conns[i] = conn
	}
	same, err := SameServer(ctx, conns[0], conns[1])
	if err != nil || !same {
		return false, err
	}
	lctn, err := LowerCaseNames(ctx, conns[0])
	if err != nil {
		return false, err
	}
	return SameName(lctn, cfgs[0].DBName, cfgs[1].DBName), nil
}

// TryLock takes the named lock name on session conn without waiting
// (GET_LOCK): the lock lives as long as the session or until Unlock. When
// another session holds it, got is false and holder is that session's
// connection id (0 if it let go meanwhile).
func TryLock(ctx context.Context, conn *sql.Conn, name string) (got bool, holder int64, err error) {
	var g sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&g); err != nil {
		return false, 0, Scrub(err)
	}
	if g.Valid && g.Int64 == 1 {
		return true, 0, nil
	}
	var h sql.NullInt64
	_ = conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&h)
	return false, h.Int64, nil
}

// Unlock releases the named lock name that session conn holds.
func Unlock(ctx context.Context, conn *sql.Conn, name string) error {
	var r sql.NullInt64
	return Scrub(conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", name).Scan(&r))
}
