package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/store/storetest"
)

// counterState reads what the day's counter rows of a stall say about it
// (the fast fetch checks them instead of the seller row), next to what the
// seller row says: n counter rows, how many of them match the seller.
func counterState(t *testing.T, db *ent.Client, stall string) (rows, same int) {
	t.Helper()
	queryOne(t, db, "SELECT COUNT(*), COALESCE(SUM(d.open = s.open AND d.paid_until = s.paid_until), 0) FROM day_counters d JOIN sellers s ON s.id = d.seller_id WHERE d.seller_id = ?",
		[]any{stall}, &rows, &same)
	return rows, same
}

// queryOne scans the one row query answers into dest.
func queryOne(t *testing.T, db *ent.Client, query string, args []any, dest ...any) {
	t.Helper()
	r, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Next() {
		t.Fatalf("no row: %s %v", query, args)
	}
	if err := r.Scan(dest...); err != nil {
		t.Fatal(err)
	}
}

// TestCounterKeepsTheStallsState: the day's counter row carries the stall's
// open switch and paid term, which setOpen and renewSeller write with the
// seller's, so a fetch on another instance, which reads only the counter on
// MariaDB's fast path, refuses a stall closed or out of its term at once,
// and issues again, on the fast path, once it is reopened or renewed.
func TestCounterKeepsTheStallsState(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			var general atomic.Int64 // tickets inserted by the general path (ent's INSERT alone)
			hook := func(c *config) {
				c.sqlHook = func(q string) {
					if strings.HasPrefix(q, "INSERT INTO `tickets`") {
						general.Add(1)
					}
				}
			}
			s := instancesOn(t, e, hook)
			seller, stall := s[0].openStall(t, "noodles", "A")
			admin := s[0].login(t, "SELLER", "admin")
			customer := s[1].login(t, "CUSTOMER", "zhang")
			db := s[0].app.db.Client
			fetch := func(token string) gqlResponse {
				return s[1].query(t, token, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": stall})
			}
			// Each step fetches as the customer and as the seller (a walk-up),
			// each on the fast path when it gets a ticket (the customer's
			// refused fetches give their takes back, so three tickets stay
			// within the cap), then reads the row.
			check := func(step string, wantCode string) {
				t.Helper()
				for _, token := range []string{customer, seller} {
					before := general.Load()
					r := fetch(token)
					if r.code() != wantCode {
						t.Errorf("%s: fetch answered %q %+v, want %q", step, r.code(), r.Errors, wantCode)
					}
					if wantCode == "" && e.Name == "mysql" && general.Load() != before {
						t.Errorf("%s: a fetch took the general path", step)
					}
				}
				if n, same := counterState(t, db, stall); n != 1 || same != 1 {
					t.Errorf("%s: %d counter rows, %d with the stall's state, want 1 and 1", step, n, same)
				}
			}
			check("open", "")
			s[0].ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: false) { open } }`, map[string]any{"id": stall}, nil)
			check("closed", "SELLER_CLOSED")
			s[0].ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { open } }`, map[string]any{"id": stall}, nil)
			check("reopened", "")
			// The term ends (the clock ends it, on both rows alike; nothing
			// in callme shortens it).
			ended := time.Now().Add(-time.Minute).UTC()
			for _, q := range []string{"UPDATE sellers SET paid_until = ? WHERE id = ?", "UPDATE day_counters SET paid_until = ? WHERE seller_id = ?"} {
				if _, err := db.ExecContext(context.Background(), q, ended, stall); err != nil {
					t.Fatal(err)
				}
			}
			check("term over", "SELLER_INACTIVE")
			s[0].ok(t, admin, `mutation($id: ID!) { renewSeller(sellerId: $id, months: 1) { paidUntil } }`, map[string]any{"id": stall}, nil)
			check("renewed", "")
		})
	}
}

// TestNewCounterWaitsForTheSellerLock: the day's first fetch makes the
// stall's counter row from the seller row under a share lock, so a write
// of the seller in progress (setOpen(false), here by hand) is either in the
// copy or waits for it. Without the lock the fetch read the stall as open,
// made a counter row that said so, and issued a number at a stall whose
// closing had committed.
func TestNewCounterWaitsForTheSellerLock(t *testing.T) {
	e := mysqlEngine(t) // SQLite has one writer
	dsn := e.DSN(t)
	ctx := context.Background()
	s := startServer(t, e, noRateLimits, func(c *config) { c.DB = dsn })
	_, stall := s.openStall(t, "noodles", "A") // no counter row yet
	token := s.login(t, "CUSTOMER", "early")

	raw := rawDB(t, dsn)
	closing, done := fetchBehindLock(t, s, raw, token, stall, "the day's first fetch never waited for the seller row",
		"UPDATE `sellers` SET `open` = 0 WHERE `id` = ?", stall)
	if err := closing.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.code() != "SELLER_CLOSED" {
		t.Errorf("the day's first fetch after the stall closed: %q %+v, want SELLER_CLOSED", r.code(), r.Errors)
	}
	var open int
	if err := raw.QueryRowContext(ctx, "SELECT COUNT(*) FROM `day_counters` WHERE `seller_id` = ? AND `open`", stall).Scan(&open); err != nil || open != 0 {
		t.Errorf("%d counter rows say the closed stall is open (%v)", open, err)
	}
}

// fetchBehindLock begins a transaction on raw that runs lock (which takes
// a row lock), then has token's holder fetch a number at stall in the
// background, and returns once that fetch waits for a row lock (never is
// the failure if it does not). The transaction is rolled back at the end
// of the test unless the caller ends it; the fetch's answer comes on done.
func fetchBehindLock(t *testing.T, s *testServer, raw *sql.DB, token, stall, never, lock string, args ...any) (*sql.Tx, <-chan gqlResponse) {
	t.Helper()
	ctx := context.Background()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.ExecContext(ctx, lock, args...); err != nil {
		t.Fatal(err)
	}
	done := make(chan gqlResponse, 1)
	go func() {
		done <- s.query(t, token, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": stall})
	}()
	waitForLockWait(t, raw, never)
	return tx, done
}

// waitForLockWait waits until a transaction in this test's database waits
// for a row lock (other tests' servers share MariaDB; INNODB_TRX is
// refreshed at most every 100 ms).
func waitForLockWait(t *testing.T, raw *sql.DB, never string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		var waiting int
		if err := raw.QueryRow("SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(never)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// TestCloseUnderFetchLoad: a seller closes and reopens the stall, and the
// admin renews its term, while fetches keep two instances busy at it. Each
// change succeeds (a fetch locks its counter row, then its ticket's
// foreign key share-locks the seller row: setOpen that locked the seller
// first deadlocked with the fetches in flight and, under this load, lost
// most of its retries), and a fetch that starts after setOpen(false)
// returned is refused on the other instance.
func TestCloseUnderFetchLoad(t *testing.T) {
	mysqlEngine(t) // SQLite has one writer: no cycle to make
	s := racingInstances(t)
	seller, stall := s[0].openStallWith(t, "Busy", map[string]any{"prefix": "A", "maxNumber": 9999})
	admin := s[0].login(t, "SELLER", "admin")
	customers := make([]string, 4)
	for i := range customers {
		customers[i] = s[i%2].login(t, "CUSTOMER", fmt.Sprintf("busy%d", i))
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var unexpected atomic.Int64
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := seller // walk-ups, and a few customers (who reach the cap)
			if i%4 == 0 {
				token = customers[i/4]
			}
			for ctx.Err() == nil {
				r := s[i%2].query(t, token, fetchDoc, map[string]any{"s": stall})
				switch r.code() {
				case "", "SELLER_CLOSED", "RATE_LIMITED":
				default:
					if unexpected.Add(1) == 1 {
						t.Errorf("a fetch under load answered %q %+v", r.code(), r.Errors)
					}
				}
			}
		}()
	}
	setOpen := `mutation($id: ID!, $o: Boolean!) { setOpen(sellerId: $id, open: $o) { open } }`
	for k := range 20 {
		time.Sleep(10 * time.Millisecond)
		if r := s[k%2].query(t, seller, setOpen, map[string]any{"id": stall, "o": false}); r.code() != "" {
			t.Errorf("close %d under load: %q %+v", k, r.code(), r.Errors)
			continue
		}
		if r := s[(k+1)%2].query(t, seller, fetchDoc, map[string]any{"s": stall}); r.code() != "SELLER_CLOSED" {
			t.Errorf("close %d: a fetch after it returned answered %q, want SELLER_CLOSED", k, r.code())
		}
		time.Sleep(10 * time.Millisecond)
		if r := s[(k+1)%2].query(t, seller, setOpen, map[string]any{"id": stall, "o": true}); r.code() != "" {
			t.Errorf("reopen %d under load: %q %+v", k, r.code(), r.Errors)
		}
		if k%5 == 0 {
			if r := s[k%2].query(t, admin, `mutation($id: ID!) { renewSeller(sellerId: $id, months: 1) { paidUntil } }`, map[string]any{"id": stall}); r.code() != "" {
				t.Errorf("renew %d under load: %q %+v", k, r.code(), r.Errors)
			}
		}
	}
	stop()
	wg.Wait()
}
