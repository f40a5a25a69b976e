package main

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/store/storetest"
)

// TestFetchRoundTrips: on MySQL a fetch is 2 statements inside its
// transaction, the counter update and the insert, a customer's as a
// walk-up's (their row lock and cap count ride in the counter update's
// batch), with the session from the cache: with COMMIT (a transaction
// begins with its first statement, see store), 3 round trips. The hook
// sees a batch once, as the wire does.
func TestFetchRoundTrips(t *testing.T) {
	dsn := freshMySQLDSN(t)
	var mu sync.Mutex
	var seen []string
	var counting atomic.Bool
	s := startServer(t, storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}, noRateLimits, func(c *config) {
		c.sqlHook = func(q string) {
			if counting.Load() {
				mu.Lock()
				seen = append(seen, q)
				mu.Unlock()
			}
		}
	})
	seller, stall := s.openStall(t, "Counted", "C")
	student := s.login(t, "CUSTOMER", "counted")
	doc := `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"walk-up", seller, 2},
		{"customer", student, 2},
	} {
		s.ok(t, tc.token, doc, map[string]any{"s": stall}, nil) // counter row, session cached
		s.ok(t, tc.token, `{ me { id } }`, nil, nil)            // keeps the session cached
		mu.Lock()
		seen = nil
		mu.Unlock()
		counting.Store(true)
		s.ok(t, tc.token, doc, map[string]any{"s": stall}, nil)
		counting.Store(false)
		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		if len(got) != tc.want {
			t.Errorf("%s fetch ran %d statements besides BEGIN and COMMIT, want %d:\n%s", tc.name, len(got), tc.want, strings.Join(got, "\n"))
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
