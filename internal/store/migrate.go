package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"callme/ent/migrate"
	"callme/migrations"

	atlas "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	gomigrate "github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// migrateUp applies the embedded migrations of dialect to db and closes db
// (golang-migrate's drivers own the handle they are given). golang-migrate
// takes a database lock, so instances starting together apply them once.
func migrateUp(dial string, db *sql.DB) error {
	dir, err := migrations.Dir(dial)
	if err != nil {
		return err
	}
	return migrateUpFS(dial, db, dir)
}

func migrateUpFS(dial string, db *sql.DB, dir fs.FS) error {
	m, err := newMigrate(dial, db, dir)
	if err != nil {
		return err
	}
	defer m.Close()
	st := SchemaStatus{}
	st.Latest, st.known, err = sourceVersions(dir)
	if err != nil {
		return err
	}
	v, dirty, err := m.Version()
	if err != nil && !errors.Is(err, gomigrate.ErrNilVersion) {
		return err
	}
	st.Current, st.Dirty = v, dirty
	// golang-migrate would find no next file for a version it does not know
	// and report nothing to do: a newer schema would be served by older code.
	if st.State() == SchemaAhead {
		return &AheadError{st}
	}
	// An empty set (fs.ErrNotExist) only happens while writing the first migration.
	if err := m.Up(); err != nil && !errors.Is(err, gomigrate.ErrNoChange) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if dial == dialect.SQLite {
		return foreignKeyCheck(db)
	}
	return nil
}

// foreignKeyCheck fails if the SQLite migrations (run without enforcement,
// see sqliteMigrateDSN) left a row pointing at nothing.
func foreignKeyCheck(db *sql.DB) error {
	rows, err := db.Query("PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		return fmt.Errorf("after migrating, a row of %s (rowid %d) refers to a missing %s row", table, rowid.Int64, parent)
	}
	return rows.Err()
}

func newMigrate(dial string, db *sql.DB, dir fs.FS) (*gomigrate.Migrate, error) {
	src, err := iofs.New(dir, ".")
	if err != nil {
		return nil, err
	}
	var drv database.Driver
	switch dial {
	case dialect.SQLite:
		drv, err = migratesqlite.WithInstance(db, &migratesqlite.Config{})
	case dialect.MySQL:
		drv, err = migratemysql.WithInstance(db, &migratemysql.Config{})
	default:
		err = fmt.Errorf("no migrations for dialect %q", dial)
	}
	if err != nil {
		return nil, err
	}
	return gomigrate.NewWithInstance("iofs", src, dial, drv)
}

// Diff compares the ent schema with the database db (on which the migration
// files in dirPath have been applied) and, when they differ, writes a new
// migration named name into dirPath. It reports whether it wrote one.
func Diff(ctx context.Context, dial string, db *sql.DB, dirPath, name string) (bool, error) {
	dir, err := sqltool.NewGolangMigrateDir(dirPath)
	if err != nil {
		return false, err
	}
	before, err := dir.Files()
	if err != nil {
		return false, err
	}
	s := migrate.NewSchema(entsql.OpenDB(dial, db))
	err = s.NamedDiff(ctx, name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeInspect),
		schema.WithDialect(dial),
		schema.WithFormatter(sqltool.GolangMigrateFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil && !errors.Is(err, atlas.ErrNoPlan) {
		return false, err
	}
	after, err := dir.Files()
	if err != nil {
		return false, err
	}
	return len(after) != len(before), nil
}

// PrepareDiff opens a scratch database of dial with dirPath's migrations
// applied, ready for Diff. For SQLite it is a file in a temporary directory;
// for MySQL, devDSN names a database that is dropped and created afresh.
func PrepareDiff(ctx context.Context, dial, dirPath, devDSN string) (*sql.DB, func(), error) {
	var (
		db      *sql.DB
		open    func() (*sql.DB, error)
		cleanup = func() {}
	)
	switch dial {
	case dialect.SQLite:
		tmp, terr := os.MkdirTemp("", "callme-migrate-*")
		if terr != nil {
			return nil, nil, terr
		}
		dsn := sqliteDSN(filepath.Join(tmp, "dev.db"), true)
		open = func() (*sql.DB, error) { return sql.Open("sqlite", dsn) }
		cleanup = func() { os.RemoveAll(tmp) }
	case dialect.MySQL:
		cfg, cerr := MySQLConfig(devDSN)
		if cerr != nil {
			return nil, nil, cerr
		}
		if err := resetDatabase(ctx, cfg); err != nil {
			return nil, nil, err
		}
		cfg.MultiStatements = true
		open = func() (*sql.DB, error) { return openMySQLDB(cfg) }
	default:
		return nil, nil, fmt.Errorf("unknown dialect %q", dial)
	}
	mdb, err := open()
	if err == nil {
		err = migrateUpFS(dial, mdb, os.DirFS(dirPath))
	}
	if err == nil {
		db, err = open()
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("replaying %s: %w", dirPath, err)
	}
	return db, func() { db.Close(); cleanup() }, nil
}
