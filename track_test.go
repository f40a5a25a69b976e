package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"callme/internal/store/storetest"
)

// TestTrackURLOverHTTP: the link reaches the ticket's owner, its seller and
// admins through any edge that reaches the ticket, and nobody else; the
// page behind it answers anonymously and shows no note, owner or claim code.
func TestTrackURLOverHTTP(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits, func(c *config) { c.PublicURL = "https://q.example.edu" })
		seller, stallID := s.openStall(t, "Tracked", "K")
		alice, bob, admin := s.login(t, "CUSTOMER", "alice"), s.login(t, "CUSTOMER", "bob"), s.login(t, "SELLER", "admin")
		const note = "三楼 302 李伟，不要香菜🌶️"
		var f struct {
			Fetch struct {
				ID       string
				TrackURL *string
			}
		}
		s.ok(t, alice, `mutation($id: ID!, $n: String) { fetch(input: {sellerId: $id, note: $n}) { id trackURL } }`, map[string]any{"id": stallID, "n": note}, &f)
		if f.Fetch.TrackURL == nil || !strings.HasPrefix(*f.Fetch.TrackURL, "https://q.example.edu/t/") {
			t.Fatalf("fetch's trackURL %v, want https://q.example.edu/t/<token>", deref(f.Fetch.TrackURL))
		}
		link := *f.Fetch.TrackURL
		s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
		for _, tc := range []struct {
			name, token string
			want        bool
		}{
			{"anonymous", "", false},
			{"other customer", bob, false},
			{"owner", alice, true},
			{"seller", seller, true},
			{"admin", admin, true},
		} {
			var d struct {
				Seller struct{ LastCalled struct{ TrackURL *string } }
			}
			s.ok(t, tc.token, `query($id: ID!) { seller(id: $id) { lastCalled { trackURL } } }`, map[string]any{"id": stallID}, &d)
			if got := d.Seller.LastCalled.TrackURL; (got != nil) != tc.want || (got != nil && *got != link) {
				t.Errorf("%s sees trackURL %v, want shown: %v", tc.name, deref(got), tc.want)
			}
		}

		token := strings.TrimPrefix(link, "https://q.example.edu/t/")
		r := s.query(t, "", `query($t: String!) { trackedTicket(token: $t) { seller { id name } code status position etaSeconds callCount calledAt doneAt businessDay expiresAt } }`, map[string]any{"t": token})
		if len(r.Errors) > 0 {
			t.Fatalf("anonymous trackedTicket: %+v", r.Errors)
		}
		var d struct {
			TrackedTicket *struct {
				Seller    struct{ ID string }
				Code      string
				Status    string
				CallCount int
			}
		}
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.TrackedTicket == nil || d.TrackedTicket.Seller.ID != stallID || d.TrackedTicket.Status != "CALLED" || d.TrackedTicket.CallCount != 1 || d.TrackedTicket.Code != "K001" {
			t.Fatalf("trackedTicket %s, want K001 CALLED once at the stall", r.Data)
		}
		for _, secret := range []string{"李伟", "alice", f.Fetch.ID} {
			if strings.Contains(string(r.Data), secret) {
				t.Errorf("the public page reveals %q: %s", secret, r.Data)
			}
		}
		// The type has no note, owner or claim code to ask for.
		for _, field := range []string{"note", "owner", "claimCode", "id"} {
			if r := s.query(t, "", `query($t: String!) { trackedTicket(token: $t) { `+field+` } }`, map[string]any{"t": token}); r.code() == "" {
				t.Errorf("trackedTicket { %s } answered %s, want a validation error", field, r.Data)
			}
		}
	})
}

// TestTrackedTicketBadTokens: unknown, empty, overlong and garbage tokens
// answer null (query) or NOT_FOUND (subscription), never a 500 or INTERNAL.
func TestTrackedTicketBadTokens(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits)
	for _, tok := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("x", 20000), "'; DROP TABLE tickets; --", "../../etc/passwd", "取餐🌶️", "\x00\x01"} {
		r := s.query(t, "", `query($t: String!) { trackedTicket(token: $t) { code } }`, map[string]any{"t": tok})
		if r.status != http.StatusOK || len(r.Errors) > 0 || strings.TrimSpace(string(r.Data)) != `{"trackedTicket":null}` {
			t.Errorf("token %.20q: HTTP %d, %s, %+v; want 200 and null", tok, r.status, r.Data, r.Errors)
		}
		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("x", `subscription($t: String!) { trackedTicketUpdated(token: $t) { code } }`, map[string]any{"t": tok})
		if code := ws.errorCode("x"); code != "NOT_FOUND" {
			t.Errorf("subscription with token %.20q ends with %s, want NOT_FOUND", tok, code)
		}
	}
}

// TestTrackedTicketLive: the page's subscription, anonymous over a real
// WebSocket, gets the current state, then the queue moving, then the call.
func TestTrackedTicketLive(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits)
		seller, stallID := s.openStall(t, "Live", "L")
		var first, mine struct {
			Fetch struct {
				ID       string
				TrackURL string
			}
		}
		doc := `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id trackURL } }`
		s.ok(t, s.login(t, "CUSTOMER", "alice"), doc, map[string]any{"id": stallID}, &first)
		s.ok(t, s.login(t, "CUSTOMER", "bob"), doc, map[string]any{"id": stallID}, &mine)
		token := mine.Fetch.TrackURL[strings.LastIndex(mine.Fetch.TrackURL, "/")+1:]

		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("t", `subscription($t: String!) { trackedTicketUpdated(token: $t) { code status position callCount } }`, map[string]any{"t": token})
		type view struct {
			TrackedTicketUpdated struct {
				Code, Status string
				Position     *int
				CallCount    int
			}
		}
		var v view
		ws.next("t", &v)
		if got := v.TrackedTicketUpdated; got.Status != "WAITING" || got.Position == nil || *got.Position != 1 {
			t.Fatalf("first state %+v, want WAITING behind one", got)
		}
		s.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
		ws.next("t", &v)
		if got := v.TrackedTicketUpdated; got.Status != "WAITING" || got.Position == nil || *got.Position != 0 {
			t.Fatalf("after the call ahead %+v, want WAITING first in line", got)
		}
		s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": mine.Fetch.ID}, nil)
		ws.next("t", &v)
		if got := v.TrackedTicketUpdated; got.Status != "CALLED" || got.CallCount != 1 || got.Position != nil {
			t.Fatalf("after its call %+v, want CALLED", got)
		}

		// A client back from a lost connection (a restarted server)
		// subscribes again and gets the current state first.
		again := s.dialWS(t, "graphql-transport-ws", nil)
		again.subscribe("t", `subscription($t: String!) { trackedTicketUpdated(token: $t) { status callCount } }`, map[string]any{"t": token})
		var w struct{ TrackedTicketUpdated struct{ Status string } }
		again.next("t", &w)
		if w.TrackedTicketUpdated.Status != "CALLED" {
			t.Fatalf("a fresh subscription starts with %s, want CALLED", w.TrackedTicketUpdated.Status)
		}
	})
}

// TestTrackedTicketsShareQueueReads: twenty phones following one stall's
// queue read it once per change between them, not once each (40 statements
// without sharing: each would count the tickets ahead and read the recent
// calls for its ETA).
func TestTrackedTicketsShareQueueReads(t *testing.T) {
	var reads atomic.Int64
	var counting atomic.Bool
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) {
		c.MaxActiveTickets = 100
		c.sqlHook = func(q string) {
			if counting.Load() && strings.HasPrefix(q, "SELECT") && strings.Contains(q, "FROM `tickets`") {
				reads.Add(1)
			}
		}
	})
	seller, stallID := s.openStall(t, "Shared", "H")
	doc := `mutation($id: ID!) { fetch(input: {sellerId: $id}) { trackURL } }`
	s.ok(t, seller, doc, map[string]any{"id": stallID}, nil) // the one called below
	ws := s.dialWS(t, "graphql-transport-ws", nil)
	const phones = 20
	for i := range phones {
		var f struct{ Fetch struct{ TrackURL string } }
		s.ok(t, seller, doc, map[string]any{"id": stallID}, &f)
		ws.subscribe(fmt.Sprint(i), `subscription($t: String!) { trackedTicketUpdated(token: $t) { position } }`,
			map[string]any{"t": f.Fetch.TrackURL[strings.LastIndex(f.Fetch.TrackURL, "/")+1:]})
	}
	for range phones {
		ws.read() // each one's first state
	}
	counting.Store(true)
	s.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
	counted := reads.Swap(0) // the call's own
	for range phones {
		if m := ws.read(); m.Type != "next" {
			t.Fatalf("got %s %s, want each phone's new position", m.Type, m.Payload)
		}
	}
	if n := reads.Load(); n > 4 {
		t.Fatalf("%d phones read the tickets %d times after one call (the call itself: %d); want the queue read once or twice", phones, n, counted)
	}
}

// TestTrackedTicketAcrossInstances: the page follows its ticket on one
// instance while the seller works on the other: calls ahead (the stall's
// topic), a cancellation ahead (the queue's bare hint) and its own call (the
// ticket's topic) all arrive through Redis.
func TestTrackedTicketAcrossInstances(t *testing.T) {
	s := twoInstances(t, func(int) string { return redisURL(t) })
	a, b := s[0], s[1]
	seller, stallID := b.openStall(t, "Far", "F")
	doc := `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id trackURL } }`
	type fetched struct{ Fetch struct{ ID, TrackURL string } }
	var first, second, mine fetched
	b.ok(t, seller, doc, map[string]any{"id": stallID}, &first)
	b.ok(t, seller, doc, map[string]any{"id": stallID}, &second)
	b.ok(t, seller, doc, map[string]any{"id": stallID}, &mine)
	ws := a.dialWS(t, "graphql-transport-ws", nil)
	ws.subscribe("t", `subscription($t: String!) { trackedTicketUpdated(token: $t) { status position } }`,
		map[string]any{"t": mine.Fetch.TrackURL[strings.LastIndex(mine.Fetch.TrackURL, "/")+1:]})
	var v struct {
		TrackedTicketUpdated struct {
			Status   string
			Position *int
		}
	}
	want := func(what, status string, pos int) {
		t.Helper()
		ws.next("t", &v)
		got := v.TrackedTicketUpdated
		if got.Status != status || (pos >= 0) != (got.Position != nil) || (got.Position != nil && *got.Position != pos) {
			t.Fatalf("%s: %+v, want %s at %d", what, got, status, pos)
		}
	}
	want("first", "WAITING", 2)
	b.ok(t, seller, `mutation($id: ID!) { cancel(ticketId: $id) { id } }`, map[string]any{"id": second.Fetch.ID}, nil)
	want("after a cancellation ahead on the other instance", "WAITING", 1)
	b.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
	want("after a call ahead on the other instance", "WAITING", 0)
	b.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": mine.Fetch.ID}, nil)
	want("after its call on the other instance", "CALLED", -1)
}
