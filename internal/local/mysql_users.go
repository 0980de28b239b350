package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/restage/restage/internal/preserve"
	"github.com/restage/restage/internal/refresh"
)

// myAccount is a MySQL account: a login name and the hosts it may come
// from.
type myAccount struct{ User, Host string }

func (a myAccount) String() string { return a.User + "@" + a.Host }

// mysqlSystemUsers are accounts servers create for themselves.
var mysqlSystemUsers = []string{"mariadb.sys", "mysql.sys", "mysql.session", "mysql.infoschema"}

var myPrivileges = map[string]string{
	"read":  "SELECT",
	"write": "SELECT, INSERT, UPDATE, DELETE",
}

// Users keeps production's logins out, then gives each staging user
// access to db. Accounts are server-wide and production may use them, so
// nothing here alters, locks or drops an existing account: a missing
// staging user is created, and access is granted per database — on the
// stable staging name (database grants go by name and survive the
// switch's RENAME TABLE) and on db itself, so each user's login can be
// checked against the new data before the switch.
func (p *mysqlProvider) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	prod, err := p.productionAccounts(ctx)
	if err != nil {
		return fmt.Errorf("users on %s: %w", db.Name, err)
	}
	var shared []string
	for _, a := range prod {
		why, err := p.canReadStaging(ctx, a, db.Name)
		if err != nil {
			return fmt.Errorf("users on %s: %w", db.Name, err)
		}
		if why != "" {
			shared = append(shared, a.String()+" ("+why+")")
		}
	}
	if len(shared) > 0 {
		if !p.cfg.AcceptSharedLogins {
			return fmt.Errorf("users on %s: production login %s: %w", db.Name, strings.Join(shared, ", "), refresh.ErrSharedLogin)
		}
		p.log.Warn("production logins can read staging (accepted)", "step", "users", "target", p.cfg.Target, "logins", strings.Join(shared, ", "))
	}
	for _, u := range users {
		for _, a := range prod {
			if a.User == u.Name {
				return fmt.Errorf("users on %s: staging user %s is also a production login", db.Name, u.Name)
			}
		}
		if err := p.user(ctx, db, u); err != nil {
			return fmt.Errorf("users on %s: staging user %s: %w", db.Name, u.Name, err)
		}
	}
	return nil
}

func (p *mysqlProvider) user(ctx context.Context, db *refresh.DB, u refresh.StagingUser) error {
	hosts, err := mysqlStrings(ctx, p.admin, "SELECT Host FROM mysql.user WHERE User = ? AND Host <> '' ORDER BY Host", u.Name)
	if err != nil {
		return fmt.Errorf("look up account: %w", err)
	}
	if u.Password == "" {
		// The old system's way: the account exists; copy its grants on
		// the staging DB to the new DB. Without a password there is no
		// login to check.
		if len(hosts) == 0 {
			return errors.New("no password given and no account to copy grants from")
		}
		n, err := p.copyGrants(ctx, u.Name, hosts, db.Name)
		if err != nil {
			return err
		}
		p.log.Info("grants copied from the staging DB; login not checked (no password)", "step", "users", "target", p.cfg.Target, "user", u.Name, "grants", n)
		return nil
	}
	privs, ok := myPrivileges[u.Privileges]
	if !ok {
		return fmt.Errorf("privileges %q: want read or write", u.Privileges)
	}
	if len(hosts) == 0 {
		hosts = []string{"%"}
		// An anonymous ''@'localhost' account would win over 'u'@'%' for
		// local logins.
		var anon int
		if err := p.admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = '' AND Host = 'localhost'").Scan(&anon); err != nil {
			return fmt.Errorf("look up anonymous accounts: %w", mysqlScrub(err))
		}
		if anon > 0 {
			hosts = append(hosts, "localhost")
		}
		for _, h := range hosts {
			if _, err := p.admin.ExecContext(ctx, "CREATE USER ?@? IDENTIFIED BY ?", u.Name, h, u.Password); err != nil {
				return fmt.Errorf("create account %s@%s: %w", u.Name, h, mysqlRedact(mysqlScrub(err), u.Password))
			}
		}
		p.log.Info("account created", "step", "users", "target", p.cfg.Target, "user", u.Name, "hosts", strings.Join(hosts, ","))
	}
	for _, h := range hosts {
		for _, name := range []string{p.stagingName, db.Name} {
			if _, err := p.admin.ExecContext(ctx, "GRANT "+privs+" ON "+mysqlGrantDB(name)+".* TO ?@?", u.Name, h); err != nil {
				return fmt.Errorf("grant %s on %s to %s@%s: %w", u.Privileges, name, u.Name, h, mysqlScrub(err))
			}
		}
	}
	return p.checkLogin(ctx, db, u)
}

// checkLogin logs in as the user to db and reads from one of its tables.
func (p *mysqlProvider) checkLogin(ctx context.Context, db *refresh.DB, u refresh.StagingUser) error {
	tables, err := mysqlTables(ctx, p.admin, db.Name)
	if err != nil {
		return err
	}
	cfg := p.stg.Clone()
	cfg.User, cfg.Passwd, cfg.DBName = u.Name, u.Password, db.Name
	h, err := mysqlOpen(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q := "SELECT 1"
	if len(tables) > 0 {
		q = "SELECT COUNT(*) FROM (SELECT 1 FROM " + mysqlQuote(tables[0]) + " LIMIT 1) t"
	}
	var n int
	if err := h.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("log in to %s and read: %w", db.Endpoint, mysqlRedact(mysqlScrub(err), u.Password))
	}
	return nil
}

var myGrantRE = regexp.MustCompile("^GRANT (.+) ON (`(?:[^`]|``)+`|\\S+)\\.\\* TO ")

// copyGrants gives each of the user's accounts the same database-level
// privileges on newDB that it has on the staging DB.
func (p *mysqlProvider) copyGrants(ctx context.Context, user string, hosts []string, newDB string) (int, error) {
	n := 0
	for _, h := range hosts {
		grants, err := mysqlStrings(ctx, p.admin, "SHOW GRANTS FOR ?@?", user, h)
		if err != nil {
			return n, fmt.Errorf("show grants for %s@%s: %w", user, h, err)
		}
		for _, g := range grants {
			m := myGrantRE.FindStringSubmatch(g)
			if m == nil || mysqlUnescapeGrantDB(m[2]) != p.stagingName {
				continue
			}
			if _, err := p.admin.ExecContext(ctx, "GRANT "+m[1]+" ON "+mysqlGrantDB(newDB)+".* TO ?@?", user, h); err != nil {
				return n, fmt.Errorf("copy grant to %s@%s: %w", user, h, mysqlScrub(err))
			}
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no grants on %s to copy", p.stagingName)
	}
	return n, nil
}

// mysqlUnescapeGrantDB turns SHOW GRANTS' `my\_db` back into my_db.
func mysqlUnescapeGrantDB(s string) string {
	if strings.HasPrefix(s, "`") && strings.HasSuffix(s, "`") && len(s) >= 2 {
		s = strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return strings.NewReplacer(`\_`, "_", `\%`, "%", `\\`, `\`).Replace(s)
}

// productionAccounts returns the accounts to keep out: those named by
// ProductionLogins ("user" = every host, or "user@host"), or else every
// account with access to the source database on the source server —
// database or table grants on it, or global SELECT — except restage's own
// admin logins and the servers' system accounts.
func (p *mysqlProvider) productionAccounts(ctx context.Context) ([]myAccount, error) {
	var out []myAccount
	if len(p.cfg.ProductionLogins) > 0 {
		for _, l := range p.cfg.ProductionLogins {
			if user, host, ok := strings.Cut(l, "@"); ok {
				out = append(out, myAccount{user, host})
				continue
			}
			hosts, err := mysqlStrings(ctx, p.admin, "SELECT Host FROM mysql.user WHERE User = ? AND Host <> ''", l)
			if err != nil {
				return nil, fmt.Errorf("look up production login %s: %w", l, err)
			}
			for _, h := range hosts {
				out = append(out, myAccount{l, h})
			}
		}
		return out, nil
	}
	src, err := mysqlOpen(p.src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	rows, err := src.QueryContext(ctx, `SELECT User, Host FROM mysql.db WHERE ? LIKE Db
		UNION SELECT User, Host FROM mysql.tables_priv WHERE Db = ?
		UNION SELECT User, Host FROM mysql.user WHERE Select_priv = 'Y'
		ORDER BY 1, 2`, p.sourceName, p.sourceName)
	if err != nil {
		return nil, fmt.Errorf("detect production logins on the source server (or set the production logins): %w", mysqlRedact(mysqlScrub(err), p.src.Passwd))
	}
	defer rows.Close()
	for rows.Next() {
		var a myAccount
		if err := rows.Scan(&a.User, &a.Host); err != nil {
			return nil, err
		}
		if a.User == "" || a.Host == "" || a.User == p.stg.User || a.User == p.src.User || slices.Contains(mysqlSystemUsers, a.User) {
			continue
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// canReadStaging says why an account on the staging server can read the
// staging DB or newDB without restage altering it, or "".
func (p *mysqlProvider) canReadStaging(ctx context.Context, a myAccount, newDB string) (string, error) {
	var global sql.NullString
	err := p.admin.QueryRowContext(ctx, "SELECT Select_priv FROM mysql.user WHERE User = ? AND Host = ?", a.User, a.Host).Scan(&global)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // no such account on the staging server
	}
	if err != nil {
		return "", fmt.Errorf("check production login %s: %w", a, mysqlScrub(err))
	}
	if global.String == "Y" {
		return "global SELECT", nil
	}
	var n int
	err = p.admin.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM mysql.db WHERE User = ? AND Host = ? AND (? LIKE Db OR ? LIKE Db))
		+ (SELECT COUNT(*) FROM mysql.tables_priv WHERE User = ? AND Host = ? AND Db IN (?, ?))`,
		a.User, a.Host, p.stagingName, newDB, a.User, a.Host, p.stagingName, newDB).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("check production login %s: %w", a, mysqlScrub(err))
	}
	if n > 0 {
		return "grants on the staging DB", nil
	}
	return "", nil
}

// Preserve copies rows from the current staging DB into db in one
// transaction: for each table, the new DB's rows with the same primary key
// go first, then the staging rows (matching Where) are inserted. Tables
// without a primary key only get the insert. No staging DB, or a table
// missing there, copies nothing.
func (p *mysqlProvider) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	if len(specs) == 0 {
		return 0, nil
	}
	exists, err := p.schemaExists(ctx, p.admin, p.stagingName)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, err)
	}
	if !exists {
		p.log.Info("preserve: no current staging DB", "step", "preserve", "target", p.cfg.Target)
		return 0, nil
	}
	conn, err := p.admin.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, mysqlRedact(err, p.stg.Passwd))
	}
	defer mysqlDiscardConn(conn)
	// Deleting and re-inserting a parent row must not trip its children.
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, mysqlScrub(err))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, mysqlScrub(err))
	}
	defer tx.Rollback()
	var total int64
	for _, s := range specs {
		table := s.Table
		if i := strings.LastIndexByte(table, '.'); i >= 0 {
			table = table[i+1:]
		}
		n, err := p.preserveTable(ctx, tx, db.Name, table, s.Where)
		if err != nil {
			return 0, fmt.Errorf("preserve %s into %s: %w", table, db.Name, err)
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, mysqlScrub(err))
	}
	return total, nil
}

func (p *mysqlProvider) preserveTable(ctx context.Context, tx *sql.Tx, newDB, table string, where *preserve.Predicate) (int64, error) {
	colsQ := "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION"
	oldCols, err := mysqlStrings(ctx, tx, colsQ, p.stagingName, table)
	if err != nil {
		return 0, err
	}
	if len(oldCols) == 0 {
		p.log.Info("preserve: table missing in the current staging DB", "step", "preserve", "target", p.cfg.Target, "table", table)
		return 0, nil
	}
	newCols, err := mysqlStrings(ctx, tx, colsQ, newDB, table)
	if err != nil {
		return 0, err
	}
	if len(newCols) == 0 {
		return 0, errors.New("table missing in the new DB")
	}
	var cols []string
	for _, c := range newCols {
		if slices.Contains(oldCols, c) {
			cols = append(cols, mysqlQuote(c))
		}
	}
	pk, err := mysqlStrings(ctx, tx, "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION", newDB, table)
	if err != nil {
		return 0, err
	}
	// Every column, generated ones too, may appear in the predicate; its
	// values go as bind parameters.
	allCols, err := mysqlStrings(ctx, tx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", p.stagingName, table)
	if err != nil {
		return 0, err
	}
	cond, args, err := where.MySQL(allCols)
	if err != nil {
		return 0, err
	}
	from := mysqlQuote(p.stagingName) + "." + mysqlQuote(table)
	into := mysqlQuote(newDB) + "." + mysqlQuote(table)
	if len(pk) > 0 {
		var q []string
		for _, c := range pk {
			if !slices.Contains(oldCols, c) {
				return 0, fmt.Errorf("primary key column %s missing in the current staging DB", c)
			}
			q = append(q, mysqlQuote(c))
		}
		key := "(" + strings.Join(q, ", ") + ")"
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+into+" WHERE "+key+" IN (SELECT "+strings.Join(q, ", ")+" FROM "+from+" WHERE "+cond+")", args...); err != nil {
			return 0, fmt.Errorf("delete rows with preserved keys: %w", mysqlScrub(err))
		}
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO "+into+" ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(cols, ", ")+" FROM "+from+" WHERE "+cond, args...)
	if err != nil {
		return 0, fmt.Errorf("insert preserved rows: %w", mysqlScrub(err))
	}
	n, _ := res.RowsAffected()
	p.log.Info("preserved", "step", "preserve", "target", p.cfg.Target, "table", table, "rows", n)
	return n, nil
}
