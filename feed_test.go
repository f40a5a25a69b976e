package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"callme/internal/store/storetest"
)

// TestSharedCallFeedShowsEachViewerTheirOwn: the ticket's owner, the stall's
// seller, another customer and an anonymous board subscribe to one stall
// with the same document, which selects the ticket's note, on both
// protocols. One call is executed once per view (public, owner, seller),
// not once per subscriber: owner and seller see the note, the others null,
// and all get the same seq.
func TestSharedCallFeedShowsEachViewerTheirOwn(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits)
		seller, stallID := s.openStall(t, "Shared", "S")
		alice, bob := s.login(t, "CUSTOMER", "alice"), s.login(t, "CUSTOMER", "bob")
		note := "不要香菜，加辣🌶️ 302 室" // CJK and emoji, as users write
		var f struct{ Fetch struct{ ID string } }
		s.ok(t, alice, `mutation($id: ID!, $note: String!) { fetch(input: {sellerId: $id, note: $note}) { id } }`,
			map[string]any{"id": stallID, "note": note}, &f)

		const q = `subscription($id: ID!, $after: Int) { calledNumbers(sellerId: $id, after: $after) { seq ticket { id note } } }`
		type viewer struct {
			name, token string
			seesNote    bool
		}
		viewers := []viewer{{"owner", alice, true}, {"seller", seller, true}, {"other customer", bob, false}, {"anonymous board", "", false}}
		type sock struct {
			viewer
			proto string
			ws    *opSocket
		}
		var socks []sock
		for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
			for i, v := range viewers {
				var init map[string]any
				if v.token != "" {
					init = map[string]any{"authToken": v.token}
				}
				ws := newOpSocket(s.dialWS(t, proto, init))
				// Different values of after still share the live execution.
				ws.subscribe("calls", q, map[string]any{"id": stallID, "after": i * 1000})
				// An answer to a later operation on the socket: the
				// subscription joined the feed.
				if r := ws.run("probe", `{ __typename }`, nil); len(r.Errors) > 0 || r.status == -1 {
					t.Fatalf("%s over %s: probe %s", v.name, proto, r)
				}
				socks = append(socks, sock{v, proto, ws})
			}
		}
		before := s.app.svc.Stats()
		s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
		for _, sk := range socks {
			r := sk.ws.response("calls", 5*time.Second)
			if len(r.Errors) > 0 || r.status == -1 {
				t.Fatalf("%s over %s: %s", sk.name, sk.proto, r)
			}
			var d struct {
				CalledNumbers struct {
					Seq    int
					Ticket struct {
						ID   string
						Note *string
					}
				}
			}
			if err := json.Unmarshal(r.Data, &d); err != nil {
				t.Fatal(err)
			}
			got := d.CalledNumbers
			if got.Seq != 1 || got.Ticket.ID != f.Fetch.ID {
				t.Errorf("%s over %s: seq %d ticket %s, want seq 1 ticket %s", sk.name, sk.proto, got.Seq, got.Ticket.ID, f.Fetch.ID)
			}
			switch {
			case sk.seesNote && (got.Ticket.Note == nil || *got.Ticket.Note != note):
				t.Errorf("%s over %s: note %s, want %q", sk.name, sk.proto, fmtNote(got.Ticket.Note), note)
			case !sk.seesNote && got.Ticket.Note != nil:
				t.Errorf("%s over %s: note %q leaked, want null", sk.name, sk.proto, *got.Ticket.Note)
			}
		}
		after := s.app.svc.Stats()
		if runs, n := after.CallRuns-before.CallRuns, after.CallDeliveries-before.CallDeliveries; runs != 3 || n != uint64(len(socks)) {
			t.Errorf("one call ran %d executions for %d results, want 3 (public, owner, seller) for %d", runs, n, len(socks))
		}
	})
}

func fmtNote(n *string) string {
	if n == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *n)
}

// TestResumeFromTheFeedsMemory: while a stall's feed runs (a board keeps it
// open), a phone that resumes with after replays the calls it missed from
// the feed's memory and joins the live calls at the seam: each seq once, in
// order, on both protocols.
func TestResumeFromTheFeedsMemory(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits)
	seller, stallID := s.openStall(t, "Memory", "M")
	const q = `subscription($id: ID!, $after: Int) { calledNumbers(sellerId: $id, after: $after) { seq } }`
	board := newOpSocket(s.dialWS(t, "graphql-transport-ws", nil))
	board.subscribe("board", q, map[string]any{"id": stallID})
	if r := board.run("probe", `{ __typename }`, nil); r.status == -1 {
		t.Fatal("board: no answer")
	}
	call := func() {
		t.Helper()
		s.ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stallID}, nil)
		s.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
	}
	seqOf := func(o *opSocket, id string) int {
		t.Helper()
		r := o.response(id, 5*time.Second)
		var d struct{ CalledNumbers struct{ Seq int } }
		if len(r.Errors) > 0 || r.status == -1 || json.Unmarshal(r.Data, &d) != nil {
			t.Fatalf("%s: %s", id, r)
		}
		return d.CalledNumbers.Seq
	}
	for i := 1; i <= 3; i++ {
		call()
		if got := seqOf(board, "board"); got != i {
			t.Fatalf("board got seq %d, want %d", got, i)
		}
	}
	last := 3
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		phone := newOpSocket(s.dialWS(t, proto, nil))
		phone.subscribe("calls", q, map[string]any{"id": stallID, "after": 1})
		for want := 2; want <= last; want++ {
			if got := seqOf(phone, "calls"); got != want {
				t.Fatalf("%s: replay got seq %d, want %d", proto, got, want)
			}
		}
		call()
		last++
		if got := seqOf(board, "board"); got != last {
			t.Fatalf("board got seq %d, want %d", got, last)
		}
		if got := seqOf(phone, "calls"); got != last {
			t.Fatalf("%s: live got seq %d, want %d", proto, got, last)
		}
		if r := phone.response("calls", 300*time.Millisecond); r.status != -1 {
			t.Fatalf("%s: more than one result for one call: %s", proto, r)
		}
	}
}
