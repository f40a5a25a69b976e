// Package store opens callme's database, applies the versioned migrations and
// hands out an ent client. It hides the two supported engines' differences:
//
//   - SQLite (the embedded default, pure Go): WAL mode, and every write goes
//     through one dedicated connection while reads use a pool. SQLite allows
//     one writer at a time; letting many connections race for the write lock
//     starves some of them into SQLITE_BUSY (shared/FACTS.md), while one write
//     connection is fair and faster.
//   - MySQL/MariaDB: one pool, at READ COMMITTED (see readCommitted); write
//     transactions are retried whole on what Retryable accepts.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"callme/ent"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DB is an open database.
type DB struct {
	Client  *ent.Client
	Dialect string
	// Pinger checks that the database answers, for /readyz.
	pingers []*sql.DB
	closers []func() error
}

// lockWaitTimeout (seconds) bounds how long a statement of a MySQL
// transaction waits for a row lock (InnoDB's default is 50). A request's
// statements end with its context anyway, but a batch that commits runs to
// its end (ExecBatch), so the server must end its waits: a fetch waiting
// longer than this for a stall's counter row fails with a lock wait timeout
// and is retried while the request has time left (canteen.inTx). Two waits
// (a customer's row, then the counter) stay within the request timeout.
const lockWaitTimeout = 5

// Options tune the connection pools.
type Options struct {
	MaxOpenConns int // MySQL pool size and SQLite read pool size; default 16
	// Hook, when set, sees every SQL statement before it runs (tests count them).
	Hook func(query string)
	// Fault, when set, fails the plain statements (outside transactions) it
	// returns an error for, before they reach the database (tests inject
	// database errors with it).
	Fault func(query string) error
	// Logger receives the MySQL driver's connection warnings, which it would
	// otherwise print to stderr. Nil discards them.
	Logger *slog.Logger
}

// mysqlLogger routes go-sql-driver's messages ("unexpected EOF" when a
// connection dies) into slog at debug level: database/sql retries them.
type mysqlLogger struct{ log *slog.Logger }

func (l mysqlLogger) Print(v ...any) {
	if l.log != nil {
		l.log.Debug("mysql driver", "msg", fmt.Sprint(v...))
	}
}

// Open parses dsn ("sqlite:path", "file:path", a bare path ending in .db, or
// "mysql://user@tcp(host:port)/db?params"), applies migrations and returns an
// ent client.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 16
	}
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "mysql://"):
		db, err = openMySQL(ctx, strings.TrimPrefix(dsn, "mysql://"), opts)
	default:
		db, err = openSQLite(ctx, dsn, opts)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// SQL returns the main connection pool (for pool metrics).
func (db *DB) SQL() *sql.DB { return db.pingers[len(db.pingers)-1] }

// TxSQL returns MySQL's pool of transaction connections (for pool
// metrics), or nil: SQLite runs transactions on its write connection.
func (db *DB) TxSQL() *sql.DB {
	if db.Dialect != dialect.MySQL {
		return nil
	}
	return db.pingers[0]
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	for _, p := range db.pingers {
		if err := p.PingContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every pool.
func (db *DB) Close() error {
	var errs []error
	for _, c := range db.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// MySQLConfig parses a go-sql-driver DSN and sets the options callme relies
// on: parseTime and UTC times, so ent reads back what it wrote.
func MySQLConfig(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("bad MySQL DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// The tables are utf8mb4_bin; so is every connection, whatever the DSN
	// says: over charset=utf8 (3-byte) the server refuses 🍜, over latin1 it
	// stores mojibake. The collation goes in the handshake; only a DSN that
	// names a charset costs a SET NAMES per connection, to override it.
	cfg.Collation = "utf8mb4_bin"
	if strings.Contains(cfg.FormatDSN(), "charset=") {
		if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_bin")); err != nil {
			return nil, fmt.Errorf("bad MySQL DSN: %w", err)
		}
	}
	// Send arguments inline instead of PREPARE + EXECUTE + CLOSE for every
	// statement: a fetch takes 7 round trips instead of 12, and the
	// benchmark's profile showed a third of callme's CPU in those writes. The
	// driver escapes safely for utf8mb4, the only charset callme uses.
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// Strict mode turns silent truncation into errors: never store half a value.
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg, nil
}

func openMySQL(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := MySQLConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Logger = mysqlLogger{opts.Logger}
	if cfg.DBName == "" {
		return nil, errors.New("the MySQL DSN names no database, e.g. mysql://root@tcp(127.0.0.1:3306)/callme")
	}
	if err := createDatabase(ctx, cfg); err != nil {
		return nil, err
	}
	if err := readCommitted(ctx, cfg); err != nil {
		return nil, err
	}
	// Migration files hold several statements each; only their connection
	// allows that, so a stray semicolon in a query can never chain statements.
	mcfg := cfg.Clone()
	mcfg.MultiStatements = true
	mdb, err := openMySQLDB(mcfg)
	if err != nil {
		return nil, err
	}
	err = migrateUp(dialect.MySQL, mdb)
	mdb.Close()
	if err != nil {
		return nil, fmt.Errorf("applying migrations: %w", err)
	}
	// Two pools: plain statements autocommit; transactions run on
	// connections with autocommit off (see implicitTxDriver).
	tcfg := cfg.Clone()
	tcfg.Params["autocommit"] = "0"
	tcfg.Params["innodb_lock_wait_timeout"] = strconv.Itoa(lockWaitTimeout)
	// Transactions may send a batch of statements in one round trip
	// (canteen's fetch: a customer's took update, which locks their row,
	// the counter update, the ticket's insert and COMMIT; see ExecBatch).
	// Only this pool allows it, as only the migrations' connection did: a
	// plain statement, which is most of what a request runs, still cannot
	// chain a second one after a stray semicolon. A batch's values go
	// through the driver's interpolation (InterpolateParams, above) like
	// any statement's, never into the SQL text by concatenation, so no
	// value can end a statement and start another. An Exec of a batch
	// answers the last statement's RowsAffected and LastInsertId (the
	// driver discards a SELECT's rows); ExecBatch answers every one's.
	tcfg.MultiStatements = true
	var pools []*sql.DB
	for _, c := range []*mysql.Config{tcfg, cfg} {
		p, err := openMySQLDB(c)
		if err != nil {
			closeAll(pools)
			return nil, err
		}
		pools = append(pools, p)
		p.SetMaxOpenConns(opts.MaxOpenConns)
		p.SetMaxIdleConns(opts.MaxOpenConns)
		p.SetConnMaxLifetime(30 * time.Minute)
		if err := p.PingContext(ctx); err != nil {
			closeAll(pools)
			return nil, fmt.Errorf("connecting to MySQL: %w", err)
		}
	}
	txdb, sqldb := pools[0], pools[1]
	drv := hooked(&implicitTxDriver{Driver: entsql.OpenDB(dialect.MySQL, sqldb), tx: txdb}, opts.Hook, opts.Fault)
	return &DB{
		Client:  ent.NewClient(ent.Driver(drv)),
		Dialect: dialect.MySQL,
		pingers: []*sql.DB{txdb, sqldb},
		closers: []func() error{txdb.Close, sqldb.Close},
	}, nil
}

func closeAll(pools []*sql.DB) {
	for _, p := range pools {
		p.Close()
	}
}

func openMySQLDB(cfg *mysql.Config) (*sql.DB, error) {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// resetDatabase drops and recreates the configured database (tests and the
// migration generator's scratch database only).
func resetDatabase(ctx context.Context, cfg *mysql.Config) error {
	db, err := serverDB(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(cfg.DBName))
	if err != nil {
		return err
	}
	return createDatabase(ctx, cfg)
}

// DropDatabase drops the database a MySQL DSN names (tests clean up with it).
func DropDatabase(ctx context.Context, dsn string) error {
	cfg, err := MySQLConfig(dsn)
	if err != nil {
		return err
	}
	db, err := serverDB(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(cfg.DBName))
	return err
}

func serverDB(cfg *mysql.Config) (*sql.DB, error) {
	c := cfg.Clone()
	c.DBName = ""
	return openMySQLDB(c)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// createDatabase creates the configured database if it is missing, so that
// pointing callme at a fresh server is one setting.
func createDatabase(ctx context.Context, cfg *mysql.Config) error {
	db, err := serverDB(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(cfg.DBName)+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
	if err != nil {
		return fmt.Errorf("creating database %q: %w", cfg.DBName, err)
	}
	return nil
}

// readCommitted makes every connection's transactions READ COMMITTED.
//
// callme's write rules lock a row, then read what the lock protects: the
// counter, then the numbers in use; the customer, then their active tickets.
// Under MySQL's default REPEATABLE READ a plain read after the lock sees the
// snapshot of the transaction's first read, taken before the lock was
// granted, so 30 concurrent fetches of one customer all counted 0 active
// tickets and all passed a cap of 3. READ COMMITTED reads the latest
// committed rows at every statement, and takes no gap locks, which also
// keeps the day's first fetches of a stall from deadlocking.
//
// The setting is a connection parameter, so it costs no round trip per
// transaction. MariaDB before 11.1 names it tx_isolation; MySQL 8 only
// transaction_isolation.
func readCommitted(ctx context.Context, cfg *mysql.Config) error {
	db, err := serverDB(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	name := "transaction_isolation"
	var v string
	if err := db.QueryRowContext(ctx, "SELECT @@transaction_isolation").Scan(&v); err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1193 { // unknown system variable
			return fmt.Errorf("connecting to MySQL: %w", err)
		}
		name = "tx_isolation"
	}
	cfg.Params[name] = "'READ-COMMITTED'"
	return nil
}

// SQLitePath extracts the file path from a SQLite DSN.
func SQLitePath(dsn string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return strings.TrimPrefix(p, "//")
}

func sqliteDSN(path string, write bool) string {
	return sqliteDSNWith(path, write, true)
}

// sqliteMigrateDSN is the migrations' connection. It does not enforce
// foreign keys: SQLite changes a column by rebuilding the table (create,
// copy, drop, rename), and dropping a parent table with enforcement on
// deletes its rows first, which fails against any child row. The files'
// own "PRAGMA foreign_keys = off" cannot help: golang-migrate runs each file
// in a transaction, where that pragma does nothing. migrateUp checks the
// keys after the files ran instead.
func sqliteMigrateDSN(path string) string { return sqliteDSNWith(path, true, false) }

func sqliteDSNWith(path string, write, foreignKeys bool) string {
	q := url.Values{}
	fk := "foreign_keys(1)"
	if !foreignKeys {
		fk = "foreign_keys(0)"
	}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", fk, "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	if write {
		// Take the write lock at BEGIN, so a transaction never fails halfway
		// when it upgrades from reading to writing.
		q.Set("_txlock", "immediate")
	} else {
		// A write sent to the read pool by mistake fails loudly.
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, dsn string, opts Options) (*DB, error) {
	path := SQLitePath(dsn)
	if path == "" || strings.Contains(path, ":memory:") {
		return nil, errors.New("SQLite needs a file path (in-memory databases cannot be shared between the read and write connections)")
	}
	mdb, err := sql.Open("sqlite", sqliteMigrateDSN(path))
	if err != nil {
		return nil, err
	}
	if err := migrateUp(dialect.SQLite, mdb); err != nil {
		return nil, fmt.Errorf("applying migrations: %w", err)
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(opts.MaxOpenConns)
	r.SetMaxIdleConns(opts.MaxOpenConns)
	drv := hooked(&splitDriver{
		w: entsql.OpenDB(dialect.SQLite, w),
		r: entsql.OpenDB(dialect.SQLite, r),
	}, opts.Hook, opts.Fault)
	return &DB{
		Client:  ent.NewClient(ent.Driver(drv)),
		Dialect: dialect.SQLite,
		pingers: []*sql.DB{w, r},
		closers: []func() error{r.Close, w.Close},
	}, nil
}
