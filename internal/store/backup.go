package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrBackupMySQL is returned by Backup for MySQL/MariaDB databases, which
// their own tools copy consistently.
var ErrBackupMySQL = errors.New("callme backup copies SQLite databases only; back up MySQL/MariaDB with " +
	"`mariadb-dump --single-transaction --databases callme > callme.sql` (README: Operating callme)")

// Backup writes a consistent copy of the SQLite database dsn to dest while
// callme may be running and writing to it. It never overwrites dest.
//
// VACUUM INTO runs in one read transaction on a connection of its own: in
// WAL mode it sees the database as of its start and neither blocks nor waits
// for the server's write connection, so fetches and calls go on. The copy is
// written beside dest, flushed to disk (SQLite does not fsync it) and only
// then linked into place, so dest is complete or absent, never half written.
func Backup(ctx context.Context, dsn, dest string) error {
	if strings.HasPrefix(dsn, "mysql://") {
		return ErrBackupMySQL
	}
	src := SQLitePath(dsn)
	if src == "" || strings.Contains(src, ":memory:") {
		return errors.New("backup needs a SQLite file path")
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no database to back up: %w", err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite it", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-"+hex.EncodeToString(rnd[:]))
	defer os.Remove(tmp)

	// Not a reader's DSN: query_only refuses VACUUM INTO as a write. The
	// statement runs outside BEGIN, so it takes no write lock.
	db, err := sql.Open("sqlite", sqliteDSN(src, true))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	// A hard link fails if dest appeared meanwhile, where a rename would
	// replace it.
	if err := os.Link(tmp, dest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: refusing to overwrite it", dest)
		}
		return fmt.Errorf("placing the copy at %s: %w", dest, err)
	}
	return syncFile(filepath.Dir(dest))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
