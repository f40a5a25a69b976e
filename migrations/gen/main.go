// Command gen writes a new versioned migration when the ent schema changed:
//
//	go run ./migrations/gen -name add_pickup_note
//
// It replays the existing files of each dialect on a scratch database (a temp
// SQLite file; for MySQL the database in -mysql, dropped and recreated), diffs
// that against ent/schema, and writes the difference as golang-migrate files.
// Without -mysql only the SQLite set is written.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"callme/internal/store"

	"entgo.io/ent/dialect"
)

func main() {
	name := flag.String("name", "", "migration name, e.g. add_pickup_note (required)")
	devMySQL := flag.String("mysql", os.Getenv("CALLME_DEV_MYSQL_DSN"), "scratch MySQL DSN (dropped!), e.g. root@tcp(127.0.0.1:3306)/callme_migrate_dev")
	flag.Parse()
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
