package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/pulid"
	"callme/internal/store"
	"callme/internal/store/storetest"

	"entgo.io/ent/dialect"
	"github.com/go-sql-driver/mysql"
)

// TestUpgradeMidDay upgrades a database in the middle of a business day: an
// earlier release's migrations, a day of stalls, tickets in every status,
// calls, sessions and notifications written by that release (as SQL), then
// this release starts on it. Every row reads back unchanged and the rules
// carry on: logins survive, the next fetch continues the day's numbering
// with the stall's prefix, the next call continues the seq, notes and the
// active-ticket cap hold.
func TestUpgradeMidDay(t *testing.T) {
	for _, from := range []struct {
		name      string
		migration string // the release's newest migration, per dialect
		mysql     string
		// What that release's schema has.
		counterPrefix, notifications bool
	}{
		// The release before this one.
		{"previous_release", "claim_codes", "claim_codes", true, true},
		// Before day_counters.prefix: the counter of the day being served
		// has no prefix column yet; the upgrade must give it the stall's.
		{"before_counter_prefix", "init", "init", false, false},
	} {
		t.Run(from.name, func(t *testing.T) {
			forEngine(t, func(t *testing.T, e storetest.Engine) {
				ctx := context.Background()
				dsn := e.DSN(t)
				dial, name := dialect.SQLite, from.migration
				if e.Name == "mysql" {
					dial, name = dialect.MySQL, from.mysql
				}
				v, err := store.MigrationVersion(dial, name)
				if err != nil {
					t.Fatal(err)
				}
				if err := store.MigrateTo(ctx, dsn, v); err != nil {
					t.Fatalf("migrating to %s (%d): %v", name, v, err)
				}
				if st, err := store.CheckSchema(ctx, dsn); err != nil || st.Current != v || (v < st.Latest && st.State() != store.SchemaBehind) {
					t.Fatalf("before the upgrade: %v %v, want behind at %d", st, err, v)
				}
				raw := rawDB(t, dsn)
				day := loadDay(t, raw, from.counterPrefix, from.notifications)
				before := snapshot(t, raw, from.notifications)

				var general atomic.Int64 // tickets inserted by the general path (ent's INSERT alone)
				s := startServer(t, e, func(c *config) {
					c.DB = dsn
					c.TimeZone = "UTC"
					c.now = func() time.Time { return day.now }
					c.RecallGap = 0
					c.sqlHook = func(q string) {
						if strings.HasPrefix(q, "INSERT INTO `tickets`") {
							general.Add(1)
						}
					}
					noRateLimits(c)
				})
				if st, err := store.CheckSchema(ctx, dsn); err != nil || st.State() != store.SchemaCurrent {
					t.Fatalf("after the upgrade: %v %v, want current", st, err)
				}
				after := snapshot(t, raw, from.notifications)
				for table, rows := range before {
					if got := after[table]; got != rows {
						t.Errorf("%s after the upgrade:\n%s\nwant\n%s", table, got, rows)
					}
				}

				// Sessions survive: both tokens still log in.
				var me struct{ Me struct{ ID string } }
				s.ok(t, day.aliceToken, `{ me { id } }`, nil, &me)
				if me.Me.ID != string(day.alice) {
					t.Errorf("alice's session reads as %q, want %s", me.Me.ID, day.alice)
				}
				// Her note is still hers to read.
				var node struct {
					Node struct {
						Note         *string
						Code, Status string
					}
				}
				s.ok(t, day.aliceToken, `query($id: ID!) { node(id: $id) { ... on Ticket { note code status } } }`,
					map[string]any{"id": day.waiting}, &node)
				if deref(node.Node.Note) != "extra chili" || node.Node.Code != "A005" || node.Node.Status != "WAITING" {
					t.Errorf("alice's waiting ticket reads %+v", node.Node)
				}
				// The day's numbering continues, with the stall's prefix.
				var f struct {
					Fetch struct {
						Code   string
						Number int
					}
				}
				s.ok(t, day.aliceToken, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { code number } }`,
					map[string]any{"id": day.stall}, &f)
				if f.Fetch.Code != "A006" || f.Fetch.Number != 6 {
					t.Errorf("first fetch after the upgrade: %+v, want A006", f.Fetch)
				}
				// The day's counter row carries the stall's state (the fast
				// fetch reads it there), so that fetch took the fast path.
				var same bool
				if err := raw.QueryRow("SELECT d.open = s.open AND d.paid_until = s.paid_until FROM day_counters d JOIN sellers s ON s.id = d.seller_id WHERE d.seller_id = ?", string(day.stall)).Scan(&same); err != nil || !same {
					t.Errorf("the day's counter row has the stall's open switch and paid term: %t (%v), want true", same, err)
				}
				if e.Name == "mysql" && general.Load() != 0 {
					t.Errorf("the first fetch after the upgrade took the general path (%d ticket INSERTs alone)", general.Load())
				}
				// The cap on active tickets counts the tickets from before.
				s.ok(t, day.aliceToken, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { code } }`, map[string]any{"id": day.stall}, nil)
				if r := s.query(t, day.aliceToken, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { code } }`, map[string]any{"id": day.stall}); r.code() != "RATE_LIMITED" || !strings.Contains(r.Errors[0].Message, "3 active") {
					t.Errorf("a fourth active ticket: %+v, want a refusal", r.Errors)
				}
				// Calls continue the stall's seq: A004 is CALLED, A005 is next.
				var called struct{ CallNext struct{ Code string } }
				s.ok(t, day.sellerToken, `mutation($id: ID!) { callNext(sellerId: $id) { code } }`, map[string]any{"id": day.stall}, &called)
				if called.CallNext.Code != "A005" {
					t.Errorf("callNext after the upgrade called %q, want A005", called.CallNext.Code)
				}
				var seq int64
				if err := raw.QueryRow("SELECT MAX(seq) FROM call_events WHERE seller_id = ?", string(day.stall)).Scan(&seq); err != nil || seq != 4 {
					t.Errorf("the call's seq is %d (%v), want 4", seq, err)
				}
				// The cap also counts what a seller can give back: bob holds
				// A004 and gets his no-show A002 reopened, so one more fetch
				// reaches the cap and the next is refused.
				s.ok(t, day.sellerToken, `mutation($id: ID!) { reopen(ticketId: $id) { status } }`, map[string]any{"id": day.noShow}, nil)
				s.ok(t, day.bobToken, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { code } }`, map[string]any{"id": day.stall}, nil)
				if r := s.query(t, day.bobToken, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { code } }`, map[string]any{"id": day.stall}); r.code() != "RATE_LIMITED" {
					t.Errorf("bob's fourth active ticket: %+v, want a refusal", r.Errors)
				}
			})
		})
	}
}

type dayData struct {
	now                               time.Time
	stall, alice, waiting, noShow     pulid.ID
	aliceToken, bobToken, sellerToken string
}

// loadDay writes a business day as an earlier release left it: tickets
// A001..A005 in every status, three calls, two sessions, a menu, and (when
// the schema has them) a sent notification and an unused grant.
func loadDay(t *testing.T, db *sql.DB, counterPrefix, notifications bool) dayData {
	t.Helper()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return now.Add(time.Duration(min-120) * time.Minute) }
	const day = 20261130
	d := dayData{
		now: now, stall: pulid.New("SL"), alice: pulid.New("US"),
		aliceToken: "alice-token-from-the-last-release", bobToken: "bob-token-from-the-last-release",
		sellerToken: "seller-token-from-the-last-release",
	}
	owner, bob := pulid.New("US"), pulid.New("US")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	user := func(id pulid.ID, app, openid string) {
		exec("INSERT INTO users (id, app, openid, created_at) VALUES (?, ?, ?, ?)", string(id), app, openid, at(0))
	}
	user(owner, "SELLER", "o-seller")
	user(d.alice, "CUSTOMER", "o-alice")
	user(bob, "CUSTOMER", "o-bob")
	exec("INSERT INTO sellers (id, name, prefix, max_number, open, paid_until, call_seq, created_at, owner_id) VALUES (?, ?, 'A', 999, ?, ?, 3, ?, ?)",
		string(d.stall), "兰州拉面 Noodle King", true, now.Add(30*24*time.Hour), at(0), string(owner))
	exec("INSERT INTO menu_items (id, name, price_cents, available, position, seller_id) VALUES (?, '牛肉面', 1800, ?, 0, ?)", string(pulid.New("MI")), true, string(d.stall))
	if counterPrefix {
		exec("INSERT INTO day_counters (business_day, last_number, issued, max_number, prefix, seller_id) VALUES (?, 5, 5, 999, 'A', ?)", day, string(d.stall))
	} else {
		exec("INSERT INTO day_counters (business_day, last_number, issued, max_number, seller_id) VALUES (?, 5, 5, 999, ?)", day, string(d.stall))
	}
	// Yesterday's counter: a past day, never read for numbering again.
	exec("INSERT INTO day_counters (business_day, last_number, issued, max_number, seller_id) VALUES (?, 1, 1, 999, ?)", day-1, string(d.stall))
	tickets := []struct {
		n      int
		status string
		owner  pulid.ID
		note   any
		calls  int
		done   bool
	}{
		{1, "DONE", bob, nil, 1, true},
		{2, "NO_SHOW", bob, "no onions", 1, true},
		{3, "CANCELLED", "", nil, 0, true},
		{4, "CALLED", bob, nil, 1, false},
		{5, "WAITING", d.alice, "extra chili", 0, false},
	}
	ids := map[int]pulid.ID{}
	for _, tk := range tickets {
		id := pulid.New("TK")
		ids[tk.n] = id
		var active, own, calledAt, doneAt any
		if !tk.done {
			active = tk.n
		}
		if tk.owner != "" {
			own = string(tk.owner)
		}
		if tk.calls > 0 {
			calledAt = at(10 * tk.n)
		}
		if tk.done {
			doneAt = at(10*tk.n + 3)
		}
		exec(`INSERT INTO tickets (id, business_day, number, code, active_number, issue_seq, status, note, issued_by,
			call_count, version, created_at, claimed_at, called_at, done_at, seller_id, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 2, ?, ?, ?, ?, ?, ?)`,
			string(id), day, tk.n, fmt.Sprintf("A%03d", tk.n), active, tk.n, tk.status, tk.note, string(owner),
			tk.calls, at(tk.n), at(tk.n), calledAt, doneAt, string(d.stall), own)
	}
	d.waiting, d.noShow = ids[5], ids[2]
	for seq, n := range []int{1, 2, 4} {
		exec("INSERT INTO call_events (business_day, seq, called_at, ticket_id, seller_id) VALUES (?, ?, ?, ?, ?)", day, seq+1, at(10*n), string(ids[n]), string(d.stall))
	}
	session := func(token string, user pulid.ID, app string) {
		h := sha256.Sum256([]byte(token))
		exec("INSERT INTO sessions (token_hash, app, created_at, last_seen_at, expires_at, user_id) VALUES (?, ?, ?, ?, ?, ?)",
			hex.EncodeToString(h[:]), app, at(0), now, now.Add(30*time.Minute), string(user))
	}
	session(d.aliceToken, d.alice, "CUSTOMER")
	session(d.bobToken, bob, "CUSTOMER")
	session(d.sellerToken, owner, "SELLER")
	if notifications {
		exec("INSERT INTO notify_grants (ticket_id, user_id, template_id, created_at, used_at) VALUES (?, ?, 'tpl', ?, ?)", string(ids[4]), string(bob), at(5), at(40))
		exec("INSERT INTO notify_grants (ticket_id, user_id, template_id, created_at) VALUES (?, ?, 'tpl', ?)", string(ids[5]), string(d.alice), at(6))
		exec(`INSERT INTO notifications (grant_id, ticket_id, user_id, template_id, data, state, attempts, next_attempt_at, created_at, sent_at)
			VALUES (1, ?, ?, 'tpl', '{"code":"A004"}', 'SENT', 1, ?, ?, ?)`, string(ids[4]), string(bob), at(40), at(40), at(40))
	}
	return d
}

// snapshot reads every row the day wrote, column by column, as text.
func snapshot(t *testing.T, db *sql.DB, notifications bool) map[string]string {
	t.Helper()
	queries := map[string]string{
		"users":        "SELECT id, app, openid FROM users ORDER BY id",
		"sellers":      "SELECT id, name, prefix, max_number, call_seq, owner_id FROM sellers ORDER BY id",
		"menu_items":   "SELECT id, name, price_cents, seller_id FROM menu_items ORDER BY id",
		"day_counters": "SELECT seller_id, business_day, last_number, issued, max_number FROM day_counters ORDER BY business_day",
		"tickets": `SELECT id, business_day, number, code, active_number, issue_seq, status, note, issued_by, call_count,
			version, owner_id, created_at, called_at, done_at FROM tickets ORDER BY id`,
		"call_events": "SELECT seller_id, business_day, seq, ticket_id, called_at FROM call_events ORDER BY seq",
		"sessions":    "SELECT token_hash, app, user_id, expires_at FROM sessions ORDER BY token_hash",
	}
	if notifications {
		queries["notify_grants"] = "SELECT id, ticket_id, user_id, template_id, used_at FROM notify_grants ORDER BY id"
		queries["notifications"] = "SELECT id, grant_id, ticket_id, user_id, data, state, attempts, sent_at FROM notifications ORDER BY id"
	}
	out := map[string]string{}
	for table, q := range queries {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		var b strings.Builder
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			b.WriteString("\n")
			n++
		}
		rows.Close()
		if n == 0 {
			t.Fatalf("%s: no rows", table)
		}
		out[table] = b.String()
	}
	return out
}

// rawDB opens dsn without callme's store, as an operator's SQL client would.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	if strings.HasPrefix(dsn, "mysql://") {
		cfg, cerr := store.MySQLConfig(strings.TrimPrefix(dsn, "mysql://"))
		if cerr != nil {
			t.Fatal(cerr)
		}
		c, cerr := mysql.NewConnector(cfg)
		if cerr != nil {
			t.Fatal(cerr)
		}
		db = sql.OpenDB(c)
	} else {
		db, err = sql.Open("sqlite", "file:"+store.SQLitePath(dsn)+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
