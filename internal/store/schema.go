package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"callme/migrations"

	"entgo.io/ent/dialect"
	"github.com/go-sql-driver/mysql"
	gomigrate "github.com/golang-migrate/migrate/v4"
)

// SchemaState says how a database's schema relates to this build's
// migrations.
type SchemaState string

const (
	SchemaCurrent SchemaState = "current" // at this build's latest migration
	SchemaBehind  SchemaState = "behind"  // migrations pending; starting callme applies them
	SchemaAhead   SchemaState = "ahead"   // migrated by a newer (or other) build: callme refuses it
)

// SchemaStatus is the version of a database's schema and of this build's.
type SchemaStatus struct {
	Current uint // applied migration version, 0 for an empty database
	Latest  uint // this build's newest migration version
	Dirty   bool // a migration to Current failed halfway
	known   map[uint]bool
}

// State is behind, ahead or current. A version this build does not know is
// ahead even when it sorts lower: it came from code this build lacks.
func (s SchemaStatus) State() SchemaState {
	switch {
	case s.Current == s.Latest:
		return SchemaCurrent
	case s.Current > s.Latest || (s.Current != 0 && !s.known[s.Current]):
		return SchemaAhead
	}
	return SchemaBehind
}

func (s SchemaStatus) String() string {
	switch s.State() {
	case SchemaAhead:
		return fmt.Sprintf("ahead: the database schema is at version %d, which this callme (latest %d) does not know; run the release that migrated it, or restore a backup", s.Current, s.Latest)
	case SchemaBehind:
		return fmt.Sprintf("behind: the database schema is at version %d, this callme's is %d; starting callme (or `callme migrate`) applies the difference", s.Current, s.Latest)
	}
	return fmt.Sprintf("current: the database schema is at version %d, this callme's latest", s.Current)
}

// AheadError is why Open refuses a database migrated by a newer callme:
// older code would misread or corrupt columns it does not know.
type AheadError struct{ Status SchemaStatus }

func (e *AheadError) Error() string {
	return "refusing to start: " + e.Status.String()
}

var versionFile = regexp.MustCompile(`^([0-9]+)_.*\.up\.sql$`)

// sourceVersions lists the migration versions in dir and returns the newest.
func sourceVersions(dir fs.FS) (latest uint, known map[uint]bool, err error) {
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return 0, nil, err
	}
	known = map[uint]bool{}
	for _, e := range entries {
		if m := versionFile.FindStringSubmatch(e.Name()); m != nil {
			v, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return 0, nil, err
			}
			known[uint(v)] = true
			latest = max(latest, uint(v))
		}
	}
	return latest, known, nil
}

// MigrationVersion returns the version of the migration of dial ("sqlite3"
// or "mysql") whose file is named VERSION_name.up.sql.
func MigrationVersion(dial, name string) (uint, error) {
	dir, err := migrations.Dir(dial)
	if err != nil {
		return 0, err
	}
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if m := versionFile.FindStringSubmatch(e.Name()); m != nil && strings.TrimSuffix(strings.TrimPrefix(e.Name(), m[1]+"_"), ".up.sql") == name {
			v, err := strconv.ParseUint(m[1], 10, 64)
			return uint(v), err
		}
	}
	return 0, fmt.Errorf("no %s migration named %q", dial, name)
}

// CheckSchema reports where the database dsn stands against this build's
// migrations. It only reads: an absent database or version table is
// version 0.
func CheckSchema(ctx context.Context, dsn string) (SchemaStatus, error) {
	var (
		dial = dialect.SQLite
		db   *sql.DB
		err  error
	)
	if strings.HasPrefix(dsn, "mysql://") {
		dial = dialect.MySQL
		cfg, cerr := MySQLConfig(strings.TrimPrefix(dsn, "mysql://"))
		if cerr != nil {
			return SchemaStatus{}, cerr
		}
		db, err = openMySQLDB(cfg)
	} else {
		path := SQLitePath(dsn)
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return statusOf(dial, 0, false)
		}
		db, err = sql.Open("sqlite", sqliteDSN(path, false))
	}
	if err != nil {
		return SchemaStatus{}, err
	}
	defer db.Close()
	var (
		v     int64
		dirty bool
	)
	err = db.QueryRowContext(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&v, &dirty)
	switch {
	case errors.Is(err, sql.ErrNoRows), missingTable(err):
		v, dirty, err = 0, false, nil
	case err != nil:
		return SchemaStatus{}, fmt.Errorf("reading the schema version: %w", err)
	}
	if v < 0 { // golang-migrate's "no version"
		v = 0
	}
	return statusOf(dial, uint(v), dirty)
}

func statusOf(dial string, current uint, dirty bool) (SchemaStatus, error) {
	dir, err := migrations.Dir(dial)
	if err != nil {
		return SchemaStatus{}, err
	}
	st := SchemaStatus{Current: current, Dirty: dirty}
	st.Latest, st.known, err = sourceVersions(dir)
	if err != nil {
		return st, err
	}
	if dirty {
		return st, fmt.Errorf("the migration to version %d failed halfway (the database is marked dirty): repair it by hand, "+
			"then set schema_migrations.dirty to 0; README: Operating callme", current)
	}
	return st, nil
}

func missingTable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1146 || me.Number == 1049 // no such table; no such database
	}
	return err != nil && strings.Contains(err.Error(), "no such table")
}

// Migrate applies the pending migrations of dsn (as starting callme does)
// and returns the new status.
func Migrate(ctx context.Context, dsn string) (SchemaStatus, error) {
	db, err := Open(ctx, dsn, Options{MaxOpenConns: 1})
	if err != nil {
		return SchemaStatus{}, err
	}
	db.Close()
	return CheckSchema(ctx, dsn)
}

// MigrateTo migrates dsn up or down to exactly version: the upgrade tests
// start from an earlier release's schema with it.
func MigrateTo(ctx context.Context, dsn string, version uint) error {
	var (
		dial = dialect.SQLite
		db   *sql.DB
		err  error
	)
	if strings.HasPrefix(dsn, "mysql://") {
		dial = dialect.MySQL
		cfg, cerr := MySQLConfig(strings.TrimPrefix(dsn, "mysql://"))
		if cerr != nil {
			return cerr
		}
		if err := createDatabase(ctx, cfg); err != nil {
			return err
		}
		cfg.MultiStatements = true
		db, err = openMySQLDB(cfg)
	} else {
		db, err = sql.Open("sqlite", sqliteMigrateDSN(SQLitePath(dsn)))
	}
	if err != nil {
		return err
	}
	dir, err := migrations.Dir(dial)
	if err != nil {
		db.Close()
		return err
	}
	m, err := newMigrate(dial, db, dir)
	if err != nil {
		db.Close()
		return err
	}
	defer m.Close()
	if err := m.Migrate(version); err != nil && !errors.Is(err, gomigrate.ErrNoChange) {
		return err
	}
	return nil
}
