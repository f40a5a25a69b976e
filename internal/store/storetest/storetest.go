// Package storetest gives tests a fresh, migrated database of every engine
// available: SQLite always, and MySQL/MariaDB when CALLME_TEST_MYSQL_DSN is
// set (e.g. "root@tcp(127.0.0.1:3306)/"; each test gets its own database on
// that server, dropped when the test ends).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callme/internal/store"
)

// EnvMySQL names the variable that enables the MySQL runs.
const EnvMySQL = "CALLME_TEST_MYSQL_DSN"

// Engine makes fresh databases of one kind.
type Engine struct {
	Name string
	// DSN returns the DSN of a new empty database, removed at test end.
	DSN func(tb testing.TB) string
}

// Engines lists SQLite and, when configured, MySQL.
func Engines() []Engine {
	engines := []Engine{{Name: "sqlite", DSN: sqliteDSN}}
	if base := os.Getenv(EnvMySQL); base != "" {
		engines = append(engines, Engine{Name: "mysql", DSN: func(tb testing.TB) string { return mysqlDSN(tb, base) }})
	}
	return engines
}

func sqliteDSN(tb testing.TB) string {
	return "sqlite:" + filepath.Join(tb.TempDir(), "callme.db")
}

func mysqlDSN(tb testing.TB, base string) string {
	tb.Helper()
	base = strings.TrimPrefix(base, "mysql://")
	cfg, err := store.MySQLConfig(base)
	if err != nil {
		tb.Fatalf("%s: %v", EnvMySQL, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.DBName = "callme_test_" + hex.EncodeToString(b[:])
	dsn := "mysql://" + cfg.FormatDSN()
	tb.Cleanup(func() {
		if err := store.DropDatabase(context.Background(), strings.TrimPrefix(dsn, "mysql://")); err != nil {
			tb.Logf("dropping %s: %v", cfg.DBName, err)
		}
	})
	return dsn
}

// Open opens a fresh migrated database of engine e, closed at test end.
func Open(tb testing.TB, e Engine, opts store.Options) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), e.DSN(tb), opts)
	if err != nil {
		tb.Fatalf("opening %s: %v", e.Name, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
