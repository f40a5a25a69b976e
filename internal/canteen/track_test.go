package canteen_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/ticket"
	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestTrackURLFollowsNoteVisibility: the link is shown to whoever may read
// the ticket's note (owner, seller, admin) and to nobody else; a ticket from
// before links existed gets one on first read, the same one ever after.
func TestTrackURLFollowsNoteVisibility(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e, func(c *canteen.Config) { c.Media.PublicURL = "https://q.example.edu" })
		seller, st := f.stall(t, "Track", "T", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID, Note: ptr("不要香菜🌶️")}))
		for _, tc := range []struct {
			name string
			ctx  context.Context
			want bool
		}{
			{"anonymous", context.Background(), false},
			{"other customer", f.as(t, model.AppCustomer, "bob"), false},
			{"other stall's seller", func() context.Context { s, _ := f.stall(t, "Other", "O", 999); return s }(), false},
			{"owner", alice, true},
			{"seller", seller, true},
			{"admin", f.as(t, model.AppSeller, "admin"), true},
		} {
			got := must[*string](t)(f.svc.TrackURL(tc.ctx, tk))
			if (got != nil) != tc.want {
				t.Errorf("%s: trackURL %v, want shown %v", tc.name, got, tc.want)
			}
			if got != nil && *got != "https://q.example.edu/t/"+*tk.TrackToken {
				t.Errorf("%s: trackURL %q, want the public URL and the ticket's token", tc.name, *got)
			}
		}
		if tok := *tk.TrackToken; len(tok) < 22 || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Errorf("token %q: want at least 128 bits, URL-safe", tok)
		}

		// A ticket from before the upgrade.
		old := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
		must[int](t)(f.db.Client.Ticket.Update().Where(ticket.ID(old.ID)).ClearTrackToken().Save(context.Background()))
		old = must[*ent.Ticket](t)(f.db.Client.Ticket.Get(context.Background(), old.ID))
		first := must[*string](t)(f.svc.TrackURL(seller, old))
		again := must[*string](t)(f.svc.TrackURL(seller, old)) // the stale row still has no token
		if first == nil || again == nil || *first != *again {
			t.Fatalf("an old ticket's link: %v then %v, want one stable link", first, again)
		}
		if got := must[*canteen.TrackedTicket](t)(f.svc.TrackedTicket(context.Background(), strings.TrimPrefix(*first, "https://q.example.edu/t/"))); got == nil || got.Code != old.Code {
			t.Fatalf("the old ticket's link shows %+v", got)
		}
	})
}

// TestTrackedTicketExpiresWithItsDay: the page works until the end of the
// ticket's business day (04:00 the next morning here), not a moment longer.
func TestTrackedTicketExpiresWithItsDay(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		_, st := f.stall(t, "Expiry", "E", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID, Note: ptr("room 302")}))
		ctx := context.Background()
		v := must[*canteen.TrackedTicket](t)(f.svc.TrackedTicket(ctx, *tk.TrackToken))
		end := time.Date(2026, 11, 26, 4, 0, 0, 0, shanghai)
		if v == nil || !v.ExpiresAt.Equal(end) || v.Code != tk.Code || v.Status != model.StatusWaiting || v.Position == nil || *v.Position != 0 || v.BusinessDay != "2026-11-25" {
			t.Fatalf("tracked ticket %+v, want WAITING at position 0, expiring %v", v, end)
		}
		f.clock.Set(end.Add(-time.Microsecond))
		if v := must[*canteen.TrackedTicket](t)(f.svc.TrackedTicket(ctx, *tk.TrackToken)); v == nil {
			t.Fatal("the link stopped working before the end of its day")
		}
		f.clock.Set(end)
		if v := must[*canteen.TrackedTicket](t)(f.svc.TrackedTicket(ctx, *tk.TrackToken)); v != nil {
			t.Fatalf("at the end of its day the link still shows %+v", v)
		}
		_, err := f.svc.TrackedTicketUpdated(ctx, *tk.TrackToken)
		wantCode(t, err, canteen.CodeNotFound)
	})
}

// TestTrackedTicketRefusesBadTokens: whatever the string, the answer is
// null (query) or NOT_FOUND (subscription), never a database error.
func TestTrackedTicketRefusesBadTokens(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	_, st := f.stall(t, "Bad", "B", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	ctx := context.Background()
	for _, tok := range []string{"", "x", strings.Repeat("A", 24), strings.Repeat("a", 10000), *tk.TrackToken + "A", (*tk.TrackToken)[1:],
		"' OR 1=1 --              ", "../../../../etc/passwd/x", "取餐取餐取餐取餐", strings.ToUpper(*tk.TrackToken) + "\x00"} {
		if v, err := f.svc.TrackedTicket(ctx, tok); v != nil || err != nil {
			t.Errorf("token %.30q: %+v, %v; want nil, nil", tok, v, err)
		}
		_, err := f.svc.TrackedTicketUpdated(ctx, tok)
		wantCode(t, err, canteen.CodeNotFound)
	}
}

// TestTrackedTicketStream: the current state first; then the queue moving
// ahead (a cancellation, a call); then the ticket's own call; then the end
// of its day ends the stream with NOT_FOUND.
func TestTrackedTicketStream(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Stream", "S", 999)
		alice, carol, bob := f.as(t, model.AppCustomer, "alice"), f.as(t, model.AppCustomer, "carol"), f.as(t, model.AppCustomer, "bob")
		must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		tc := must[*ent.Ticket](t)(f.svc.Fetch(carol, canteen.FetchInput{SellerID: st.ID}))
		tb := must[*ent.Ticket](t)(f.svc.Fetch(bob, canteen.FetchInput{SellerID: st.ID, Note: ptr("secret note")}))

		ctx, cancel := context.WithCancel(context.Background()) // anonymous
		defer cancel()
		stream := must[*canteen.Stream[*canteen.TrackedTicket]](t)(f.svc.TrackedTicketUpdated(ctx, *tb.TrackToken))
		recv := func(what string) *canteen.TrackedTicket {
			t.Helper()
			select {
			case v, ok := <-stream.C:
				if !ok {
					t.Fatalf("%s: the stream ended: %v", what, stream.Err())
				}
				return v
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no update within 5s", what)
			}
			return nil
		}
		pos := func(v *canteen.TrackedTicket) int {
			if v.Position == nil {
				return -1
			}
			return *v.Position
		}
		if v := recv("first"); v.Status != model.StatusWaiting || pos(v) != 2 || v.Code != tb.Code || v.Seller.ID != st.ID {
			t.Fatalf("first state %+v (position %d), want WAITING behind 2", v, pos(v))
		}
		must[*ent.Ticket](t)(f.svc.Cancel(carol, tc.ID))
		if v := recv("after a cancellation ahead"); pos(v) != 1 {
			t.Fatalf("after a cancellation ahead: position %d, want 1", pos(v))
		}
		must[*ent.Ticket](t)(f.svc.CallNext(seller, st.ID))
		if v := recv("after a call ahead"); pos(v) != 0 || v.Status != model.StatusWaiting {
			t.Fatalf("after a call ahead: %s at %d, want WAITING at 0", v.Status, pos(v))
		}
		must[*ent.Ticket](t)(f.svc.Reopen(seller, tc.ID))
		if v := recv("after a reopening ahead"); pos(v) != 1 {
			t.Fatalf("after a reopening ahead: position %d, want 1", pos(v))
		}
		must[*ent.Ticket](t)(f.svc.Call(seller, tb.ID))
		if v := recv("own call"); v.Status != model.StatusCalled || v.CallCount != 1 || v.CalledAt == nil || v.Position != nil {
			t.Fatalf("own call: %+v, want CALLED once, no position", v)
		}
		// The day ends: the next look at the ticket ends the stream.
		f.clock.Set(time.Date(2026, 11, 26, 4, 0, 0, 0, shanghai))
		f.broker.Publish(events.Event{Topic: canteen.TicketTopic(tb.ID), Seq: 1 << 20})
		select {
		case v, ok := <-stream.C:
			if ok {
				t.Fatalf("after the day ended: %+v, want the end", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the stream outlived its day")
		}
		wantCode(t, stream.Err(), canteen.CodeNotFound)
	})
}

// TestTrackedTicketCoalescesBursts: a burst of changes ahead (twenty
// numbers cleared at once, a flood of hints) makes one update, not one per
// change, and a hint that changes nothing makes none.
func TestTrackedTicketCoalescesBursts(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Burst", "U", 999)
	for range 20 {
		must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	}
	mine := must[*ent.Ticket](t)(f.svc.Fetch(f.as(t, model.AppCustomer, "alice"), canteen.FetchInput{SellerID: st.ID}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := must[*canteen.Stream[*canteen.TrackedTicket]](t)(f.svc.TrackedTicketUpdated(ctx, *mine.TrackToken))
	if v := <-stream.C; *v.Position != 20 {
		t.Fatalf("first position %d, want 20", *v.Position)
	}
	if n := must[int](t)(f.svc.ClearUnclaimed(seller, st.ID)); n != 20 {
		t.Fatalf("cleared %d, want 20", n)
	}
	for range 200 {
		f.broker.Publish(events.Event{Topic: canteen.QueueTopic(st.ID)})
	}
	select {
	case v := <-stream.C:
		if *v.Position != 0 {
			t.Fatalf("after 20 numbers cleared ahead: position %d, want 0", *v.Position)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update after 20 numbers cleared ahead")
	}
	select {
	case v := <-stream.C:
		t.Fatalf("a second update %+v for one change", v)
	case <-time.After(3 * 200 * time.Millisecond):
	}
}
