package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/pulid"

	"github.com/go-sql-driver/mysql"
)

// TestTookBoundsTheCount: on MariaDB a customer's fetch trusts users.took
// (the day's tickets taken, never fewer than the active ones) while it is
// within the cap, and counts their active tickets only past it. Tickets
// written behind took's back (straight into the table, which no release
// does) show which way a fetch decided.
func TestTookBoundsTheCount(t *testing.T) {
	e := mysqlEngine(t) // the fast fetch runs on MySQL/MariaDB only
	ctx := context.Background()
	var takes atomic.Int64 // tookUpdate run alone: a take on the general path or a claim
	s := startServer(t, e, noRateLimits, func(c *config) {
		c.RecallGap = 0
		c.sqlHook = func(q string) {
			if strings.HasPrefix(q, "UPDATE `users` SET `took` = CASE") && !strings.Contains(q, ";") {
				takes.Add(1)
			}
		}
	})
	sellerToken, stall := s.openStall(t, "noodles", "A")
	db := s.app.db.Client
	var day int
	took := func(t *testing.T, uid string) (n int, onDay *int) {
		t.Helper()
		queryOne(t, db, "SELECT `took`, `took_day` FROM `users` WHERE `id` = ?", []any{uid}, &n, &onDay)
		return n, onDay
	}
	customer := func(t *testing.T, name string) (token, uid string) {
		t.Helper()
		token = s.login(t, "CUSTOMER", name)
		var me struct{ Me struct{ ID string } }
		s.ok(t, token, `{ me { id } }`, nil, &me)
		return token, me.Me.ID
	}
	fetch := func(token string) gqlResponse {
		return s.query(t, token, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id number } }`, map[string]any{"s": stall})
	}
	// behind writes n active tickets of day for uid straight into the table.
	last := 900 // their numbers
	behind := func(t *testing.T, uid string, day, n int) {
		t.Helper()
		for range n {
			last++
			i := last
			if _, err := db.ExecContext(ctx, "INSERT INTO `tickets` (`id`, `seller_id`, `business_day`, `number`, `code`, `active_number`, `issue_seq`, `status`, `issued_by`, `call_count`, `version`, `created_at`, `owner_id`, `claimed_at`) VALUES (?, ?, ?, ?, ?, ?, ?, 'WAITING', ?, 0, 1, ?, ?, ?)",
				string(pulid.New("TK")), stall, day, i, fmt.Sprint("Z", i), i, i, uid, time.Now().UTC(), uid, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
	}
	{ // the day's business day, as the server keeps it
		token, uid := customer(t, "probe")
		if r := fetch(token); r.code() != "" {
			t.Fatalf("first fetch: %+v", r.Errors)
		}
		n, d := took(t, uid)
		if n != 1 || d == nil {
			t.Fatalf("after one fetch took = %d on day %v, want 1 on today", n, d)
		}
		day = *d
	}

	t.Run("within the cap took decides", func(t *testing.T) {
		token, uid := customer(t, "trusted")
		behind(t, uid, day, 3) // at the cap, but took says 0
		if r := fetch(token); r.code() != "" {
			t.Fatalf("a fetch with took 0 counted the tickets: %+v", r.Errors)
		}
		if n, d := took(t, uid); n != 1 || d == nil || *d != day {
			t.Errorf("took = %d on %v, want 1 on %d", n, d, day)
		}
	})

	t.Run("past the cap the count decides", func(t *testing.T) {
		token, uid := customer(t, "counted")
		var ids []string
		for range 3 {
			var f struct{ Fetch struct{ ID string } }
			s.ok(t, token, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": stall}, &f)
			ids = append(ids, f.Fetch.ID)
		}
		if r := fetch(token); r.code() != "RATE_LIMITED" {
			t.Fatalf("a fourth active ticket: %+v, want RATE_LIMITED", r.Errors)
		}
		if n, _ := took(t, uid); n != 3 {
			t.Errorf("took = %d after 3 tickets and a refusal, want 3 (a refusal takes nothing)", n)
		}
		s.ok(t, token, `mutation($id: ID!) { cancel(ticketId: $id) { id } }`, map[string]any{"id": ids[0]}, nil)
		if r := fetch(token); r.code() != "" {
			t.Fatalf("after a cancel, 2 active: %+v, want a ticket", r.Errors)
		}
		if n, _ := took(t, uid); n != 4 {
			t.Errorf("took = %d after a counted fetch, want 4", n)
		}
		if r := fetch(token); r.code() != "RATE_LIMITED" {
			t.Fatalf("3 active again: %+v, want RATE_LIMITED", r.Errors)
		}
	})

	t.Run("a new day starts took again", func(t *testing.T) {
		token, uid := customer(t, "yesterday")
		if _, err := db.ExecContext(ctx, "UPDATE `users` SET `took` = 99, `took_day` = ? WHERE `id` = ?", day-1, uid); err != nil {
			t.Fatal(err)
		}
		behind(t, uid, day, 3) // only a fresh took skips counting them
		if r := fetch(token); r.code() != "" {
			t.Fatalf("first fetch of the day: %+v", r.Errors)
		}
		if n, d := took(t, uid); n != 1 || d == nil || *d != day {
			t.Errorf("took = %d on %v, want 1 on %d", n, d, day)
		}
	})

	t.Run("a take for an earlier day counts", func(t *testing.T) {
		// took belongs to a later day (this fetch computed its day before
		// the day started elsewhere, or its clock lags): it must not be
		// reset for this day, and this day's tickets are counted.
		token, uid := customer(t, "lagging")
		if _, err := db.ExecContext(ctx, "UPDATE `users` SET `took` = 3, `took_day` = ? WHERE `id` = ?", day+1, uid); err != nil {
			t.Fatal(err)
		}
		behind(t, uid, day, 3)
		if r := fetch(token); r.code() != "RATE_LIMITED" {
			t.Fatalf("3 active today and took of a later day: %+v, want the count to refuse", r.Errors)
		}
		if n, d := took(t, uid); n != 3 || d == nil || *d != day+1 {
			t.Errorf("took = %d on %v, want 3 on %d (the later day keeps its count)", n, d, day+1)
		}
	})

	t.Run("a take for an earlier day with room gets its ticket", func(t *testing.T) {
		token, uid := customer(t, "lagging-with-room")
		if _, err := db.ExecContext(ctx, "UPDATE `users` SET `took` = 50, `took_day` = ? WHERE `id` = ?", day+1, uid); err != nil {
			t.Fatal(err)
		}
		if r := fetch(token); r.code() != "" {
			t.Fatalf("no active ticket today, took of a later day: %+v, want a ticket (counted)", r.Errors)
		}
		if n, d := took(t, uid); n != 51 || d == nil || *d != day+1 {
			t.Errorf("took = %d on %v, want 51 on %d (added to the later day)", n, d, day+1)
		}
	})

	t.Run("rows from before took count any day", func(t *testing.T) {
		token, uid := customer(t, "upgraded")
		if _, err := db.ExecContext(ctx, "UPDATE `users` SET `took` = 3, `took_day` = NULL WHERE `id` = ?", uid); err != nil {
			t.Fatal(err)
		}
		behind(t, uid, day, 3)
		if r := fetch(token); r.code() != "RATE_LIMITED" {
			t.Fatalf("took 3 from the migration: %+v, want the count to refuse", r.Errors)
		}
		if n, d := took(t, uid); n != 3 || d != nil {
			t.Errorf("took = %d on %v, want 3 on no day (a refusal takes nothing)", n, d)
		}
		// With room, the migrated count is trusted and carried into the day.
		token, uid = customer(t, "upgraded-with-room")
		if _, err := db.ExecContext(ctx, "UPDATE `users` SET `took` = 2, `took_day` = NULL WHERE `id` = ?", uid); err != nil {
			t.Fatal(err)
		}
		before := takes.Load()
		if r := fetch(token); r.code() != "" {
			t.Fatalf("took 2 from the migration: %+v, want a ticket", r.Errors)
		}
		if n, d := took(t, uid); n != 3 || d == nil || *d != day || takes.Load() != before {
			t.Errorf("took = %d on %v after %d general takes, want 3 on %d taken fast", n, d, takes.Load()-before, day)
		}
	})

	t.Run("the general path counts", func(t *testing.T) {
		// With the day's counter row gone, the fast UPDATE takes nothing and
		// the general path makes the row again, counts and adds its take
		// (at a stall of its own, whose only ticket is cancelled first: a
		// counter made again mid-day starts from 1).
		_, own := s.openStall(t, "general", "G")
		token, uid := customer(t, "general")
		var f struct{ Fetch struct{ ID string } }
		s.ok(t, token, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": own}, &f)
		s.ok(t, token, `mutation($id: ID!) { cancel(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
		if _, err := db.ExecContext(ctx, "DELETE FROM `day_counters` WHERE `seller_id` = ?", own); err != nil {
			t.Fatal(err)
		}
		before := takes.Load()
		if r := s.query(t, token, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": own}); r.code() != "" {
			t.Fatalf("fetch without a counter row: %+v", r.Errors)
		}
		if takes.Load() != before+1 {
			t.Fatalf("%d takes on the general path, want 1", takes.Load()-before)
		}
		// 1 for the first fetch, 1 for the general path's take: the fast
		// batch refused for want of a counter row gave its take back.
		if n, d := took(t, uid); n != 2 || d == nil || *d != day {
			t.Errorf("took = %d on %v after a fast fetch, a refused one and a general one, want 2 on %d", n, d, day)
		}
	})

	t.Run("a refusal at a closed stall takes nothing", func(t *testing.T) {
		// The batch adds the take before the counter UPDATE refuses the
		// stall, and commits; the fetch gives it back, so tapping a closed
		// stall does not push a customer past the cap onto the count.
		token, uid := customer(t, "tapper")
		if r := fetch(token); r.code() != "" {
			t.Fatalf("first fetch: %+v", r.Errors)
		}
		setOpen := `mutation($s: ID!, $o: Boolean!) { setOpen(sellerId: $s, open: $o) { open } }`
		s.ok(t, sellerToken, setOpen, map[string]any{"s": stall, "o": false}, nil)
		defer s.ok(t, sellerToken, setOpen, map[string]any{"s": stall, "o": true}, nil)
		for range 5 {
			if r := fetch(token); r.code() != "SELLER_CLOSED" {
				t.Fatalf("a fetch at the closed stall: %+v, want SELLER_CLOSED", r.Errors)
			}
		}
		if n, d := took(t, uid); n != 1 || d == nil || *d != day {
			t.Errorf("took = %d on %v after one ticket and 5 refusals, want 1 on %d", n, d, day)
		}
	})

	t.Run("a claim counts", func(t *testing.T) {
		token, uid := customer(t, "claimer")
		var walkup struct {
			Fetch struct {
				Number    int
				ClaimCode string
			}
		}
		s.ok(t, sellerToken, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { number claimCode } }`, map[string]any{"s": stall}, &walkup)
		s.ok(t, token, `mutation($s: ID!, $n: Int!, $c: String) { claim(input: {sellerId: $s, number: $n, claimCode: $c}) { id } }`,
			map[string]any{"s": stall, "n": walkup.Fetch.Number, "c": walkup.Fetch.ClaimCode}, nil)
		if n, d := took(t, uid); n != 1 || d == nil || *d != day {
			t.Fatalf("took = %d on %v after a claim, want 1 on %d", n, d, day)
		}
		// A claim that fails takes nothing.
		if r := s.query(t, token, `mutation($s: ID!) { claim(input: {sellerId: $s, number: 999, claimCode: "000000"}) { id } }`, map[string]any{"s": stall}); r.code() != "NOT_FOUND" {
			t.Fatalf("a claim of no number: %+v", r.Errors)
		}
		if n, _ := took(t, uid); n != 1 {
			t.Errorf("took = %d after a failed claim, want 1", n)
		}
	})
}

// TestCustomerFetchLocksTheUserFirst: a customer's fast fetch locks their
// user row (takeWithinCap) before the stall's counter row, the order the
// general path and claims take them in, so the two cannot deadlock each
// other. With the counter row held elsewhere, the waiting fetch already
// holds the user row.
func TestCustomerFetchLocksTheUserFirst(t *testing.T) {
	e := mysqlEngine(t) // the fast fetch runs on MySQL/MariaDB only
	dsn := e.DSN(t)
	ctx := context.Background()
	s := startServer(t, e, noRateLimits, func(c *config) { c.DB = dsn })
	_, stall := s.openStall(t, "noodles", "A")
	token := s.login(t, "CUSTOMER", "orderly")
	var me struct{ Me struct{ ID string } }
	s.ok(t, token, `{ me { id } }`, nil, &me)
	fetch := `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`
	s.ok(t, token, fetch, map[string]any{"s": stall}, nil) // the day's counter row exists

	raw := rawDB(t, dsn)
	holder, done := fetchBehindLock(t, s, raw, token, stall, "the fetch never waited for the counter row",
		"SELECT 1 FROM `day_counters` WHERE `seller_id` = ? FOR UPDATE", stall)
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(ctx, "SELECT 1 FROM `users` WHERE `id` = ? FOR UPDATE NOWAIT", me.Me.ID)
	var me2 *mysql.MySQLError
	if !errors.As(err, &me2) || (me2.Number != 1205 && me2.Number != 3572) {
		t.Errorf("locking the user row while the fetch waits for the counter: %v, want it held by the fetch", err)
	}
	_ = holder.Rollback()
	if r := <-done; r.code() != "" {
		t.Errorf("the fetch after the counter row was released: %+v", r.Errors)
	}
}
