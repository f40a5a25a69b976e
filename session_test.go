package main

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"callme/internal/store/storetest"

	"github.com/coder/websocket/wsjson"
)

// testClock is a settable clock for the server under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// opSocket runs queries, mutations and subscriptions on one WebSocket. A
// goroutine reads every message, so waiting for one with a timeout does not
// close the socket (coder/websocket closes it when a read is cancelled).
type opSocket struct {
	*wsClient
	msgs  chan wsMessage
	stash []wsMessage
}

func newOpSocket(c *wsClient) *opSocket {
	o := &opSocket{wsClient: c, msgs: make(chan wsMessage, 100)}
	go func() {
		defer close(o.msgs)
		for {
			var m wsMessage
			if err := wsjsonRead(c.ctx, c, &m); err != nil {
				return
			}
			switch m.Type {
			case "ping":
				_ = wsjsonWrite(c.ctx, c, wsMessage{Type: "pong"})
			case "ka", "pong":
			default:
				o.msgs <- m
			}
		}
	}()
	return o
}

// await returns the next message of operation id, waiting at most d; ok is
// false on timeout.
func (o *opSocket) await(id string, d time.Duration) (m wsMessage, ok bool) {
	o.t.Helper()
	for i, m := range o.stash {
		if m.ID == id {
			o.stash = append(o.stash[:i], o.stash[i+1:]...)
			return m, true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, open := <-o.msgs:
			switch {
			case !open:
				return m, false
			case m.ID == id:
				return m, true
			default:
				o.stash = append(o.stash, m)
			}
		case <-timer.C:
			return m, false
		}
	}
}

// run sends one operation and returns its first answer as a response.
func (o *opSocket) run(id, query string, vars map[string]any) gqlResponse {
	o.t.Helper()
	o.subscribe(id, query, vars)
	return o.response(id, 5*time.Second)
}

// response waits for the next answer of id; a timeout is an empty response
// with status -1.
func (o *opSocket) response(id string, d time.Duration) gqlResponse {
	o.t.Helper()
	m, ok := o.await(id, d)
	if !ok {
		return gqlResponse{status: -1}
	}
	return o.responseOf(m)
}

// responseOf decodes a next or error message.
func (o *opSocket) responseOf(m wsMessage) gqlResponse {
	var r gqlResponse
	switch m.Type {
	case "error":
		if err := json.Unmarshal(m.Payload, &r.Errors); err != nil {
			var one gqlError
			_ = json.Unmarshal(m.Payload, &one)
			r.Errors = []gqlError{one}
		}
	default:
		_ = json.Unmarshal(m.Payload, &r)
	}
	return r
}

func (r gqlResponse) String() string {
	if r.status == -1 {
		return "no answer"
	}
	b, _ := json.Marshal(map[string]any{"data": r.Data, "errors": r.Errors})
	return string(b)
}

const (
	watchTicket = `subscription($id: ID!) { ticketUpdated(ticketId: $id) { status note } }`
	fetchTicket = `mutation($id: ID!) { fetch(input: {sellerId: $id, note: "room 302"}) { id } }`
)

// TestLogoutEndsSocketAuthority: after an HTTP logout, the socket that was
// authenticated with the same token in connection_init is anonymous for
// every new operation, and its running subscription ends UNAUTHENTICATED.
func TestLogoutEndsSocketAuthority(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits)
		_, stallID := s.openStall(t, "Logout", "L")
		alice := s.login(t, "CUSTOMER", "alice")
		var f struct{ Fetch struct{ ID string } }
		s.ok(t, alice, fetchTicket, map[string]any{"id": stallID}, &f)

		ws := newOpSocket(s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": alice}))
		if r := ws.run("w", watchTicket, map[string]any{"id": f.Fetch.ID}); len(r.Errors) > 0 || r.status == -1 {
			t.Fatalf("ticketUpdated before logout: %s", r)
		}
		if r := ws.run("me0", `{ me { id } }`, nil); string(r.Data) == `{"me":null}` || r.status == -1 {
			t.Fatalf("me before logout: %s", r)
		}
		s.ok(t, alice, `mutation { logout }`, nil, nil)

		if r := ws.run("me", `{ me { id } }`, nil); string(r.Data) != `{"me":null}` {
			t.Errorf("me after logout: %s, want null", r)
		}
		for _, op := range []struct{ id, query, arg string }{
			{"mine", `{ myTickets { id note } }`, ""},
			{"watch", watchTicket, f.Fetch.ID},
			{"fetch", fetchTicket, stallID},
		} {
			if r := ws.run(op.id, op.query, map[string]any{"id": op.arg}); r.code() != "UNAUTHENTICATED" {
				t.Errorf("%s after logout: %s, want UNAUTHENTICATED", op.id, r)
			}
		}
		if r := ws.response("w", 5*time.Second); r.code() != "UNAUTHENTICATED" {
			t.Errorf("running ticketUpdated after logout: %s, want it to end UNAUTHENTICATED", r)
		}
	})
}

// TestSocketSessionExpires: an open socket's session slides with the
// operations it runs and expires after SessionIdle without any; its running
// subscriptions then end UNAUTHENTICATED.
func TestSocketSessionExpires(t *testing.T) {
	clk := &testClock{t: time.Now()}
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) {
		c.now, c.SessionIdle, c.sessionCheck = clk.Now, 30*time.Minute, 20*time.Millisecond
	})
	_, stallID := s.openStall(t, "Expiry", "E")
	alice := s.login(t, "CUSTOMER", "alice")
	var f struct{ Fetch struct{ ID string } }
	s.ok(t, alice, fetchTicket, map[string]any{"id": stallID}, &f)
	ws := newOpSocket(s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": alice}))
	if r := ws.run("w", watchTicket, map[string]any{"id": f.Fetch.ID}); len(r.Errors) > 0 || r.status == -1 {
		t.Fatalf("ticketUpdated: %s", r)
	}

	clk.Add(20 * time.Minute) // an operation on the socket slides the expiry
	if r := ws.run("me1", `{ me { id } }`, nil); string(r.Data) == `{"me":null}` {
		t.Fatalf("me after 20 idle minutes: %s", r)
	}
	clk.Add(20 * time.Minute) // 40 minutes after login, 20 after the last use
	if r := ws.run("me2", `{ me { id } }`, nil); string(r.Data) == `{"me":null}` {
		t.Fatalf("me 20 minutes after the last operation: %s, want the session to have slid", r)
	}
	if r := ws.response("w", 200*time.Millisecond); r.status != -1 {
		t.Fatalf("ticketUpdated of a live session said %s", r)
	}

	clk.Add(31 * time.Minute)
	if r := ws.response("w", 5*time.Second); r.code() != "UNAUTHENTICATED" {
		t.Errorf("running ticketUpdated after expiry: %s, want it to end UNAUTHENTICATED", r)
	}
	if r := ws.run("me3", `{ me { id } }`, nil); string(r.Data) != `{"me":null}` {
		t.Errorf("me after expiry: %s, want null", r)
	}
}

// TestClaimSellerOnSocket: claimSeller on a socket makes that socket's next
// operation (and the rest of the same document) a seller's, and ends the
// subscriptions that ran with the old roles.
func TestClaimSellerOnSocket(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits)
	otherSeller, otherID := s.openStall(t, "Other", "O")
	callOther := func() {
		var f struct{ Fetch struct{ ID string } }
		s.ok(t, otherSeller, fetchTicket, map[string]any{"id": otherID}, &f)
		s.ok(t, otherSeller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
	}
	admin := s.login(t, "SELLER", "admin")
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, admin, `mutation { createSeller(input: {name: "Fresh", prefix: "F", paidUntil: "2100-01-01T00:00:00Z"}) { seller { id } inviteCode } }`, nil, &created)
	stallID := created.CreateSeller.Seller.ID

	owner := s.login(t, "SELLER", "fresh-owner")
	ws := newOpSocket(s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": owner}))
	// A running subscription that reads the socket's roles for every event.
	ws.subscribe("calls", `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq ticket { note } } }`, map[string]any{"id": otherID})
	if r := ws.run("q", `{ me { roles } }`, nil); r.status == -1 {
		t.Fatal("me: no answer")
	}
	callOther()
	if r := ws.response("calls", 5*time.Second); len(r.Errors) > 0 || r.status == -1 {
		t.Fatalf("calledNumbers: %s", r)
	}
	// Calls at the other stall keep the subscription reading the roles
	// while the claim changes them.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			var f struct{ Fetch struct{ ID string } }
			if err := jsonUnmarshal(s.query(t, otherSeller, fetchTicket, map[string]any{"id": otherID}).Data, &f); err == nil {
				s.query(t, otherSeller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID})
			}
		}
	}()
	r := ws.run("claim", `mutation($code: String!, $id: ID!) {
		claimSeller(inviteCode: $code) { id }
		setOpen(sellerId: $id, open: true) { open }
	}`, map[string]any{"code": created.CreateSeller.InviteCode, "id": stallID})
	if len(r.Errors) > 0 || r.status == -1 {
		t.Fatalf("claimSeller then setOpen in one document: %s", r)
	}
	wg.Wait()
	if r := ws.run("me", `{ me { roles seller { id } } }`, nil); string(r.Data) != `{"me":{"roles":["SELLER"],"seller":{"id":"`+stallID+`"}}}` {
		t.Errorf("me after claimSeller on the same socket: %s", r)
	}
	if r := ws.run("close", `mutation($id: ID!) { setOpen(sellerId: $id, open: false) { open } }`, map[string]any{"id": stallID}); len(r.Errors) > 0 {
		t.Errorf("seller-only setOpen on the socket after claimSeller: %s", r)
	}
	callOther()
	for r = ws.response("calls", 5*time.Second); r.code() == "" && r.status != -1; { // calls may come before the end
		r = ws.response("calls", 5*time.Second)
	}
	if r.code() != "UNAUTHENTICATED" {
		t.Errorf("subscription that ran before claimSeller: %s, want it to end UNAUTHENTICATED", r)
	}
}

// TestLogoutEndsSubscriptionsOnOtherInstances: a logout on instance B ends
// the subscriptions of the same session on instance A, through Redis.
func TestLogoutEndsSubscriptionsOnOtherInstances(t *testing.T) {
	s := twoInstances(t, func(int) string { return redisURL(t) })
	a, b := s[0], s[1]
	_, stallID := b.openStall(t, "Twin", "T")
	alice := b.login(t, "CUSTOMER", "alice")
	var f struct{ Fetch struct{ ID string } }
	b.ok(t, alice, fetchTicket, map[string]any{"id": stallID}, &f)
	ws := newOpSocket(a.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": alice}))
	if r := ws.run("w", watchTicket, map[string]any{"id": f.Fetch.ID}); len(r.Errors) > 0 || r.status == -1 {
		t.Fatalf("ticketUpdated: %s", r)
	}
	b.ok(t, alice, `mutation { logout }`, nil, nil)
	if r := ws.response("w", 5*time.Second); r.code() != "UNAUTHENTICATED" {
		t.Errorf("ticketUpdated on A after logout on B: %s, want it to end UNAUTHENTICATED", r)
	}
}

func wsjsonWrite(ctx context.Context, c *wsClient, v any) error { return wsjson.Write(ctx, c.conn, v) }
