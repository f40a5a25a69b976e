// Command gen writes a new versioned migration when the ent schema changed:
//
//	go run ./migrations/gen -name add_pickup_note
//
// It replays the existing files of each dialect on a scratch database (a temp
// SQLite file; for MySQL the database in -mysql, dropped and recreated), diffs
// that against ent/schema, and writes the difference as golang-migrate files.
// Without -mysql only the SQLite set is written.
//
// A data migration (UPDATE statements, no schema change) is written by hand
// as a VERSION_name.up.sql/.down.sql pair in both directories; then
//
//	go run ./migrations/gen -hash
//
// recomputes each directory's atlas.sum, which the generator checks.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"callme/internal/store"

	atlas "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
)

func main() {
	name := flag.String("name", "", "migration name, e.g. add_pickup_note (required)")
	devMySQL := flag.String("mysql", os.Getenv("CALLME_DEV_MYSQL_DSN"), "scratch MySQL DSN (dropped!), e.g. root@tcp(127.0.0.1:3306)/callme_migrate_dev")
	hash := flag.Bool("hash", false, "only recompute atlas.sum of each directory (after writing a data migration by hand)")
	flag.Parse()
	if *hash {
		for _, dir := range []string{"migrations/sqlite", "migrations/mysql"} {
			if err := rehash(dir); err != nil {
				fmt.Fprintf(os.Stderr, "gen: %s: %v\n", dir, err)
				os.Exit(1)
			}
		}
		return
	}
	if *name == "" {
		fmt.Fprintln(os.Stderr, "gen: -name is required")
		os.Exit(2)
	}
	sets := []struct{ dialect, dir, dsn string }{{dialect.SQLite, "migrations/sqlite", ""}}
	if *devMySQL != "" {
		sets = append(sets, struct{ dialect, dir, dsn string }{dialect.MySQL, "migrations/mysql", *devMySQL})
	} else {
		fmt.Fprintln(os.Stderr, "gen: no -mysql scratch DSN: writing the SQLite set only")
	}
	ctx := context.Background()
	for _, s := range sets {
		db, cleanup, err := store.PrepareDiff(ctx, s.dialect, s.dir, s.dsn)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s: %v\n", s.dialect, err)
			os.Exit(1)
		}
		wrote, err := store.Diff(ctx, s.dialect, db, s.dir, *name)
		cleanup()
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s: %v\n", s.dialect, err)
			os.Exit(1)
		}
		fmt.Printf("%s: wrote new migration: %v\n", s.dialect, wrote)
	}
}

func rehash(path string) error {
	dir, err := sqltool.NewGolangMigrateDir(path)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return atlas.WriteSumFile(dir, sum)
}
