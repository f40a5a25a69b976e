package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callme/internal/store"
	"callme/internal/store/storetest"

	"entgo.io/ent/dialect"
)

// TestMigrationsMatchSchema fails when ent/schema and the migration files
// disagree: it replays the committed migrations on a scratch database and
// asks ent for the difference to the schema, which must be nothing.
func TestMigrationsMatchSchema(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dial, set := dialect.SQLite, "sqlite"
			var dev string
			if e.Name == "mysql" {
				dial, set = dialect.MySQL, "mysql"
				dev = strings.TrimPrefix(e.DSN(t), "mysql://")
			}
			dir := t.TempDir()
			copyDir(t, filepath.Join("..", "..", "migrations", set), dir)
			ctx := context.Background()
			db, cleanup, err := store.PrepareDiff(ctx, dial, dir, dev)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			wrote, err := store.Diff(ctx, dial, db, dir, "drift")
			if err != nil {
				t.Fatal(err)
			}
			if wrote {
				var diff []string
				files, _ := filepath.Glob(filepath.Join(dir, "*drift.up.sql"))
				for _, f := range files {
					b, _ := os.ReadFile(f)
					diff = append(diff, string(b))
				}
				t.Fatalf("ent/schema changed without a migration; run `go run ./migrations/gen -name <change> -mysql <scratch DSN>`. Missing:\n%s", strings.Join(diff, "\n"))
			}
		})
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRejectsBadDSNs(t *testing.T) {
	for _, dsn := range []string{"sqlite::memory:", "mysql://root@tcp(127.0.0.1:1)/", "mysql://%%%"} {
		if db, err := store.Open(context.Background(), dsn, store.Options{}); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", dsn)
		}
	}
}

func TestMigrationsApplyOnceAndReopen(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dsn := e.DSN(t)
			for i := 0; i < 2; i++ { // the second start finds the schema current
				db, err := store.Open(context.Background(), dsn, store.Options{})
				if err != nil {
					t.Fatalf("open #%d: %v", i+1, err)
				}
				if err := db.Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Client.Seller.Query().Count(context.Background()); err != nil {
					t.Fatalf("schema missing after open #%d: %v", i+1, err)
				}
				db.Close()
			}
		})
	}
}
