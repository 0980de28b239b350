package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SameServer reports whether sessions mine and other are on one
// PostgreSQL server (cluster): mine takes an advisory lock on two random
// keys, other looks for it in pg_locks, which every role may read and
// which lists the locks of every database of its cluster. (The system
// identifier would need pg_control_system(), superuser by default.)
func SameServer(ctx context.Context, mine, other *pgx.Conn) (bool, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	k1 := int32(binary.BigEndian.Uint32(b[:4]) & 0x7fffffff)
	k2 := int32(binary.BigEndian.Uint32(b[4:]) & 0x7fffffff)
	var got bool
	var pid int32
	if err := mine.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::int4, $2::int4), pg_backend_pid()", k1, k2).Scan(&got, &pid); err != nil {
		return false, fmt.Errorf("identity lock: %w", scrub(err))
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
		return false, fmt.Errorf("identity lock lookup: %w", scrub(err))
	}
	return holder == pid, nil
}

// CurrentOID is the OID of the session's database.
func CurrentOID(ctx context.Context, c *pgx.Conn) (int64, error) {
	var oid int64
	err := c.QueryRow(ctx, "SELECT oid::bigint FROM pg_database WHERE datname = current_database()").Scan(&oid)
	return oid, scrub(err)
}

// SameDatabase reports whether two connection strings reach the same
// database, as the server sees it: the same server (SameServer), then the
// same database OID. It connects to both; errors never hold a password.
func SameDatabase(ctx context.Context, a, b string) (bool, error) {
	var conns [2]*pgx.Conn
	var oids [2]int64
	for i, s := range []string{a, b} {
		cfg, err := pgx.ParseConfig(s)
		if err != nil {
			return false, errors.New("connection string can't be parsed (details withheld: it may hold a password)")
		}
		c, err := connect(ctx, cfg)
		if err != nil {
			return false, fmt.Errorf("connect: %w", err)
		}
		defer closeConn(c)
		conns[i] = c
		if oids[i], err = CurrentOID(ctx, c); err != nil {
			return false, err
		}
	}
	same, err := SameServer(ctx, conns[0], conns[1])
	if err != nil || !same {
		return false, err
	}
	return oids[0] == oids[1], nil
}

// TryLock takes the session-level advisory lock key on c without waiting;
// it lives as long as the session or until Unlock.
func TryLock(ctx context.Context, c *pgx.Conn, key int64) (bool, error) {
	var got bool
	err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got)
	return got, scrub(err)
}

// Unlock releases the advisory lock key that session c holds.
func Unlock(ctx context.Context, c *pgx.Conn, key int64) error {
	_, err := c.Exec(ctx, "SELECT pg_advisory_unlock($1)", key)
	return scrub(err)
}

// LockHolder says which session holds the advisory lock key in c's
// database: its backend pid and application name; ok is false when none
// does (or it can't be read).
func LockHolder(ctx context.Context, c *pgx.Conn, key int64) (pid int32, app string, ok bool) {
	err := c.QueryRow(ctx, `SELECT l.pid, coalesce(a.application_name, '')
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.classid = (($1::bigint >> 32) & 4294967295)::bigint::oid AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1
		LIMIT 1`, key).Scan(&pid, &app)
	return pid, app, err == nil
}
