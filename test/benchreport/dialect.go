package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// The bench table. Every measurement works on a fresh copy named people in
// the bench database; the generated original lives in a separate schema
// (PostgreSQL) or database (MySQL), so restage only ever sees the copy.
const table = "people"

// dialect is what differs between the two servers.
type dialect interface {
	// Name is the -engines name: mysql or postgres.
	Name() string
	// Driver is the database/sql driver name.
	Driver() string
	// AdminDSN is the DSN of the server login (no database needed).
	AdminDSN() string
	// DSN is the driver DSN of database db (also what restage gets).
	DSN(db string) (string, error)
	// Password is the login's password, scrubbed from anything printed.
	Password() string
	// Create creates the bench database(s) named after base and returns the
	// database the measurements run in. On failure it leaves nothing behind
	// (and never drops a database it did not create).
	Create(ctx context.Context, admin *sql.DB, base string) (work string, err error)
	// Drop drops what a successful Create created.
	Drop(ctx context.Context, admin *sql.DB, base string) error
	// CreateSource creates the (empty) source table; GenerateSQL fills
	// rows [lo, hi] of it server-side.
	CreateSource(ctx context.Context, db *sql.DB) error
	GenerateSQL(lo, hi int) string
	// CopySQL replaces people in the work database with a copy of the source.
	CopySQL() []string
	// Settle runs after each copy, untimed: statistics and hint bits, so
	// every measurement starts from the same state.
	Settle(ctx context.Context, db *sql.DB) error
	// Stats is the statistics refresh restage runs after masking.
	Stats(ctx context.Context, db *sql.DB) error
	StatsName() string
	// Size is the table's size on disk (data + indexes), in bytes.
	Size(ctx context.Context, db *sql.DB) (int64, error)
	// UpdateSQL is the set-based baseline over the id range (lo, hi].
	UpdateSQL() string
	// SelectBatchSQL reads up to n rows with id > after, in id order.
	SelectBatchSQL() string
	// UpdateRowSQL writes one row: full_name, email, phone, address, id.
	UpdateRowSQL() string
	Version(ctx context.Context, db *sql.DB) (string, error)

	// M0SQL builds the rewrite limit M0 (m0Table) from people.
	M0SQL() []string
	// Exec runs one statement (an ANALYZE's result rows are checked).
	Exec(ctx context.Context, db *sql.DB, q string) error
	CreateDB(ctx context.Context, admin *sql.DB, name string) error
	DropDB(ctx context.Context, admin *sql.DB, name string) error
	ListDBs(ctx context.Context, admin *sql.DB, prefix string) ([]string, error)
	// CopyScript is the plain copy (dump | load) of database from into to.
	CopyScript(from, to string) (script string, args, env []string)
	CopyName() string
	// FillProd fills the (empty) production database of the end-to-end
	// run with people only; generate fills the source table of a db.
	FillProd(ctx context.Context, work, prod *sql.DB, prodName string, generate func(*sql.DB) error) error
	SettleAll(ctx context.Context, db *sql.DB) error
	// DropSource drops the source table (before the next size).
	DropSource(ctx context.Context, db *sql.DB) error
}

// Deterministic, realistic-looking value lists for the generator.
var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Hiroshi", "Yuki"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "Sato", "Tanaka"}
	streets = []string{"Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main",
		"Sunset", "Highland", "Church", "River", "Spring"}
	streetTypes = []string{"St", "Ave", "Rd", "Blvd"}
	cities      = []string{"Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview", "Salem", "Madison", "Georgetown"}
	contacts    = []string{"email", "phone", "post"}
)

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

// ---------------------------------------------------------------- MySQL

type mysqlDialect struct {
	cfg *mysql.Config
	src string // the source database, set by Create
}

func newMySQL(admin string) (*mysqlDialect, error) {
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		return nil, errors.New("mysql admin DSN is not a go-sql-driver DSN (user:pass@tcp(host:port)/)")
	}
	return &mysqlDialect{cfg: cfg}, nil
}

func (m *mysqlDialect) Name() string     { return "mysql" }
func (m *mysqlDialect) Driver() string   { return "mysql" }
func (m *mysqlDialect) Password() string { return m.cfg.Passwd }
func (m *mysqlDialect) AdminDSN() string {
	c := m.cfg.Clone()
	c.DBName = ""
	return c.FormatDSN()
}

func (m *mysqlDialect) DSN(db string) (string, error) {
	c := m.cfg.Clone()
	c.DBName = db
	return c.FormatDSN(), nil
}

func mysqlSource(base string) string { return base + "_src" }

func (m *mysqlDialect) Create(ctx context.Context, admin *sql.DB, base string) (string, error) {
	m.src = mysqlSource(base)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+base+"` CHARACTER SET utf8mb4"); err != nil {
		return "", fmt.Errorf("create database %s: %w", base, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+m.src+"` CHARACTER SET utf8mb4"); err != nil {
		_, _ = admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS `"+base+"`")
		return "", fmt.Errorf("create database %s: %w", m.src, err)
	}
	return base, nil
}

func (m *mysqlDialect) Drop(ctx context.Context, admin *sql.DB, base string) error {
	var errs []error
	for _, db := range []string{base, mysqlSource(base)} {
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", db, err))
		}
	}
	return errors.Join(errs...)
}

func (m *mysqlDialect) CreateSource(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, "CREATE TABLE `"+m.src+"`."+table+` (
  id INT NOT NULL PRIMARY KEY,
  full_name VARCHAR(100) NOT NULL,
  email VARCHAR(150) NOT NULL,
  phone VARCHAR(30) NULL,
  address VARCHAR(200) NULL,
  birth_date DATE NOT NULL,
  note TEXT NULL,
  created_at DATETIME NOT NULL,
  UNIQUE KEY people_email_key (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`)
	return err
}

// GenerateSQL uses the Sequence engine (seq_LO_to_HI), built into MariaDB.
func (m *mysqlDialect) GenerateSQL(lo, hi int) string {
	return fmt.Sprintf("INSERT INTO `%s`.%s (id, full_name, email, phone, address, birth_date, note, created_at)\n"+
		"SELECT seq,\n"+
		"  CONCAT(ELT(1 + seq MOD %[3]d, %[4]s), ' ', ELT(1 + (seq DIV %[3]d) MOD %[5]d, %[6]s)),\n"+
		"  LOWER(CONCAT(ELT(1 + seq MOD %[3]d, %[4]s), '.', ELT(1 + (seq DIV %[3]d) MOD %[5]d, %[6]s), seq, '@corp.example')),\n"+
		"  IF(seq MOD 10 = 3, NULL, CONCAT('+1-', 200 + seq MOD 800, '-555-', LPAD(seq MOD 10000, 4, '0'))),\n"+
		"  IF(seq MOD 10 = 7, NULL, CONCAT(1 + seq MOD 9999, ' ', ELT(1 + seq MOD %[7]d, %[8]s), ' ', ELT(1 + (seq DIV 3) MOD 4, %[9]s), ', ', ELT(1 + (seq DIV 7) MOD %[10]d, %[11]s))),\n"+
		"  DATE '1950-01-01' + INTERVAL (seq * 7919) MOD 20000 DAY,\n"+
		"  CONCAT('Customer since ', 2010 + seq MOD 14, '; prefers ', ELT(1 + seq MOD 3, %[12]s), ' contact. Ref #', seq),\n"+
		"  TIMESTAMP '2015-01-01 00:00:00' + INTERVAL (seq * 104729) MOD 300000000 SECOND\n"+
		"FROM seq_%[13]d_to_%[14]d",
		m.src, table, len(firstNames), quoteList(firstNames), len(lastNames), quoteList(lastNames),
		len(streets), quoteList(streets), quoteList(streetTypes), len(cities), quoteList(cities), quoteList(contacts), lo, hi)
}

func (m *mysqlDialect) CopySQL() []string {
	return []string{
		"DROP TABLE IF EXISTS " + table,
		"CREATE TABLE " + table + " LIKE `" + m.src + "`." + table,
		"INSERT INTO " + table + " SELECT * FROM `" + m.src + "`." + table,
	}
}

// analyze runs an ANALYZE TABLE statement and fails on an error row.
func mysqlAnalyze(ctx context.Context, db *sql.DB, stmt string) error {
	rows, err := db.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tbl, op, typ, msg sql.NullString
		if err := rows.Scan(&tbl, &op, &typ, &msg); err != nil {
			return err
		}
		if strings.EqualFold(typ.String, "error") {
			return fmt.Errorf("%s: %s", stmt, msg.String)
		}
	}
	return rows.Err()
}

func (m *mysqlDialect) Settle(ctx context.Context, db *sql.DB) error {
	return mysqlAnalyze(ctx, db, "ANALYZE TABLE "+table)
}

// mysqlStats mirrors what the MySQL engine's Finish does after masking.
const mysqlStats = "ANALYZE TABLE " + table

func (m *mysqlDialect) StatsName() string { return mysqlStats }
func (m *mysqlDialect) Stats(ctx context.Context, db *sql.DB) error {
	return mysqlAnalyze(ctx, db, mysqlStats)
}

// Size is data_length + index_length, refreshed by ANALYZE TABLE first.
func (m *mysqlDialect) Size(ctx context.Context, db *sql.DB) (int64, error) {
	if err := mysqlAnalyze(ctx, db, "ANALYZE TABLE "+table); err != nil {
		return 0, err
	}
	var n int64
	err := db.QueryRowContext(ctx, `SELECT data_length + index_length FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_name = ?`, table).Scan(&n)
	return n, err
}

func (m *mysqlDialect) UpdateSQL() string {
	return `UPDATE ` + table + ` SET
  full_name = CONCAT('Person ', LEFT(MD5(full_name), 12)),
  email = CONCAT('p', id, '.', LEFT(MD5(email), 8), '@example.invalid'),
  phone = CONCAT('+1-555-', LPAD(CONV(LEFT(MD5(phone), 6), 16, 10) MOD 10000000, 7, '0')),
  address = CONCAT(CONV(LEFT(MD5(address), 3), 16, 10), ' ', SUBSTR(MD5(address), 5, 8), ' Street')
WHERE id > ? AND id <= ?`
}

func (m *mysqlDialect) SelectBatchSQL() string {
	return "SELECT id, full_name, email, phone, address FROM " + table + " WHERE id > ? ORDER BY id LIMIT ?"
}

func (m *mysqlDialect) UpdateRowSQL() string {
	return "UPDATE " + table + " SET full_name = ?, email = ?, phone = ?, address = ? WHERE id = ?"
}

func (m *mysqlDialect) Version(ctx context.Context, db *sql.DB) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	return v, err
}

// ------------------------------------------------------------- PostgreSQL

type pgDialect struct {
	u *url.URL
}

func newPostgres(admin string) (*pgDialect, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("postgres admin DSN is not a postgres:// URL")
	}
	return &pgDialect{u: u}, nil
}

// pgSource is the schema holding the generated original.
const pgSource = "bench_src"

func (p *pgDialect) Name() string     { return "postgres" }
func (p *pgDialect) Driver() string   { return "pgx" }
func (p *pgDialect) AdminDSN() string { return p.u.String() }
func (p *pgDialect) Password() string {
	pw, _ := p.u.User.Password()
	return pw
}

func (p *pgDialect) DSN(db string) (string, error) {
	u := *p.u
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

func (p *pgDialect) Create(ctx context.Context, admin *sql.DB, base string) (string, error) {
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+base+`"`); err != nil {
		return "", fmt.Errorf("create database %s: %w", base, err)
	}
	return base, nil
}

func (p *pgDialect) Drop(ctx context.Context, admin *sql.DB, base string) error {
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+base+`" WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", base, err)
	}
	return nil
}

func (p *pgDialect) CreateSource(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+pgSource); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `CREATE TABLE `+pgSource+`.`+table+` (
  id integer PRIMARY KEY,
  full_name varchar(100) NOT NULL,
  email varchar(150) NOT NULL UNIQUE,
  phone varchar(30),
  address varchar(200),
  birth_date date NOT NULL,
  note text,
  created_at timestamp NOT NULL
)`)
	return err
}

func pgArray(list []string) string { return "(ARRAY[" + quoteList(list) + "])" }

func (p *pgDialect) GenerateSQL(lo, hi int) string {
	return fmt.Sprintf("INSERT INTO %s.%s (id, full_name, email, phone, address, birth_date, note, created_at)\n"+
		"SELECT g,\n"+
		"  %[3]s[1 + g %% %[4]d] || ' ' || %[5]s[1 + (g / %[4]d) %% %[6]d],\n"+
		"  lower(%[3]s[1 + g %% %[4]d] || '.' || %[5]s[1 + (g / %[4]d) %% %[6]d] || g || '@corp.example'),\n"+
		"  CASE WHEN g %% 10 = 3 THEN NULL ELSE '+1-' || (200 + g %% 800) || '-555-' || lpad((g %% 10000)::text, 4, '0') END,\n"+
		"  CASE WHEN g %% 10 = 7 THEN NULL ELSE (1 + g %% 9999) || ' ' || %[7]s[1 + g %% %[8]d] || ' ' || %[9]s[1 + (g / 3) %% 4] || ', ' || %[10]s[1 + (g / 7) %% %[11]d] END,\n"+
		"  date '1950-01-01' + ((g::bigint * 7919) %% 20000)::int,\n"+
		"  'Customer since ' || (2010 + g %% 14) || '; prefers ' || %[12]s[1 + g %% 3] || ' contact. Ref #' || g,\n"+
		"  timestamp '2015-01-01 00:00:00' + ((g::bigint * 104729) %% 300000000) * interval '1 second'\n"+
		"FROM generate_series(%[13]d, %[14]d) AS g",
		pgSource, table, pgArray(firstNames), len(firstNames), pgArray(lastNames), len(lastNames),
		pgArray(streets), len(streets), pgArray(streetTypes), pgArray(cities), len(cities), pgArray(contacts), lo, hi)
}

func (p *pgDialect) CopySQL() []string {
	return []string{
		"DROP TABLE IF EXISTS public." + table,
		"CREATE TABLE public." + table + " (LIKE " + pgSource + "." + table + " INCLUDING ALL)",
		"INSERT INTO public." + table + " SELECT * FROM " + pgSource + "." + table,
	}
}

func (p *pgDialect) Settle(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, "VACUUM ANALYZE public."+table); err != nil {
		return err
	}
	// Best effort (needs superuser or pg_checkpoint): the copy's dirty pages
	// are written now, not during the next measurement.
	_, _ = db.ExecContext(ctx, "CHECKPOINT")
	return nil
}

// pgStats mirrors what the PostgreSQL engine's Finish does after masking.
const pgStats = "VACUUM ANALYZE public." + table

func (p *pgDialect) StatsName() string { return "VACUUM ANALYZE " + table }
func (p *pgDialect) Stats(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, pgStats)
	return err
}

func (p *pgDialect) Size(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, "SELECT pg_total_relation_size('public."+table+"')").Scan(&n)
	return n, err
}

func (p *pgDialect) UpdateSQL() string {
	return `UPDATE public.` + table + ` SET
  full_name = 'Person ' || left(md5(full_name), 12),
  email = 'p' || id || '.' || left(md5(email), 8) || '@example.invalid',
  phone = '+1-555-' || translate(left(md5(phone), 7), 'abcdef', '012345'),
  address = translate(left(md5(address), 3), 'abcdef', '123456') || ' ' || substr(md5(address), 5, 8) || ' Street'
WHERE id > $1 AND id <= $2`
}

func (p *pgDialect) SelectBatchSQL() string {
	return "SELECT id, full_name, email, phone, address FROM public." + table + " WHERE id > $1 ORDER BY id LIMIT $2"
}

func (p *pgDialect) UpdateRowSQL() string {
	return "UPDATE public." + table + " SET full_name = $1, email = $2, phone = $3, address = $4 WHERE id = $5"
}

func (p *pgDialect) Version(ctx context.Context, db *sql.DB) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&v)
	return "PostgreSQL " + v, err
}

// ------------------------------------------- end-to-end (both dialects)

// m0Table is the rewrite limit's new table, next to people.
const m0Table = "people_m0"

// The rewrite limit M0: the masked table built by the server alone. The
// expressions are the server-side UPDATE's.
func (m *mysqlDialect) M0SQL() []string {
	return []string{
		"DROP TABLE IF EXISTS " + m0Table,
		`CREATE TABLE ` + m0Table + ` AS SELECT id,
  CONCAT('Person ', LEFT(MD5(full_name), 12)) AS full_name,
  CONCAT('p', id, '.', LEFT(MD5(email), 8), '@example.invalid') AS email,
  CONCAT('+1-555-', LPAD(CONV(LEFT(MD5(phone), 6), 16, 10) MOD 10000000, 7, '0')) AS phone,
  CONCAT(CONV(LEFT(MD5(address), 3), 16, 10), ' ', SUBSTR(MD5(address), 5, 8), ' Street') AS address,
  birth_date, note, created_at FROM ` + table,
		"ALTER TABLE " + m0Table + " ADD PRIMARY KEY (id), ADD UNIQUE KEY (email)",
		"ANALYZE TABLE " + m0Table,
	}
}

func (p *pgDialect) M0SQL() []string {
	return []string{
		"DROP TABLE IF EXISTS " + m0Table,
		`CREATE TABLE ` + m0Table + ` AS SELECT id,
  'Person ' || left(md5(full_name), 12) AS full_name,
  'p' || id || '.' || left(md5(email), 8) || '@example.invalid' AS email,
  '+1-555-' || translate(left(md5(phone), 7), 'abcdef', '012345') AS phone,
  translate(left(md5(address), 3), 'abcdef', '123456') || ' ' || substr(md5(address), 5, 8) || ' Street' AS address,
  birth_date, note, created_at FROM public.` + table,
		"ALTER TABLE " + m0Table + " ADD PRIMARY KEY (id), ADD UNIQUE (email)",
		"ANALYZE " + m0Table,
	}
}

func (m *mysqlDialect) Exec(ctx context.Context, db *sql.DB, q string) error {
	if strings.HasPrefix(q, "ANALYZE TABLE") {
		return mysqlAnalyze(ctx, db, q)
	}
	_, err := db.ExecContext(ctx, q)
	return err
}

func (p *pgDialect) Exec(ctx context.Context, db *sql.DB, q string) error {
	_, err := db.ExecContext(ctx, q)
	return err
}

func (m *mysqlDialect) CreateDB(ctx context.Context, admin *sql.DB, name string) error {
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (p *pgDialect) CreateDB(ctx context.Context, admin *sql.DB, name string) error {
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (m *mysqlDialect) DropDB(ctx context.Context, admin *sql.DB, name string) error {
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func (p *pgDialect) DropDB(ctx context.Context, admin *sql.DB, name string) error {
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// listDBs returns the database names starting with prefix.
func listDBs(ctx context.Context, admin *sql.DB, q, prefix string) ([]string, error) {
	rows, err := admin.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}

func (m *mysqlDialect) ListDBs(ctx context.Context, admin *sql.DB, prefix string) ([]string, error) {
	return listDBs(ctx, admin, "SELECT schema_name FROM information_schema.schemata", prefix)
}

func (p *pgDialect) ListDBs(ctx context.Context, admin *sql.DB, prefix string) ([]string, error) {
	return listDBs(ctx, admin, "SELECT datname FROM pg_database", prefix)
}

// CopyScript is the plain copy of database from into the existing empty
// database to: a bash script (arguments $1…) and its environment. The
// password goes through the environment, never argv.
func (m *mysqlDialect) CopyScript(from, to string) (script string, args, env []string) {
	host, port := "127.0.0.1", "3306"
	if h, p, ok := strings.Cut(m.cfg.Addr, ":"); ok {
		host, port = h, p
	}
	dump, load := m.tools()
	return `"$1" --single-transaction -h "$3" -P "$4" -u "$5" "$6" | "$2" -h "$3" -P "$4" -u "$5" "$7"`,
		[]string{dump, load, host, port, m.cfg.User, from, to}, []string{"MYSQL_PWD=" + m.cfg.Passwd}
}

func (m *mysqlDialect) tools() (dump, load string) {
	dump, load = "mariadb-dump", "mariadb"
	if _, err := exec.LookPath(dump); err != nil {
		dump = "mysqldump"
	}
	if _, err := exec.LookPath(load); err != nil {
		load = "mysql"
	}
	return dump, load
}

func (m *mysqlDialect) CopyName() string {
	dump, load := m.tools()
	return dump + " | " + load
}

func (p *pgDialect) CopyScript(from, to string) (script string, args, env []string) {
	pw, _ := p.u.User.Password()
	port := p.u.Port()
	if port == "" {
		port = "5432"
	}
	return `pg_dump -h "$1" -p "$2" -U "$3" -d "$4" | psql -q -X -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U "$3" -d "$5" >/dev/null`,
		[]string{p.u.Hostname(), port, p.u.User.Username(), from, to}, []string{"PGPASSWORD=" + pw}
}

func (p *pgDialect) CopyName() string { return "pg_dump | psql" }

// FillProd fills database prod (created empty) with people only, a copy
// of the generated source: what `restage run` and the plain copy read.
func (m *mysqlDialect) FillProd(ctx context.Context, work, prod *sql.DB, prodName string, _ func(*sql.DB) error) error {
	for _, q := range []string{
		"CREATE TABLE `" + prodName + "`." + table + " LIKE `" + m.src + "`." + table,
		"INSERT INTO `" + prodName + "`." + table + " SELECT * FROM `" + m.src + "`." + table,
	} {
		if _, err := work.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return mysqlAnalyze(ctx, prod, "ANALYZE TABLE "+table)
}

// FillProd generates the rows again in prod (a copy can't cross
// databases) and moves the table to public.
func (p *pgDialect) FillProd(ctx context.Context, _, prod *sql.DB, _ string, generate func(*sql.DB) error) error {
	if err := generate(prod); err != nil {
		return err
	}
	for _, q := range []string{
		"ALTER TABLE " + pgSource + "." + table + " SET SCHEMA public",
		"DROP SCHEMA " + pgSource,
		"VACUUM ANALYZE public." + table,
	} {
		if _, err := prod.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// SettleAll refreshes the statistics of a whole database (jpshop), untimed.
func (m *mysqlDialect) SettleAll(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'")
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, "`"+n+"`")
	}
	rows.Close()
	if len(names) == 0 {
		return rows.Err()
	}
	return mysqlAnalyze(ctx, db, "ANALYZE TABLE "+strings.Join(names, ", "))
}

func (p *pgDialect) SettleAll(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, "VACUUM ANALYZE")
	return err
}

func (m *mysqlDialect) DropSource(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+m.src+"`."+table)
	return err
}

func (p *pgDialect) DropSource(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pgSource+" CASCADE")
	return err
}

// CopyDB creates database to as a copy of from (which must have no
// sessions), dropping an older to first.
func (p *pgDialect) CopyDB(ctx context.Context, admin *sql.DB, from, to string) error {
	if err := p.DropDB(ctx, admin, to); err != nil {
		return err
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+to+`" TEMPLATE "`+from+`"`); err != nil {
		return fmt.Errorf("create database %s from %s: %w", to, from, err)
	}
	return nil
}
