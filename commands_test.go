package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/store"
	"callme/internal/store/storetest"
)

// TestUsageErrors: a command line callme does not understand ends with exit
// status 2 and the usage, instead of starting a server that ignores it.
func TestUsageErrors(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "callme.db")
	for _, args := range [][]string{
		{"backupp", "x"},
		{"-addr", "127.0.0.1:0", "stray"},
		{"-no-such-flag"},
		{"backup"},
		{"backup", "a", "b"},
		{"migrate", "now"},
		{"healthcheck", "x"},
		{"schema", "x"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a server that started anyway would stop at once
			var out strings.Builder
			err := run(ctx, append([]string{"callme"}, args...), func(k string) string {
				return map[string]string{"CALLME_DB": dsn}[k]
			}, &out)
			if got := exitCode(err); got != 2 {
				t.Fatalf("exit status %d (%v), want 2", got, err)
			}
			if !strings.Contains(err.Error(), "usage:") || !strings.Contains(err.Error(), "callme backup") {
				t.Errorf("error %q does not show the usage", err)
			}
		})
	}
	if _, err := os.Stat(store.SQLitePath(dsn)); err == nil {
		t.Error("a usage error created the database")
	}
}

// TestBackupWhileServing copies the database while the server keeps
// handing out numbers: the copy is a sound database holding at least every
// ticket committed before the backup began.
func TestBackupWhileServing(t *testing.T) {
	e := storetest.Engines()[0] // SQLite: MySQL has its own tools
	var dsn string
	s := startServer(t, e, func(c *config) { dsn = c.DB; noRateLimits(c) })
	_, stallID := s.openStall(t, "Noodle King", "A")
	customers := make([]string, 4)
	for i := range customers {
		customers[i] = s.login(t, "CUSTOMER", fmt.Sprint("c", i))
	}
	// fetch takes a number and gives it back, so a customer never reaches
	// the cap on active tickets however long the writers run.
	fetch := func(tok string) {
		var f struct{ Fetch struct{ ID string } }
		r := s.query(t, tok, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stallID})
		if len(r.Errors) > 0 {
			t.Errorf("fetch: %+v", r.Errors)
			return
		}
		_ = json.Unmarshal(r.Data, &f)
		if r := s.query(t, tok, `mutation($id: ID!) { cancel(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}); len(r.Errors) > 0 {
			t.Errorf("cancel: %+v", r.Errors)
		}
	}
	for _, c := range customers {
		fetch(c)
	}
	committed := ticketIDs(t, store.SQLitePath(dsn))
	if len(committed) != len(customers) {
		t.Fatalf("%d tickets before the backup, want %d", len(committed), len(customers))
	}

	var stop atomic.Bool
	var wrote atomic.Int64
	var wg sync.WaitGroup
	for _, c := range customers {
		wg.Go(func() {
			for !stop.Load() {
				fetch(c)
				wrote.Add(1)
			}
		})
	}
	for wrote.Load() < 8 { // the writers are busy before the copy starts
		runtime.Gosched()
	}
	file := filepath.Join(t.TempDir(), "copy.db")
	var out strings.Builder
	err := run(context.Background(), []string{"callme", "backup", file}, func(k string) string {
		return map[string]string{"CALLME_DB": dsn}[k]
	}, &out)
	during := wrote.Load()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("%d fetches before the copy ended, %d after", during, wrote.Load()-during)
	copied := ticketIDs(t, file)
	for id := range committed {
		if !copied[id] {
			t.Errorf("ticket %s committed before the backup is missing from the copy", id)
		}
	}
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check of the copy: %q %v", ok, err)
	}

	// A second backup to the same file is refused and leaves it alone.
	before, _ := os.ReadFile(file)
	err = run(context.Background(), []string{"callme", "backup", "-db", dsn, file}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("backup over an existing file: %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("the refused backup changed the existing file")
	}
	// The copy is a callme database: callme opens it as it is.
	restored, err := store.Open(context.Background(), "sqlite:"+file, store.Options{})
	if err != nil {
		t.Fatalf("opening the copy with callme: %v", err)
	}
	n, err := restored.Client.Ticket.Query().Count(context.Background())
	restored.Close()
	if err != nil || n < len(committed) {
		t.Errorf("the restored copy holds %d tickets (%v), want at least %d", n, err, len(committed))
	}
}

func TestBackupRefusesMySQL(t *testing.T) {
	err := run(context.Background(), []string{"callme", "backup", "-db", "mysql://root@tcp(127.0.0.1:1)/callme", filepath.Join(t.TempDir(), "x")}, func(string) string { return "" }, &strings.Builder{})
	if !errors.Is(err, store.ErrBackupMySQL) || !strings.Contains(err.Error(), "mariadb-dump --single-transaction") {
		t.Errorf("backup of MySQL: %v, want a pointer to mariadb-dump", err)
	}
}

func ticketIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id FROM tickets")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

// TestMigrateCheck: `callme migrate -check` tells behind (3), current (0)
// and ahead (4) apart, and callme refuses to serve a database that a newer
// release migrated.
func TestMigrateCheck(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		dsn := e.DSN(t)
		env := func(k string) string { return map[string]string{"CALLME_DB": dsn}[k] }
		ctx := context.Background()
		check := func(want int, wantOut string) {
			t.Helper()
			var out strings.Builder
			err := run(ctx, []string{"callme", "migrate", "-check"}, env, &out)
			if got := exitCode(err); got != want || !strings.HasPrefix(out.String(), wantOut) {
				t.Errorf("migrate -check: exit %d (%v) %q, want exit %d %q…", got, err, out.String(), want, wantOut)
			}
		}
		init, err := store.MigrationVersion(map[string]string{"sqlite": "sqlite3", "mysql": "mysql"}[e.Name], "init")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.MigrateTo(ctx, dsn, init); err != nil {
			t.Fatal(err)
		}
		check(exitSchemaBehind, "behind:")
		var out strings.Builder
		if err := run(ctx, []string{"callme", "migrate"}, env, &out); err != nil || !strings.Contains(out.String(), "migrated") {
			t.Fatalf("migrate: %v %q", err, out.String())
		}
		check(0, "current:")

		// A newer release migrated it further.
		st, err := store.CheckSchema(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawDB(t, dsn)
		if _, err := raw.Exec("UPDATE schema_migrations SET version = ?", st.Latest+1); err != nil {
			t.Fatal(err)
		}
		check(exitSchemaAhead, "ahead:")
		err = run(ctx, []string{"callme", "migrate"}, env, &out)
		if exitCode(err) != exitSchemaAhead {
			t.Errorf("migrate on a newer database: %v, want exit %d", err, exitSchemaAhead)
		}
		cfg, err := parseConfig([]string{"callme", "-photo-dir", t.TempDir()}, env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if a, err2 := newApp(ctx, cfg, slog.New(slog.DiscardHandler)); err2 == nil {
			a.Close()
		} else {
			err = err2
		}
		if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), fmt.Sprint(st.Latest+1)) {
			t.Errorf("starting on a newer database: %v, want a refusal naming its version", err)
		}
		// A migration that failed halfway is an error, not a state.
		if _, err := raw.Exec("UPDATE schema_migrations SET version = ?, dirty = ?", st.Latest, true); err != nil {
			t.Fatal(err)
		}
		err = run(ctx, []string{"callme", "migrate", "-check"}, env, &out)
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "dirty") {
			t.Errorf("migrate -check on a dirty database: %v, want exit 1 naming it dirty", err)
		}
	})
}

func TestRetentionSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		ok   bool
	}{
		{nil, nil, true},
		{map[string]string{"CALLME_RETENTION_DAYS": "30", "CALLME_SWEEP_EVERY": "0"}, nil, true},
		{nil, []string{"-retention-days", "1"}, false},
		{map[string]string{"CALLME_PERSONAL_DATA_DAYS": "0"}, nil, false},
	} {
		c, err := parseConfig(append([]string{"callme"}, tc.args...), func(k string) string { return tc.env[k] }, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%v %v: %v, want ok %v", tc.env, tc.args, err, tc.ok)
			continue
		}
		if err != nil {
			continue
		}
		r := c.retention()
		if tc.env["CALLME_SWEEP_EVERY"] == "0" && r.Every >= 0 {
			t.Errorf("-sweep-every 0 gives Every %v, want the sweep off", r.Every)
		}
		if tc.env == nil && (r.Records != 90*24*time.Hour || r.PersonalData != 180*24*time.Hour || r.Every != time.Hour) {
			t.Errorf("defaults: %+v", r)
		}
	}
}

func TestGCPercentSetting(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want int // 0: refused
	}{
		{nil, nil, 400},
		{map[string]string{"CALLME_GC_PERCENT": "150"}, nil, 150},
		{nil, []string{"-gc-percent", "100"}, 100},
		{nil, []string{"-gc-percent", "0"}, 0},
		{map[string]string{"CALLME_GC_PERCENT": "-1"}, nil, 0},
		// $GOGC wins (run leaves it to the runtime), but only one the
		// runtime can read: it would run an unreadable one at 100.
		{map[string]string{"GOGC": "200"}, nil, 400},
		{map[string]string{"GOGC": "off"}, nil, 400},
		{map[string]string{"GOGC": "abc"}, nil, 0},
		{map[string]string{"GOGC": "150%"}, []string{"-gc-percent", "300"}, 0},
	} {
		c, err := parseConfig(append([]string{"callme"}, tc.args...), func(k string) string { return tc.env[k] }, io.Discard)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("%v %v: accepted %d, want an error", tc.env, tc.args, c.GCPercent)
		case tc.want != 0 && (err != nil || c.GCPercent != tc.want):
			t.Errorf("%v %v: %d, %v; want %d", tc.env, tc.args, c.GCPercent, err, tc.want)
		}
	}
}
