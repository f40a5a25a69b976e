package canteen_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// joinFeed joins the shared call feed of st anonymously, with after, and
// returns the member and the calls it is handed. Like the transport, one
// delivery serves its whole group: each member's Tag is its channel.
func joinFeed(t *testing.T, ctx context.Context, svc *canteen.Service, st *ent.Seller, after *int) (*canteen.CallMember, <-chan *canteen.CallEvent) {
	t.Helper()
	ch := make(chan *canteen.CallEvent, 64)
	m, err := svc.CallFeed(ctx, st.ID, after, "k", ch,
		func(ev *canteen.CallEvent, _ canteen.View, group []*canteen.CallMember) {
			for _, gm := range group {
				gm.Tag.(chan *canteen.CallEvent) <- ev
			}
		}, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Leave)
	return m, ch
}

// A phone resuming with yesterday's seq before today's first call has
// nothing of today to replay: one catch-up pass makes it live, level with
// the feed, and today's first call reaches it once. (It used to stay behind
// the feed, whose last is yesterday's seq, and read again at once, for
// ever: a core per phone reconnecting in the morning.) Both ways of
// replaying: from the database (a new feed) and from the feed's memory
// (a member was there for yesterday's calls).
func TestCallFeedResumeAcrossDayTurnoverGoesLiveInOnePass(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		for _, tc := range []struct {
			name       string
			watchedDay bool // a member followed yesterday's calls, so the feed remembers them
		}{{"from the database", false}, {"from memory", true}} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, e)
				passes := make(chan bool, 1024)
				f.svc.OnCatchUpPass(func(live bool) { passes <- live })
				seller, st := f.stall(t, "Ramen", "A", 999)
				var watcher <-chan *canteen.CallEvent
				if tc.watchedDay {
					var m *canteen.CallMember
					m, watcher = joinFeed(t, context.Background(), f.svc, st, nil)
					m.Start()
				}
				for i := 0; i < 3; i++ { // seq 1..3, yesterday
					tk := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
					must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
				}
				if watcher != nil {
					for want := int64(1); want <= 3; want++ {
						if ev := recvCall(t, watcher); ev.Seq != want {
							t.Fatalf("watcher got seq %d, want %d", ev.Seq, want)
						}
					}
				}
				f.clock.Add(24 * time.Hour)
				seller = f.as(t, model.AppSeller, "owner-Ramen")

				after := 1
				m, ch := joinFeed(t, context.Background(), f.svc, st, &after)
				m.Start()
				select {
				case live := <-passes:
					if !live {
						t.Fatal("still behind the feed after a pass that replayed all of today: it reads again at once")
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no catch-up pass within 5s")
				}

				tk := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
				must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // seq 4, today's first
				if ev := recvCall(t, ch); ev.Seq != 4 || ev.Code != "A001" {
					t.Fatalf("got seq %d %s, want today's first call, seq 4 A001", ev.Seq, ev.Code)
				}
				noMoreCalls(t, ch)
				if watcher != nil {
					if ev := recvCall(t, watcher); ev.Seq != 4 {
						t.Fatalf("watcher got seq %d, want 4", ev.Seq)
					}
				}
				if n := len(passes); n != 0 {
					t.Fatalf("%d more catch-up passes after the member went live, want none", n)
				}
			})
		}
	})
}

// twiceBroker delivers every event to its subscribers twice, one at a time
// (a broker may repeat an event), and says on taken when a subscriber has
// taken both copies: it is then done with the first, back at its next
// receive.
type twiceBroker struct {
	*events.Local
	taken chan int64
}

func (b *twiceBroker) Subscribe(topic string) events.Subscription {
	in := b.Local.Subscribe(topic)
	s := &twiceSub{Subscription: in, out: make(chan events.Event), done: make(chan struct{})}
	go func() {
		for {
			select {
			case <-s.done:
				return
			case ev := <-in.Events():
				for range 2 {
					select {
					case s.out <- ev:
					case <-s.done:
						return
					}
				}
				b.taken <- ev.Seq
			}
		}
	}()
	return s
}

type twiceSub struct {
	events.Subscription
	out    chan events.Event
	done   chan struct{}
	closed atomic.Bool
}

func (s *twiceSub) Events() <-chan events.Event { return s.out }

func (s *twiceSub) Close() {
	if s.closed.CompareAndSwap(false, true) {
		close(s.done)
	}
	s.Subscription.Close()
}

// The first member of a new feed reads where the stall stands, then joins.
// A call committed between the two reaches the feed before the feed knows
// where to start; it must still reach the member, once. (The feed used to
// drop every event until its first member joined, so the member started at
// the stall's old seq and never got that call unless a later one left a gap
// to fill.)
func TestCallFeedFirstMemberGetsCallCommittedWhileJoining(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		b := &twiceBroker{Local: events.NewLocal(64), taken: make(chan int64, 64)}
		f.svc = canteen.New(f.db.Client, f.db.Dialect, b, nil, canteen.Config{
			Admins: []string{"admin"}, Location: shanghai, DayStartHour: 4, DevLogin: true, Now: f.clock.Now,
		}, nil)
		seller, st := f.stall(t, "Ramen", "A", 999)
		tk := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))

		// Right after CallFeed's read of the stall: call seq 1, and wait
		// until the feed has taken its event (and the repeat).
		var armed atomic.Bool
		f.db.Client.Seller.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				v, err := next.Query(ctx, q)
				if armed.CompareAndSwap(true, false) {
					must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
					if seq := <-b.taken; seq != 1 {
						t.Errorf("the feed took seq %d, want 1", seq)
					}
				}
				return v, err
			})
		}))
		armed.Store(true)
		m, ch := joinFeed(t, context.Background(), f.svc, st, nil)
		if armed.Load() {
			t.Fatal("CallFeed did not read the stall")
		}
		m.Start()
		if ev := recvCall(t, ch); ev.Seq != 1 || ev.Code != "A001" {
			t.Fatalf("got seq %d %s, want seq 1 A001", ev.Seq, ev.Code)
		}
		noMoreCalls(t, ch)
	})
}
