package main

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/sqlwire"
	"callme/internal/store"
	"callme/internal/store/storetest"
)

// TestFetchRoundTrips: on MySQL a fetch is one round trip to the database,
// counted on the wire (a proxy in front of MariaDB), a customer's as a
// walk-up's: one batch holds the counter update (behind a customer's took
// update, which locks their row), the insert and COMMIT (a transaction
// begins with its first statement, see store), and the session comes from
// the cache.
func TestFetchRoundTrips(t *testing.T) {
	cfg, err := store.MySQLConfig(strings.TrimPrefix(freshMySQLDSN(t), "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	wire, err := sqlwire.Start(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wire.Close)
	cfg.Addr = wire.Addr()
	dsn := "mysql://" + cfg.FormatDSN()
	s := startServer(t, storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}, noRateLimits)
	seller, stall := s.openStall(t, "Counted", "C")
	student := s.login(t, "CUSTOMER", "counted")
	doc := `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id number code } }`
	for _, tc := range []struct {
		name  string
		token string
		want  int64
	}{
		{"walk-up", seller, 1},
		{"customer", student, 1},
	} {
		s.ok(t, tc.token, doc, map[string]any{"s": stall}, nil) // counter row, session cached
		s.ok(t, tc.token, `{ me { id } }`, nil, nil)            // keeps the session cached
		// Nothing else talks to the database meanwhile: the server's
		// background work runs on timers far longer than a request.
		before := wire.Snapshot()
		wire.StartRecording()
		var out struct{ Fetch struct{ Number int } }
		s.ok(t, tc.token, doc, map[string]any{"s": stall}, &out)
		sent := wire.StopRecording()
		if got := wire.Snapshot().Sub(before).RoundTrips(); got != tc.want {
			t.Errorf("%s fetch took %d round trips, want %d:\n%s", tc.name, got, tc.want, sent)
		}
		if out.Fetch.Number == 0 {
			t.Errorf("%s fetch answered no number", tc.name)
		}
	}
}

// TestCloseTakesEffectOnEveryInstance: once setOpen(false) has returned on
// one instance, a fetch that starts on the other is refused, although that
// instance knows the day's counter (the check is in the counter update).
func TestCloseTakesEffectOnEveryInstance(t *testing.T) {
	s := racingInstances(t)
	seller, stall := s[0].openStall(t, "Closing", "C")
	student := s[1].login(t, "CUSTOMER", "late")
	doc := `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`
	s[1].ok(t, student, doc, map[string]any{"s": stall}, nil) // instance 1 knows the counter now
	s[0].ok(t, seller, `mutation($s: ID!) { setOpen(sellerId: $s, open: false) { open } }`, map[string]any{"s": stall}, nil)
	if r := s[1].query(t, student, doc, map[string]any{"s": stall}); r.code() != "SELLER_CLOSED" {
		t.Fatalf("fetch after close on the other instance: %+v, want SELLER_CLOSED", r.Errors)
	}
}

// TestLogoutReachesOtherInstancesWithinTheCache: a logout takes effect at
// once on its instance and within a second on the others, although they
// cache sessions for minutes: the logout's event clears their caches.
func TestLogoutReachesOtherInstancesWithinTheCache(t *testing.T) {
	s := twoInstances(t, func(int) string { return redisURL(t) })
	token := s[0].login(t, "CUSTOMER", "leaver")
	me := `{ me { id } }`
	var d struct{ Me *struct{ ID string } }
	s[1].ok(t, token, me, nil, &d) // instance 1 caches the session
	if d.Me == nil {
		t.Fatal("no session on instance 1")
	}
	s[0].ok(t, token, `mutation { logout }`, nil, &struct{}{})
	s[0].ok(t, token, me, nil, &d)
	if d.Me != nil {
		t.Fatal("the session outlived its logout on the instance that served it")
	}
	deadline := time.Now().Add(time.Second)
	for {
		s[1].ok(t, token, me, nil, &d)
		if d.Me == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance still ran the session a second after logout")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSessionCacheSpareTheDatabase: with the cache on, a phone's requests
// after the first read no session from the database.
func TestSessionCacheSpareTheDatabase(t *testing.T) {
	var lookups atomic.Int64
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.sqlHook = func(q string) {
			if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "token_hash") {
				lookups.Add(1)
			}
		}
	})
	token := s.login(t, "CUSTOMER", "regular")
	for range 5 {
		s.ok(t, token, `{ me { id } }`, nil, nil)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("5 requests looked the session up %d times, want 1", n)
	}
}
