package canteen_test

import (
	"context"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

func recvCall(t *testing.T, ch <-chan *canteen.CallEvent) *canteen.CallEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no call event within 5s")
	}
	return nil
}

func noMoreCalls(t *testing.T, ch <-chan *canteen.CallEvent) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected extra event seq %d (%s)", ev.Seq, ev.Code)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestCalledNumbersReplayThenLive(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Ramen", "A", 999)
		var tickets []*ent.Ticket
		for i := 0; i < 4; i++ {
			tickets = append(tickets, must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})))
		}
		must[*ent.Ticket](t)(f.svc.Call(seller, tickets[0].ID)) // seq 1
		must[*ent.Ticket](t)(f.svc.Call(seller, tickets[1].ID)) // seq 2
		must[*ent.Ticket](t)(f.svc.Call(seller, tickets[0].ID)) // seq 3, a recall

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		after := 1
		ch := must[*canteen.Stream[*canteen.CallEvent]](t)(f.svc.CalledNumbers(ctx, st.ID, &after)).C // anonymous: public
		for _, want := range []struct {
			seq  int64
			code string
		}{{2, "A002"}, {3, "A001"}} {
			ev := recvCall(t, ch)
			if ev.Seq != want.seq || ev.Code != want.code || ev.Announcement != "请 "+want.code+" 号取餐" {
				t.Fatalf("replay got seq %d %s %q, want seq %d %s", ev.Seq, ev.Code, ev.Announcement, want.seq, want.code)
			}
		}
		must[*ent.Ticket](t)(f.svc.Call(seller, tickets[2].ID))
		ev := recvCall(t, ch)
		if ev.Seq != 4 || ev.Code != "A003" || ev.Ticket.Status != model.StatusCalled {
			t.Fatalf("live got seq %d %s (%s), want seq 4 A003 CALLED", ev.Seq, ev.Code, ev.Ticket.Status)
		}
		noMoreCalls(t, ch)

		// Without after: live only. With an after beyond the stall's seq (a
		// client that outlived a database reset): live too, never stuck.
		liveOnly := must[*canteen.Stream[*canteen.CallEvent]](t)(f.svc.CalledNumbers(ctx, st.ID, nil)).C
		future := 1000
		fromFuture := must[*canteen.Stream[*canteen.CallEvent]](t)(f.svc.CalledNumbers(ctx, st.ID, &future)).C
		must[*ent.Ticket](t)(f.svc.CallNext(seller, st.ID)) // A004, seq 5
		for _, c := range []<-chan *canteen.CallEvent{liveOnly, fromFuture} {
			if ev := recvCall(t, c); ev.Seq != 5 || ev.Code != "A004" {
				t.Fatalf("got seq %d %s, want seq 5 A004", ev.Seq, ev.Code)
			}
			noMoreCalls(t, c)
		}

		_, err := f.svc.CalledNumbers(ctx, "SLNOSUCHSTALL00000000000000", nil)
		wantCode(t, err, canteen.CodeNotFound)
	})
}

// TestCalledNumbersSlowSubscriberCatchesUp: a subscriber that does not read
// while many calls happen loses broker events but still gets every call once,
// in order, from the database.
func TestCalledNumbersSlowSubscriberCatchesUp(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	// A broker that holds one event per subscriber.
	f.broker = events.NewLocal(1)
	f.svc = canteen.New(f.db.Client, f.db.Dialect, f.broker, nil, canteen.Config{
		Admins: []string{"admin"}, Location: shanghai, DayStartHour: 4, DevLogin: true, Now: f.clock.Now,
	}, nil)
	seller, st := f.stall(t, "Slow", "S", 999)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := must[*canteen.Stream[*canteen.CallEvent]](t)(f.svc.CalledNumbers(ctx, st.ID, nil)).C
	const n = 20
	for i := 0; i < n; i++ {
		tk := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
		must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // never blocks on the idle subscriber
	}
	for want := int64(1); want <= n; want++ {
		if ev := recvCall(t, ch); ev.Seq != want {
			t.Fatalf("got seq %d, want %d", ev.Seq, want)
		}
	}
	noMoreCalls(t, ch)
}

func TestCalledNumbersReplaysTodayOnly(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Day", "D", 999)
	tk := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // seq 1, yesterday
	f.clock.Add(24 * time.Hour)
	seller = f.as(t, model.AppSeller, "owner-Day")
	tk = must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // seq 2, today
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	zero := 0
	ch := must[*canteen.Stream[*canteen.CallEvent]](t)(f.svc.CalledNumbers(ctx, st.ID, &zero)).C
	if ev := recvCall(t, ch); ev.Seq != 2 {
		t.Fatalf("replay started at seq %d, want today's seq 2", ev.Seq)
	}
	noMoreCalls(t, ch)
}

func TestTicketUpdatedSendsStateThenChanges(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Watch", "W", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		ctx, cancel := context.WithCancel(alice)
		defer cancel()
		ch := must[*canteen.Stream[*ent.Ticket]](t)(f.svc.TicketUpdated(ctx, tk.ID)).C
		recv := func() *ent.Ticket {
			select {
			case got := <-ch:
				return got
			case <-time.After(5 * time.Second):
				t.Fatal("no ticket update within 5s")
			}
			return nil
		}
		if got := recv(); got.Status != model.StatusWaiting {
			t.Fatalf("first update %s, want current state WAITING", got.Status)
		}
		must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
		got := recv()
		if got.Status != model.StatusCalled || got.CallCount != 1 {
			t.Fatalf("after call: %s/%d", got.Status, got.CallCount)
		}
		// Subscribers resolve edges after the commit: the snapshot must not
		// be bound to the finished transaction.
		if st2, err := got.Seller(ctx); err != nil || st2.ID != st.ID {
			t.Fatalf("seller of a published ticket: %v, %v", st2, err)
		}
		// A stale event (an older version) must not roll the state back.
		f.broker.Publish(events.Event{Topic: canteen.TicketTopic(tk.ID), Payload: tk})
		must[*ent.Ticket](t)(f.svc.Complete(alice, tk.ID))
		done := recv()
		if done.Status != model.StatusDone {
			t.Fatalf("after complete: %s, want DONE", done.Status)
		}
		if st2, err := done.Seller(ctx); err != nil || st2.ID != st.ID {
			t.Fatalf("seller of a completed ticket's event: %v, %v", st2, err)
		}
	})
}

// TestHintsWithoutPayload: events from other instances may arrive as bare
// hints (topic and seq); subscribers then read the call or ticket from the
// database, and Hydrate fills a hint in once for all of them.
func TestHintsWithoutPayload(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Hints", "H", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	ctx, cancel := context.WithCancel(alice)
	defer cancel()
	calls := must[*canteen.Stream[*canteen.CallEvent]](t)(f.svc.CalledNumbers(ctx, st.ID, nil)).C
	updates := must[*canteen.Stream[*ent.Ticket]](t)(f.svc.TicketUpdated(ctx, tk.ID)).C
	<-updates // current state

	// Call without telling this broker, as another instance would.
	other := canteen.New(f.db.Client, f.db.Dialect, events.NewLocal(1), nil, canteen.Config{
		Admins: []string{"admin"}, Location: shanghai, DayStartHour: 4, DevLogin: true, Now: f.clock.Now,
	}, nil)
	must[*ent.Ticket](t)(other.Call(seller, tk.ID))
	f.broker.Publish(events.Event{Topic: canteen.SellerTopic(st.ID), Seq: 1})
	f.broker.Publish(events.Event{Topic: canteen.TicketTopic(tk.ID), Seq: 2})
	if ev := recvCall(t, calls); ev.Seq != 1 || ev.Code != "H001" {
		t.Fatalf("from a hint: seq %d %s, want seq 1 H001", ev.Seq, ev.Code)
	}
	select {
	case got := <-updates:
		if got.Status != model.StatusCalled {
			t.Fatalf("from a hint: %s, want CALLED", got.Status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ticket update from a hint")
	}

	for _, ev := range []events.Event{{Topic: canteen.SellerTopic(st.ID), Seq: 1}, {Topic: canteen.TicketTopic(tk.ID), Seq: 2}} {
		h, err := f.svc.Hydrate(context.Background(), ev)
		if err != nil || h.Payload == nil {
			t.Fatalf("Hydrate(%s): %v, payload %v", ev.Topic, err, h.Payload)
		}
	}
	if ce := must[events.Event](t)(f.svc.Hydrate(context.Background(), events.Event{Topic: canteen.SellerTopic(st.ID), Seq: 1})).Payload.(*canteen.CallEvent); ce.Ticket.Edges.Seller == nil {
		t.Fatal("a hydrated call lacks its seller: every subscriber would query it")
	}
}

// TestStallTopicCarriesOnlyCalls: the stall's topic is the call stream;
// fetches and finished tickets publish nothing there (nobody listens for
// such hints, and they would fill subscribers' buffers during a rush and
// make them lag).
func TestStallTopicCarriesOnlyCalls(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Quiet", "Q", 999)
	sub := f.broker.Subscribe(canteen.SellerTopic(st.ID))
	defer sub.Close()
	a := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	b := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Cancel(seller, a.ID))
	must[*ent.Ticket](t)(f.svc.Call(seller, b.ID))
	must[*ent.Ticket](t)(f.svc.Complete(seller, b.ID))
	var got []events.Event
	for len(got) < 10 {
		select {
		case ev := <-sub.Events():
			got = append(got, ev)
			continue
		case <-time.After(100 * time.Millisecond):
		}
		break
	}
	if len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("stall topic got %d events %+v, want only the call (seq 1)", len(got), got)
	}
}
