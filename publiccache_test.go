package main

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/store/storetest"
)

const publicStalls = `query($n: Int) { sellers(first: $n) { edges { node { id name open menu { name priceCents } } } } }`

// stallsView is what publicStalls shows of each stall, "name open menu…".
func stallsView(t testing.TB, s *testServer, token string) string {
	t.Helper()
	var d struct {
		Sellers struct {
			Edges []struct {
				Node struct {
					Name string
					Open bool
					Menu []struct{ Name string }
				}
			}
		}
	}
	s.ok(t, token, publicStalls, map[string]any{"n": 50}, &d)
	var out []string
	for _, e := range d.Sellers.Edges {
		v := e.Node.Name + map[bool]string{true: " open", false: " closed"}[e.Node.Open]
		for _, m := range e.Node.Menu {
			v += " " + m.Name
		}
		out = append(out, v)
	}
	return strings.Join(out, "; ")
}

// queuesView reads the first stall's queue as the mini-program's stall list
// does: "waiting N, last called CODE".
func queuesView(t testing.TB, s *testServer, token string) string {
	t.Helper()
	var d struct {
		Sellers struct {
			Edges []struct {
				Node struct {
					WaitingCount int
					LastCalled   *struct{ ID, Code string }
				}
			}
		}
	}
	s.ok(t, token, `{ sellers(first: 1) { edges { node { id name waitingCount lastCalled { id code } } } } }`, nil, &d)
	last := "none"
	if l := d.Sellers.Edges[0].Node.LastCalled; l != nil {
		last = l.Code
	}
	return fmt.Sprintf("waiting %d, last called %s", d.Sellers.Edges[0].Node.WaitingCount, last)
}

// counted runs f and returns the SQL statements it cost on s's database.
func counted(count, on *atomic.Int64, f func()) int64 {
	count.Store(0)
	on.Store(1)
	defer on.Store(0)
	f()
	return count.Load()
}

func countingStatements(count, on *atomic.Int64) func(*config) {
	return func(c *config) {
		c.sqlHook = func(string) {
			if on.Load() == 1 {
				count.Add(1)
			}
		}
	}
}

// TestPublicCacheFollowsWrites: a repeated public read costs no statement,
// and setOpen and setMenu show in the very next read on the instance that
// made them. The cache lives an hour here, so only the write can explain a
// fresh answer.
func TestPublicCacheFollowsWrites(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		var count, on atomic.Int64
		s := startServer(t, e, noRateLimits, countingStatements(&count, &on), func(c *config) { c.PublicCache = time.Hour })
		seller, id := s.openStall(t, "Lanzhou", "N")
		s.ok(t, seller, `mutation($id: ID!) { updateSeller(input: {sellerId: $id, name: "兰州拉面🍜"}) { seller { id } } }`, map[string]any{"id": id}, nil)
		s.ok(t, seller, `mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "牛肉面", priceCents: 1200}]) { id } }`, map[string]any{"id": id}, nil)
		customer := s.login(t, "CUSTOMER", "c1")
		s.ok(t, customer, `{ me { id } }`, nil, nil) // its session, looked up once

		want := "兰州拉面🍜 open 牛肉面"
		if got := stallsView(t, s, ""); got != want {
			t.Fatalf("first read %q, want %q", got, want)
		}
		for _, token := range []string{"", customer} {
			var got string
			if n := counted(&count, &on, func() { got = stallsView(t, s, token) }); n != 0 || got != want {
				t.Fatalf("repeated read (token %q): %q with %d statements, want %q from memory", token, got, n, want)
			}
		}

		for _, step := range []struct{ mutation, want string }{
			{`mutation($id: ID!) { setOpen(sellerId: $id, open: false) { open } }`, "兰州拉面🍜 closed 牛肉面"},
			{`mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "刀削面"}, {name: "凉皮"}]) { id } }`, "兰州拉面🍜 closed 刀削面 凉皮"},
			{`mutation($id: ID!) { setOpen(sellerId: $id, open: true) { open } }`, "兰州拉面🍜 open 刀削面 凉皮"},
		} {
			s.ok(t, seller, step.mutation, map[string]any{"id": id}, nil)
			for _, token := range []string{"", customer} {
				if got := stallsView(t, s, token); got != step.want {
					t.Fatalf("after %.40s (token %q): %q, want %q", step.mutation, token, got, step.want)
				}
			}
		}

		// The stall list as the mini-program asks it, with the queues: a
		// fetch and a call show in the next read; the answer without queue
		// fields stays cached through them (a call writes the stall's row
		// too, its call counter, which no public read shows).
		queues := func(token string) string {
			var got string
			if n := counted(&count, &on, func() { got = queuesView(t, s, token) }); n != 0 {
				t.Fatalf("repeated read of the queues: %q with %d statements, want it from memory", got, n)
			}
			return got
		}
		if got := queuesView(t, s, ""); got != "waiting 0, last called none" {
			t.Fatalf("queues: %q", got)
		}
		var f struct{ Fetch struct{ ID, Code string } }
		s.ok(t, customer, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id code } }`, map[string]any{"id": id}, &f)
		if got := queuesView(t, s, ""); got != "waiting 1, last called none" {
			t.Fatalf("queues after a fetch: %q", got)
		}
		queues(customer)
		s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
		if got, want := queuesView(t, s, customer), "waiting 0, last called "+f.Fetch.Code; got != want {
			t.Fatalf("queues after a call: %q, want %q", got, want)
		}
		queues("")
		if n := counted(&count, &on, func() { stallsView(t, s, "") }); n != 0 {
			t.Fatalf("read without queue fields after a fetch and a call: %d statements, want 0", n)
		}
	})
}

// TestPublicCacheKeepsViewerClassesApart: admins (who also see unpaid stalls)
// and sellers never get the answer cached for anonymous callers and
// customers, nor fill it.
func TestPublicCacheKeepsViewerClassesApart(t *testing.T) {
	var count, on atomic.Int64
	s := startServer(t, storetest.Engines()[0], noRateLimits, countingStatements(&count, &on), func(c *config) { c.PublicCache = time.Hour })
	seller, _ := s.openStall(t, "Paid", "P")
	admin := s.login(t, "SELLER", "admin")
	s.ok(t, admin, `mutation { createSeller(input: {name: "Unpaid", paidUntil: "2001-01-01T00:00:00Z"}) { seller { id } } }`, nil, nil)
	s.ok(t, seller, `{ me { id } }`, nil, nil)

	const public, all = "Paid open", "Paid open; Unpaid closed"
	for i, step := range []struct {
		who, token, want string
	}{
		{"anonymous", "", public},
		{"admin", admin, all},
		{"anonymous", "", public},
		{"admin", admin, all},
		{"seller", seller, public},
		{"seller", seller, public},
	} {
		var got string
		n := counted(&count, &on, func() { got = stallsView(t, s, step.token) })
		if got != step.want {
			t.Fatalf("step %d, %s: %q, want %q", i, step.who, got, step.want)
		}
		if step.who != "anonymous" && n == 0 {
			t.Fatalf("step %d, %s: answered from the cache (0 statements)", i, step.who)
		}
		if i == 2 && n != 0 {
			t.Fatalf("anonymous after an admin: %d statements, want 0 (the admin must not have replaced the entry)", n)
		}
	}
}

// TestPublicCacheAcrossInstances: setOpen on instance A clears what instance B
// cached, through Redis, with the cache living an hour on both.
func TestPublicCacheAcrossInstances(t *testing.T) {
	s := twoInstancesWith(t, func(c *config) { c.PublicCache = time.Hour })
	a, b := s[0], s[1]
	seller, id := a.openStall(t, "Shuangcheng", "S")
	for _, inst := range s {
		stallsView(t, inst, "")
		if got := stallsView(t, inst, ""); got != "Shuangcheng open" {
			t.Fatalf("read %q", got)
		}
	}
	for _, step := range []struct{ mutation, want string }{
		{`mutation($id: ID!) { setOpen(sellerId: $id, open: false) { open } }`, "Shuangcheng closed"},
		{`mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "饺子"}]) { id } }`, "Shuangcheng closed 饺子"},
	} {
		a.ok(t, seller, step.mutation, map[string]any{"id": id}, nil)
		if got := stallsView(t, a, ""); got != step.want {
			t.Fatalf("instance A right after %.30s: %q, want %q", step.mutation, got, step.want)
		}
		deadline := time.Now().Add(5 * time.Second)
		for got := stallsView(t, b, ""); got != step.want; got = stallsView(t, b, "") {
			if time.Now().After(deadline) {
				t.Fatalf("instance B still answers %q after %.30s on A, want %q", got, step.mutation, step.want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// A fetch on A reaches what B cached of the queues.
	a.ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { open } }`, map[string]any{"id": id}, nil)
	queuesView(t, b, "")
	if got := queuesView(t, b, ""); got != "waiting 0, last called none" {
		t.Fatalf("B's queues: %q", got)
	}
	a.ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": id}, nil)
	if got := queuesView(t, a, ""); got != "waiting 1, last called none" {
		t.Fatalf("A's queues right after the fetch: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := queuesView(t, b, ""); got != "waiting 1, last called none"; got = queuesView(t, b, "") {
		if time.Now().After(deadline) {
			t.Fatalf("instance B still answers %q after a fetch on A", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// twoInstancesWith is twoInstances (one MariaDB database, one Redis) with
// more settings.
func twoInstancesWith(t *testing.T, mod func(*config)) [2]*testServer {
	t.Helper()
	if os.Getenv(storetest.EnvMySQL) == "" || os.Getenv(envRedis) == "" {
		t.Skipf("needs MariaDB and Redis: set %s and %s", storetest.EnvMySQL, envRedis)
	}
	dsn := freshMySQLDSN(t)
	shared := storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}
	url := redisURL(t)
	var s [2]*testServer
	for i := range s {
		s[i] = startServer(t, shared, noRateLimits, mod, func(c *config) { c.Redis, c.RecallGap = url, 0 })
	}
	return s
}

// TestPublicCacheLapsedStallPerCaller: a stall whose paid period ended is
// shown to a customer holding a ticket there and to no other anonymous
// caller or customer, so neither answer may be served to the other.
func TestPublicCacheLapsedStallPerCaller(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) { c.PublicCache = time.Hour })
	admin := s.login(t, "SELLER", "admin")
	paidEnd := time.Now().Add(3 * time.Second)
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } inviteCode } }`,
		map[string]any{"in": map[string]any{"name": "Lapsing", "paidUntil": paidEnd.Format(time.RFC3339Nano)}}, &created)
	id := created.CreateSeller.Seller.ID
	seller := s.login(t, "SELLER", "owner-lapsing")
	s.ok(t, seller, `mutation($code: String!) { claimSeller(inviteCode: $code) { id } }`, map[string]any{"code": created.CreateSeller.InviteCode}, nil)
	s.ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { open } }`, map[string]any{"id": id}, nil)
	customer := s.login(t, "CUSTOMER", "holder")
	s.ok(t, customer, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": id}, nil)
	time.Sleep(time.Until(paidEnd) + 200*time.Millisecond)

	read := func(token, doc string) bool {
		var d struct{ Seller *struct{ ID string } }
		s.ok(t, token, doc, map[string]any{"id": id}, &d)
		return d.Seller != nil
	}
	const docA = `query($id: ID!) { seller(id: $id) { id name } }`
	const docB = `query($id: ID!) { seller(id: $id) { id name open } }`
	// anonymous first, then the ticket holder
	if read("", docA) {
		t.Fatalf("anonymous sees the lapsed stall")
	}
	if !read(customer, docA) {
		t.Errorf("ticket holder gets null (anonymous's cached answer); uncached she sees her stall")
	}
	// the ticket holder first, then anonymous
	if !read(customer, docB) {
		t.Fatalf("ticket holder does not see her stall")
	}
	if read("", docB) {
		t.Errorf("anonymous gets the lapsed stall (the ticket holder's cached answer); uncached: null")
	}
}

// TestPublicCacheCountsFollowUnlistedStalls: totalCount and hasNextPage
// count stalls the page does not list; one whose paid period ends leaves
// them with no write, and a cached answer must not outlive it.
func TestPublicCacheCountsFollowUnlistedStalls(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) { c.PublicCache = time.Hour })
	s.openStall(t, "Long", "L")
	admin := s.login(t, "SELLER", "admin")
	paidEnd := time.Now().Add(2 * time.Second)
	s.ok(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } } }`,
		map[string]any{"in": map[string]any{"name": "Short", "paidUntil": paidEnd.Format(time.RFC3339Nano)}}, nil)
	count := func() (n int, next bool) {
		var d struct {
			Sellers struct {
				TotalCount int
				PageInfo   struct{ HasNextPage bool }
			}
		}
		s.ok(t, "", `{ sellers(first: 1) { totalCount pageInfo { hasNextPage } edges { node { id } } } }`, nil, &d)
		return d.Sellers.TotalCount, d.Sellers.PageInfo.HasNextPage
	}
	if n, next := count(); n != 2 || !next {
		t.Fatalf("before: %d %v", n, next)
	}
	time.Sleep(time.Until(paidEnd) + 200*time.Millisecond)
	if n, next := count(); n != 1 || next {
		t.Errorf("after the unlisted stall's paid period ended: totalCount %d, hasNextPage %v; uncached 1, false", n, next)
	}
}
