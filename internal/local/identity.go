package local

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/dsn"
)

// Identity by server. Host names can't tell whether two connection strings
// reach one server: an /etc/hosts alias, a DNS CNAME, 127.0.0.1 vs ::1 vs
// a LAN address all spell the same server differently. So restage asks the
// servers: one session takes a lock named by a fresh random token, the
// other looks the token up among the locks its server holds. Only the same
// server can see it. MariaDB has no @@server_uuid, and PostgreSQL's system
// identifier needs pg_control_system() (superuser by default); named and
// advisory locks work everywhere and need no privilege.

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mysqlSameServer reports whether sessions mine and other are on one
// MySQL/MariaDB server: mine takes GET_LOCK on a random name, other asks
// IS_USED_LOCK, which names the holding connection only on that server.
func mysqlSameServer(ctx context.Context, mine, other *sql.Conn) (bool, error) {
	name := "restage-ident-" + randomToken()
	var got sql.NullInt64
	var id int64
	if err := mine.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0), CONNECTION_ID()", name).Scan(&got, &id); err != nil {
		return false, fmt.Errorf("identity lock: %w", mysqlScrub(err))
	}
	if !got.Valid || got.Int64 != 1 {
		return false, errors.New("identity lock: not granted")
	}
	defer func() { _, _ = mine.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name) }()
	var holder sql.NullInt64
	if err := other.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder); err != nil {
		return false, fmt.Errorf("identity lock lookup: %w", mysqlScrub(err))
	}
	return holder.Valid && holder.Int64 == id, nil
}

// mysqlLowerCaseNames is @@lower_case_table_names: 0 means database names
// are case-sensitive, 1 and 2 that they compare case-insensitively.
func mysqlLowerCaseNames(ctx context.Context, q mysqlQuerier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&n); err != nil {
		return 0, fmt.Errorf("read lower_case_table_names: %w", mysqlScrub(err))
	}
	return n, nil
}

// mysqlSameName compares two database names the way a server with the
// given lower_case_table_names does.
func mysqlSameName(lctn int, a, b string) bool {
	if lctn == 0 {
		return a == b
	}
	return strings.EqualFold(a, b)
}

// pgSameServer reports whether sessions mine and other are on one
// PostgreSQL server (cluster): mine takes an advisory lock on two random
// keys, other looks for it in pg_locks, which every role may read and
// which lists the locks of every database of its cluster.
func pgSameServer(ctx context.Context, mine, other *pgx.Conn) (bool, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	k1 := int32(binary.BigEndian.Uint32(b[:4]) & 0x7fffffff)
	k2 := int32(binary.BigEndian.Uint32(b[4:]) & 0x7fffffff)
	var got bool
	var pid int32
	if err := mine.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::int4, $2::int4), pg_backend_pid()", k1, k2).Scan(&got, &pid); err != nil {
		return false, fmt.Errorf("identity lock: %w", pgScrub(err))
	}
	if !got {
		return false, errors.New("identity lock: not granted")
	}
	defer func() {
		_, _ = mine.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1::int4, $2::int4)", k1, k2)
	}()
	var holder int32
	err := other.QueryRow(ctx, `SELECT coalesce((SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2
		LIMIT 1), 0)`, k1, k2).Scan(&holder)
	if err != nil {
		return false, fmt.Errorf("identity lock lookup: %w", pgScrub(err))
	}
	return holder == pid, nil
}

// pgCurrentOID is the OID of the session's database.
func pgCurrentOID(ctx context.Context, c *pgx.Conn) (int64, error) {
	var oid int64
	err := c.QueryRow(ctx, "SELECT oid::bigint FROM pg_database WHERE datname = current_database()").Scan(&oid)
	return oid, pgScrub(err)
}

// SameDatabase reports whether two connection strings reach the same
// database, as the servers see it: the same server (a lock token one
// session holds and the other finds) and then the same database name
// under the server's case rules (MySQL) or the same database OID
// (PostgreSQL). It connects to both; errors never hold a password.
func SameDatabase(ctx context.Context, a, b string) (bool, error) {
	da, err := dsn.Parse(a)
	if err != nil {
		return false, err
	}
	db, err := dsn.Parse(b)
	if err != nil {
		return false, err
	}
	if da.Engine != db.Engine {
		return false, nil
	}
	if da.Engine == dsn.Postgres {
		return pgSameDatabase(ctx, a, b)
	}
	return mysqlSameDatabase(ctx, a, b)
}

func mysqlSameDatabase(ctx context.Context, a, b string) (bool, error) {
	ca, err := mysqlParse(a)
	if err != nil {
		return false, err
	}
	cb, err := mysqlParse(b)
	if err != nil {
		return false, err
	}
	var conns [2]*sql.Conn
	for i, c := range []*mysql.Config{ca, cb} {
		h, err := mysqlOpen(c)
		if err != nil {
			return false, err
		}
		defer h.Close()
		conn, err := h.Conn(ctx)
		if err != nil {
			return false, fmt.Errorf("connect to %s: %w", c.Addr, mysqlRedact(mysqlScrub(err), c.Passwd))
		}
		defer conn.Close()
		conns[i] = conn
	}
	same, err := mysqlSameServer(ctx, conns[0], conns[1])
	if err != nil || !same {
		return false, err
	}
	lctn, err := mysqlLowerCaseNames(ctx, conns[0])
	if err != nil {
		return false, err
	}
	return mysqlSameName(lctn, ca.DBName, cb.DBName), nil
}

func pgSameDatabase(ctx context.Context, a, b string) (bool, error) {
	var conns [2]*pgx.Conn
	var oids [2]int64
	for i, s := range []string{a, b} {
		cfg, err := pgx.ParseConfig(s)
		if err != nil {
			return false, errors.New("connection string can't be parsed (details withheld: it may hold a password)")
		}
		c, err := pgConnect(ctx, cfg)
		if err != nil {
			return false, fmt.Errorf("connect: %w", err)
		}
		defer pgClose(c)
		conns[i] = c
		if oids[i], err = pgCurrentOID(ctx, c); err != nil {
			return false, err
		}
	}
	same, err := pgSameServer(ctx, conns[0], conns[1])
	if err != nil || !same {
		return false, err
	}
	return oids[0] == oids[1], nil
}
