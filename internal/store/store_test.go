package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callme/ent/seller"
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

// TestEmojiSurviveAnyConnectionCharset: the tables are utf8mb4, but a DSN
// asking for charset=utf8 (3-byte utf8mb3) or latin1 would make the server
// refuse or mangle 🍜 on the way in. Every connection speaks utf8mb4.
func TestEmojiSurviveAnyConnectionCharset(t *testing.T) {
	var mysql *storetest.Engine
	for _, e := range storetest.Engines() {
		if e.Name == "mysql" {
			mysql = &e
		}
	}
	if mysql == nil {
		t.Skip("no MySQL: set " + storetest.EnvMySQL)
	}
	for _, charset := range []string{"utf8", "latin1"} {
		t.Run(charset, func(t *testing.T) {
			dsn := mysql.DSN(t)
			ctx := context.Background()
			db, err := store.Open(ctx, dsn+"&charset="+charset, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			const name = "兰州拉面🍜👨‍👩‍👧"
			st, err := db.Client.Seller.Create().SetName(name).Save(ctx)
			if err != nil {
				t.Fatalf("storing %q over a %s connection: %v", name, charset, err)
			}
			// Read it over a connection as the default DSN makes one: a
			// round trip in one charset could hide mangled bytes.
			plain, err := store.Open(ctx, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			got, err := plain.Client.Seller.Get(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != name {
				t.Errorf("read back %q, want %q", got.Name, name)
			}
			for _, d := range []*store.DB{db, plain} {
				var c string
				if err := d.SQL().QueryRowContext(ctx, "SELECT @@collation_connection").Scan(&c); err != nil {
					t.Fatal(err)
				}
				if c != "utf8mb4_bin" {
					t.Errorf("connection collation %q, want utf8mb4_bin", c)
				}
			}
		})
	}
}

// TestTransactionsBeginWithTheirFirstStatement: on MySQL a transaction
// sends no START TRANSACTION (its connection has autocommit off), yet it
// is still all or nothing, and a rolled-back one leaves nothing behind on
// the connection for the next transaction to commit.
func TestTransactionsBeginWithTheirFirstStatement(t *testing.T) {
	var mysql *storetest.Engine
	for _, e := range storetest.Engines() {
		if e.Name == "mysql" {
			mysql = &e
		}
	}
	if mysql == nil {
		t.Skip("no MySQL: set " + storetest.EnvMySQL)
	}
	ctx := context.Background()
	// The transactions below run one after another: each reuses the
	// connection the one before it ended on.
	db, err := store.Open(ctx, mysql.DSN(t), store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exists := func(name string) bool {
		// Outside the transaction: on a connection of its own.
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := db.Client.Seller.Query().Where(seller.Name(name)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}

	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seller.Create().SetName("rolled back").Save(ctx); err != nil {
		t.Fatal(err)
	}
	if exists("rolled back") {
		t.Fatal("an uncommitted insert is visible outside its transaction")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	// A statement that fails inside a transaction, then a rollback.
	tx, err = db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seller.Create().SetName("also rolled back").Save(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)"); err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	tx, err = db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seller.Create().SetName("committed").Save(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "SHOW SESSION STATUS LIKE 'Com_begin'")
	if err != nil {
		t.Fatal(err)
	}
	var begins int
	var variable string
	for rows.Next() {
		if err := rows.Scan(&variable, &begins); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if begins != 0 {
		t.Errorf("the transaction connection sent %d START TRANSACTION, want 0", begins)
	}
	for name, want := range map[string]bool{"rolled back": false, "also rolled back": false, "committed": true} {
		if got := exists(name); got != want {
			t.Errorf("seller %q stored: %v, want %v", name, got, want)
		}
	}
}
