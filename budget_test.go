package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/store/storetest"
)

// fragmentBomb is a document of n+1 fragments, each spreading the next one
// twice: about 1 KB that names 2^n copies of leaf.
func fragmentBomb(root, typ, leaf string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "query %s\n", strings.Replace(root, "$", "...F0", 1))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on %s { ...F%d ...F%d }\n", i, typ, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on %s { %s }\n", n, typ, leaf)
	return b.String()
}

func aliases(n int, field string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	return b.String()
}

// TestFragmentBombsAreCountedNotWalked: documents whose fragments expand
// to 2^30 fields are refused by a count over the document, before gqlgen
// validates them, over POST and GET (the probe's 1 KB document took 14.5 s
// of CPU in the depth and complexity walks, which expanded every spread).
func TestFragmentBombsAreCountedNotWalked(t *testing.T) {
	var steps atomic.Int64
	s := startServer(t, storetest.Engines()[0], func(c *config) { c.Limits.WalkSteps = &steps })
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"on Query", fragmentBomb("{ $ }", "Query", "me { id }", 30), "BAD_USER_INPUT"},
		{"under introspection", fragmentBomb("{ __schema { types { $ } } }", "__Type", "name", 30), "BAD_USER_INPUT"},
		{"nested fields", fragmentBomb("{ me { $ } }", "User", "id seller { id }", 30), "BAD_USER_INPUT"},
		{"many spreads", "{ me { id } " + strings.Repeat("...F ", 101) + "} fragment F on Query { me { id } }", "BAD_USER_INPUT"},
		{"a small bomb passes", fragmentBomb("{ $ }", "Query", "__typename", 4), ""},
	} {
		for _, method := range []string{"POST", "GET"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				steps.Store(0)
				var r gqlResponse
				if method == "GET" {
					r = s.get(t, "", url.Values{"query": {tc.doc}})
				} else {
					r = s.query(t, "", tc.doc, nil)
				}
				if r.code() != tc.want {
					t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.want)
				}
				// Each check visits a selection of the document once (a
				// fragment once, not once per spread): a few hundred here.
				if got, bound := steps.Load(), int64(4*strings.Count(tc.doc, "{")+4*strings.Count(tc.doc, "...")+20); got > bound {
					t.Fatalf("the checks visited %d selections for a %d-byte document, want at most %d", got, len(tc.doc), bound)
				}
			})
		}
	}
}

func TestRootFieldLimit(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"20 root fields", "{ " + aliases(20, "me { id }") + "}", ""},
		{"21 root fields", "{ " + aliases(21, "me { id }") + "}", "BAD_USER_INPUT"},
		{"21 through fragments", "{ ...A ...B } fragment A on Query { " + aliases(11, "me { id }") + "} fragment B on Query { " + strings.ReplaceAll(aliases(10, "me { id }"), "a", "b") + "}", "BAD_USER_INPUT"},
		{"21 mutations", "mutation { " + aliases(21, "logout") + "}", "BAD_USER_INPUT"},
		{"21 over GET", "{ " + aliases(21, "__typename") + "}", "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r gqlResponse
			if strings.Contains(tc.name, "GET") {
				r = s.get(t, "", url.Values{"query": {tc.doc}})
			} else {
				r = s.query(t, "", tc.doc, nil)
			}
			if r.code() != tc.want {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.want)
			}
		})
	}
}

// TestAliasedCountsAreBounded: 500 aliases of a connection's totalCount ran
// 500 COUNT statements; now the document is refused before any statement,
// and the most a request may ask is 20.
func TestAliasedCountsAreBounded(t *testing.T) {
	var counts, statements atomic.Int64
	var counting atomic.Bool
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.sqlHook = func(q string) {
			if counting.Load() {
				statements.Add(1)
				if strings.Contains(strings.ToUpper(q), "COUNT(") {
					counts.Add(1)
				}
			}
		}
	})
	s.openStall(t, "Counted", "C")
	for _, tc := range []struct {
		n          int
		want       string
		maxCounts  int64
		maxStatems int64
	}{
		{500, "BAD_USER_INPUT", 0, 0},
		{20, "", 20, 60},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			counts.Store(0)
			statements.Store(0)
			counting.Store(true)
			r := s.query(t, "", "{ "+aliases(tc.n, "sellers(first: 1) { totalCount }")+"}", nil)
			counting.Store(false)
			if r.code() != tc.want {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.want)
			}
			if counts.Load() > tc.maxCounts || statements.Load() > tc.maxStatems {
				t.Fatalf("%d COUNT statements, %d in all; want at most %d and %d", counts.Load(), statements.Load(), tc.maxCounts, tc.maxStatems)
			}
		})
	}
}

// TestListsCostTheirSize: a seller's ticket lists and statistics cost
// their stated maximum (500 tickets a day, 63 days), and per ticket what
// its fields read, so a handful of aliases is already over the limit (the
// probe's 100 aliases took 13.7 s of CPU).
func TestListsCostTheirSize(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits)
	seller, stallID := s.openStall(t, "Costly", "C")
	day := time.Now().Format("2006-01-02")
	vars := map[string]any{"id": stallID, "day": day, "from": "2026-01-01", "to": "2026-03-03"}
	const head = "query($id: ID!, $day: String!, $from: String!, $to: String!) { "
	use := ` _d: sellerTickets(sellerId: $id, day: $day) { id } _f: sellerStats(sellerId: $id, from: $from, to: $from) { day } _t: sellerStats(sellerId: $id, from: $to, to: $to) { day } `
	for _, tc := range []struct {
		name  string
		field string
		n     int
		want  string
	}{
		// position is batched (a row each), etaSeconds reads per ticket.
		{"queue 8 times", "queue(sellerId: $id) { id position }", 8, ""},
		{"queue with ETA once", "queue(sellerId: $id) { id position etaSeconds }", 1, ""},
		{"queue with ETA twice", "queue(sellerId: $id) { id position etaSeconds }", 2, "BAD_USER_INPUT"},
		{"sellerTickets with ETA twice", "sellerTickets(sellerId: $id, day: $day) { id etaSeconds }", 2, "BAD_USER_INPUT"},
		{"sellerStats over 62 days", "sellerStats(sellerId: $id, from: $from, to: $to) { day }", 1, ""},
		{"sellerStats over 62 days twice", "sellerStats(sellerId: $id, from: $from, to: $to) { day }", 2, "BAD_USER_INPUT"},
		{"sellerStats of one day, 17 times", "sellerStats(sellerId: $id, from: $day, to: $day) { day }", 17, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.query(t, seller, head+aliases(tc.n, tc.field)+use+"}", vars)
			if r.code() != tc.want {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.want)
			}
		})
	}
}

// rateLimited counts the logins a response returned and tells whether it
// was refused with RATE_LIMITED and a retryAfterSeconds.
func rateLimited(t *testing.T, r gqlResponse) bool {
	t.Helper()
	if r.code() != "RATE_LIMITED" {
		return false
	}
	if secs, _ := r.Errors[0].Extensions["retryAfterSeconds"].(float64); secs < 1 {
		t.Fatalf("RATE_LIMITED without retryAfterSeconds: %+v", r.Errors)
	}
	return true
}

// TestMutationsAreChargedPerField: rate limits count root mutation fields,
// not operations, and a user's sessions share one budget.
func TestMutationsAreChargedPerField(t *testing.T) {
	clock := &testClock{t: time.Now()}
	s := startServer(t, storetest.Engines()[0], func(c *config) { c.now = clock.Now })

	t.Run("300 aliased logins from one address", func(t *testing.T) {
		sessions, limited := 0, 0
		for req := 0; req < 15; req++ {
			var b strings.Builder
			b.WriteString("mutation { ")
			for i := 0; i < 20; i++ {
				fmt.Fprintf(&b, `l%d: login(input: {app: CUSTOMER, code: "dev:crowd%d"}) { token } `, i, req*20+i)
			}
			b.WriteString("}")
			r := s.query(t, "", b.String(), nil)
			switch {
			case rateLimited(t, r):
				limited++
			case len(r.Errors) > 0:
				t.Fatalf("request %d: %+v", req, r.Errors)
			default:
				var d map[string]struct{ Token string }
				if err := json.Unmarshal(r.Data, &d); err != nil {
					t.Fatal(err)
				}
				sessions += len(d)
			}
		}
		if sessions != 200 || limited != 5 {
			t.Fatalf("%d sessions, %d requests limited; want the burst of 200 and 5 requests RATE_LIMITED", sessions, limited)
		}
	})
	clock.Add(time.Minute) // the address's buckets refill

	t.Run("aliased setOpen", func(t *testing.T) {
		seller, stallID := s.openStall(t, "Toggled", "T") // 2 of the burst of 30
		doc := "mutation($id: ID!) { " + aliases(20, "setOpen(sellerId: $id, open: true) { id }") + "}"
		if r := s.query(t, seller, doc, map[string]any{"id": stallID}); len(r.Errors) > 0 {
			t.Fatalf("20 setOpens within the burst: %+v", r.Errors)
		}
		if r := s.query(t, seller, doc, map[string]any{"id": stallID}); !rateLimited(t, r) {
			t.Fatalf("20 more setOpens with 8 left: %+v, want RATE_LIMITED", r.Errors)
		}
	})

	t.Run("12 sessions of one user", func(t *testing.T) {
		var tokens []string
		for i := 0; i < 12; i++ {
			tokens = append(tokens, s.login(t, "CUSTOMER", "dozen"))
		}
		limited := 0
		for round := 0; round < 3; round++ {
			for _, tok := range tokens {
				if rateLimited(t, s.query(t, tok, `mutation { claimSeller(inviteCode: "none") { id } }`, nil)) {
					limited++
				}
			}
		}
		if limited != 36-30 {
			t.Fatalf("%d of 36 mutations over 12 sessions limited, want 6 (one burst of 30 per user)", limited)
		}
	})
}

// TestBudgets: queries are charged by their cost to the client address, the
// user (across sessions) and the socket.
func TestBudgets(t *testing.T) {
	clock := &testClock{t: time.Now()}
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.now = clock.Now
		// { me { id } } costs 20 points: 10 of them fill the address's
		// burst, 5 the user's and the socket's.
		c.Limits.IPPointsPerSec, c.Limits.IPPointsBurst = 20, 200
		c.Limits.UserPointsPerSec, c.Limits.UserPointsBurst = 20, 100
		c.Limits.SocketPointsPerSec, c.Limits.SocketPointsBurst = 20, 100
	})
	const me = `{ me { id } }`
	var shared [2]string
	for i := range shared { // a login costs more than a burst here
		shared[i] = s.login(t, "CUSTOMER", "shared")
		clock.Add(time.Minute)
	}
	limitedOf := func(n int, send func() gqlResponse) int {
		limited := 0
		for i := 0; i < n; i++ {
			if rateLimited(t, send()) {
				limited++
			}
		}
		return limited
	}
	t.Run("anonymous queries per address", func(t *testing.T) {
		if got := limitedOf(13, func() gqlResponse { return s.query(t, "", me, nil) }); got != 3 {
			t.Fatalf("%d of 13 limited, want 3", got)
		}
	})
	clock.Add(time.Minute)
	t.Run("one user's sessions share a budget", func(t *testing.T) {
		i := 0
		if got := limitedOf(8, func() gqlResponse { i++; return s.query(t, shared[i%2], me, nil) }); got != 3 {
			t.Fatalf("%d of 8 limited, want 3", got)
		}
	})
	clock.Add(time.Minute)
	t.Run("per socket", func(t *testing.T) {
		ws := newOpSocket(s.dialWS(t, "graphql-transport-ws", nil))
		i := 0
		if got := limitedOf(8, func() gqlResponse { i++; return ws.run(fmt.Sprint(i), me, nil) }); got != 3 {
			t.Fatalf("%d of 8 limited, want 3", got)
		}
	})
}

// kitDocument is the mini-program kit's operations, all in one document
// (a request picks one by operationName).
func kitDocument(t *testing.T) string {
	t.Helper()
	var doc strings.Builder
	for _, f := range []string{"common", "customer", "seller"} {
		b, err := os.ReadFile("clients/miniprogram/operations/" + f + ".graphql")
		if err != nil {
			t.Fatal(err)
		}
		doc.Write(b)
	}
	return doc.String()
}

// TestLunchRushClientIsNeverLimited replays SECURITY.md's lunch scenario for
// one student at the default budgets: open the app (login, the stall list
// with menus, their tickets, a socket with the call stream and their
// ticket), take a number, then for 15 minutes refresh their tickets every
// 15 s and the stall list every minute, the socket reconnecting every
// 5 minutes. Nothing may be RATE_LIMITED.
func TestLunchRushClientIsNeverLimited(t *testing.T) {
	clock := &testClock{t: time.Now()}
	s := startServer(t, storetest.Engines()[0], func(c *config) { c.now = clock.Now })
	for i := 0; i < 3; i++ {
		s.openStall(t, fmt.Sprint("Lunch ", i), "L")
	}
	_, stallID := s.openStall(t, "Noodles", "N")
	doc := kitDocument(t)
	run := func(token, op string, vars map[string]any) gqlResponse {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": doc, "operationName": op, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r := do(t, req)
		if len(r.Errors) > 0 {
			t.Fatalf("%s at %v: %+v", op, clock.Now().Format(time.TimeOnly), r.Errors)
		}
		return r
	}
	var login struct{ Login struct{ Token string } }
	if err := json.Unmarshal(run("", "Login", map[string]any{"input": map[string]any{"app": "CUSTOMER", "code": "dev:hungry"}}).Data, &login); err != nil {
		t.Fatal(err)
	}
	tok := login.Login.Token
	run(tok, "Me", nil)
	run(tok, "Stalls", map[string]any{"first": 50})
	run(tok, "MyTickets", nil)
	var taken struct{ Fetch struct{ ID string } }
	if err := json.Unmarshal(run(tok, "TakeNumber", map[string]any{"sellerId": stallID, "idempotencyKey": "k1"}).Data, &taken); err != nil {
		t.Fatal(err)
	}
	subscribe := func() {
		ws := newOpSocket(s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": tok}))
		for id, sub := range map[string]struct {
			op   string
			vars map[string]any
		}{"calls": {"CalledNumbers", map[string]any{"sellerId": stallID, "after": 0}}, "mine": {"WatchTicket", map[string]any{"ticketId": taken.Fetch.ID}}} {
			ws.send(wsMessage{ID: id, Type: "subscribe", Payload: mustJSON(map[string]any{"query": doc, "operationName": sub.op, "variables": sub.vars})})
		}
		// WatchTicket answers the ticket's state at once; CalledNumbers has
		// nothing to replay, so only a refusal would arrive.
		if r := ws.response("mine", 5*time.Second); len(r.Errors) > 0 || r.status == -1 {
			t.Fatalf("WatchTicket: %v", r)
		}
		if r := ws.response("calls", 100*time.Millisecond); len(r.Errors) > 0 {
			t.Fatalf("CalledNumbers: %+v", r.Errors)
		}
		t.Cleanup(func() { ws.conn.CloseNow() })
	}
	subscribe()
	for tick := 1; tick <= 60; tick++ { // 15 minutes in 15 s steps
		clock.Add(15 * time.Second)
		run(tok, "MyTickets", nil)
		if tick%4 == 0 {
			run(tok, "Stalls", map[string]any{"first": 50})
		}
		if tick%20 == 0 {
			subscribe()
		}
	}
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// TestTimedOutRequestLogsOnce: a request past its deadline fails its
// remaining fields without running them and is logged once, not once per
// alias (the probe wrote 2.9 MB of error log from 16 such requests).
func TestTimedOutRequestLogsOnce(t *testing.T) {
	var slow atomic.Bool
	var after atomic.Int64
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) {
		c.Limits.RequestTimeout = 100 * time.Millisecond
		c.sqlHook = func(string) {
			if slow.Load() {
				after.Add(1)
				time.Sleep(300 * time.Millisecond) // past the deadline
			}
		}
	})
	_, stallID := s.openStall(t, "Slow", "S")
	doc := "query($id: ID!) { " + aliases(20, "seller(id: $id) { averageWaitSeconds waitingCount lastCalled { position etaSeconds } }") + "}"
	slow.Store(true)
	r := s.query(t, "", doc, map[string]any{"id": stallID})
	slow.Store(false)
	if len(r.Errors) == 0 {
		t.Fatal("no errors from a request past its deadline")
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "internal error"); n != 0 {
		t.Errorf("%d internal errors logged, want none (the timeout is logged once)", n)
	}
	if n := strings.Count(logs, "request deadline exceeded"); n != 1 {
		t.Errorf("the timeout was logged %d times, want once", n)
	}
	// Only the 20 root fields started a statement; nothing under them ran.
	if n := after.Load(); n > 20 {
		t.Errorf("%d statements started for a request past its deadline, want at most the 20 root fields'", n)
	}
}
