package main

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/pulid"
	"callme/internal/store/storetest"
)

// hintFor is a ticket event without its snapshot, as another instance's
// event is when it could not be read back.
func hintFor(ticketID string) events.Event {
	return events.Event{Topic: canteen.TicketTopic(pulid.ID(ticketID)), Seq: 1 << 20}
}

const watchCalls = `subscription($id: ID!, $after: Int) { calledNumbers(sellerId: $id, after: $after) { seq code } }`

// callSeqs calls n fresh tickets at a stall; each call is one seq.
func callSeqs(t *testing.T, s *testServer, seller, stallID string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		var f struct{ Fetch struct{ ID string } }
		s.ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stallID}, &f)
		s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
	}
}

// TestResumeAfterDayTurnsOverSkipsYesterday: a board offline overnight
// resumes with yesterday's seq; it must not announce yesterday's calls,
// neither in the replay nor when the first live call of today shows a gap.
func TestResumeAfterDayTurnsOverSkipsYesterday(t *testing.T) {
	clk := &testClock{t: time.Now()}
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) { c.now, c.RecallGap = clk.Now, 0 })
	seller, stallID := s.openStall(t, "Overnight", "N")
	callSeqs(t, s, seller, stallID, 3) // yesterday: seq 1..3

	clk.Add(24 * time.Hour)
	board := newOpSocket(s.dialWS(t, "graphql-transport-ws", nil))
	board.subscribe("b", watchCalls, map[string]any{"id": stallID, "after": 1}) // saw seq 1 yesterday
	if r := board.response("b", 300*time.Millisecond); r.status != -1 {
		t.Fatalf("resume after the day turned over replayed %s, want nothing of yesterday", r)
	}
	seller = s.login(t, "SELLER", "owner-Overnight") // yesterday's session expired
	callSeqs(t, s, seller, stallID, 2)               // today: seq 4, 5
	for _, want := range []int{4, 5} {
		var ev struct{ CalledNumbers struct{ Seq int } }
		r := board.response("b", 5*time.Second)
		if err := jsonUnmarshal(r.Data, &ev); err != nil || ev.CalledNumbers.Seq != want {
			t.Fatalf("board got %s, want today's seq %d", r, want)
		}
	}
}

// TestSubscriptionsSurviveOrReportDatabaseErrors: a failing read of a
// running subscription is retried; one that keeps failing ends the
// subscription with an error carrying a code, never with a plain complete.
func TestSubscriptionsSurviveOrReportDatabaseErrors(t *testing.T) {
	var failCalls, failTickets atomic.Int64 // statements left to fail; <0: all
	fail := func(n *atomic.Int64) bool {
		for {
			v := n.Load()
			if v == 0 {
				return false
			}
			if v < 0 || n.CompareAndSwap(v, v-1) {
				return true
			}
		}
	}
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) {
		c.RecallGap = 0
		c.sqlFault = func(q string) error {
			switch {
			case !strings.HasPrefix(q, "SELECT"):
			case strings.Contains(q, "FROM `call_events`") && fail(&failCalls),
				strings.Contains(q, "FROM `tickets` WHERE `tickets`.`id` =") && fail(&failTickets):
				return errors.New("injected: database connection lost")
			}
			return nil
		}
	})
	seller, stallID := s.openStall(t, "Flaky", "F")
	callSeqs(t, s, seller, stallID, 2)
	alice := s.login(t, "CUSTOMER", "alice")
	var f struct{ Fetch struct{ ID string } }
	s.ok(t, alice, fetchTicket, map[string]any{"id": stallID}, &f)

	t.Run("transient", func(t *testing.T) {
		board := newOpSocket(s.dialWS(t, "graphql-transport-ws", nil))
		failCalls.Store(2)
		board.subscribe("b", watchCalls, map[string]any{"id": stallID, "after": 0})
		for _, want := range []int{1, 2} {
			var ev struct{ CalledNumbers struct{ Seq int } }
			r := board.response("b", 5*time.Second)
			if err := jsonUnmarshal(r.Data, &ev); err != nil || ev.CalledNumbers.Seq != want {
				t.Fatalf("replay through two failed reads: %s, want seq %d", r, want)
			}
		}
	})
	t.Run("persistent", func(t *testing.T) {
		board := newOpSocket(s.dialWS(t, "graphql-transport-ws", nil))
		failCalls.Store(-1)
		defer failCalls.Store(0)
		board.subscribe("b", watchCalls, map[string]any{"id": stallID, "after": 0})
		m, ok := board.await("b", 10*time.Second)
		if !ok || m.Type != "error" {
			t.Fatalf("replay with the database down: %s %s, want an error", m.Type, m.Payload)
		}
		if r := board.responseOf(m); r.code() != "INTERNAL" {
			t.Fatalf("replay with the database down ended with %s, want code INTERNAL", r)
		}
	})
	t.Run("ticket reload", func(t *testing.T) {
		phone := newOpSocket(s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": alice}))
		if r := phone.run("w", watchTicket, map[string]any{"id": f.Fetch.ID}); len(r.Errors) > 0 || r.status == -1 {
			t.Fatalf("ticketUpdated: %s", r)
		}
		failTickets.Store(-1)
		defer failTickets.Store(0)
		// A hint without payload (what another instance's unhydrated event
		// is) makes the subscriber read the ticket.
		s.app.broker.Publish(hintFor(f.Fetch.ID))
		m, ok := phone.await("w", 10*time.Second)
		if !ok || m.Type != "error" || phone.responseOf(m).code() != "INTERNAL" {
			t.Fatalf("ticket reload with the database down: %s %s, want an INTERNAL error", m.Type, m.Payload)
		}
	})
}
