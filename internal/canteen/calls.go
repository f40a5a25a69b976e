package canteen

import (
	"context"
	"strings"
	"time"

	"callme/ent"
	"callme/ent/callevent"
	"callme/internal/events"
	"callme/internal/pulid"
)

// CallEvent is one call of a number, as boards and phones show it.
type CallEvent struct {
	Seq          int64
	Ticket       *ent.Ticket
	Code         string
	Announcement string
	CalledAt     time.Time
}

func newCallEvent(seq int64, t *ent.Ticket, at time.Time) *CallEvent {
	return &CallEvent{
		Seq:          seq,
		Ticket:       t,
		Code:         t.Code,
		Announcement: "请 " + t.Code + " 号取餐",
		CalledAt:     at,
	}
}

// CalledNumbers streams every call at a stall in seq order. With after, it
// first replays today's calls with seq > after. It subscribes before reading
// the database, then drops live events it already sent, so there is no gap
// and no duplicate at the seam; a gap in live seqs (a slow subscriber's
// dropped events, or commits published out of order) is filled from the
// database. Everything read from the database is of the current business
// day: a board that resumes after the day turned over never announces
// yesterday's numbers. A subscription opened with a session ends when the
// session does (see sessionGuard); the stream closes when ctx ends.
func (s *Service) CalledNumbers(ctx context.Context, sellerID pulid.ID, after *int) (*Stream[*CallEvent], error) {
	// Read the stall's current seq after subscribing: any call committed later
	// arrives as an event.
	sub := s.broker.Subscribe(SellerTopic(sellerID))
	st, err := s.Seller(ctx, sellerID)
	if err != nil || st == nil {
		sub.Close()
		if err == nil {
			err = Errorf(CodeNotFound, "no such seller")
		}
		return nil, err
	}
	last := st.CallSeq
	replayFrom := int64(-1)
	// An `after` beyond the stall's seq (a client that kept state across a
	// database reset) would otherwise skip live calls forever.
	if after != nil && int64(*after) < last {
		replayFrom = max(int64(*after), 0)
	}
	guard := s.guardSession(ActorFrom(ctx))
	return startStream(ctx, func(send func(*CallEvent) bool) error {
		defer sub.Close()
		defer guard.close()
		emit := func(ev *CallEvent) bool {
			if !send(ev) {
				return false
			}
			last = ev.Seq
			return true
		}
		// catchUp sends today's stored calls with last < seq <= upto (upto
		// 0: all), read as the shared feed reads them.
		catchUp := func(upto int64) error {
			stored, err := s.storedCalls(ctx, sellerID, last, upto)
			if err != nil {
				return err
			}
			for _, ce := range stored {
				if ce.Seq > last && !emit(ce) {
					return nil
				}
			}
			return nil
		}
		if replayFrom >= 0 {
			last = replayFrom
			if err := catchUp(0); err != nil || ctx.Err() != nil {
				return err
			}
		}
		for {
			var err error
			select {
			case <-ctx.Done():
				return nil
			case ev := <-sub.Events():
				ce, ok := ev.Payload.(*CallEvent)
				switch {
				case !ok:
					// A hint without the call (another instance's event that
					// could not be hydrated): read it from the database.
					if ev.Seq > last {
						err = catchUp(ev.Seq)
					}
				case ce.Seq <= last: // a call already sent
				case ce.Seq > last+1:
					if err = catchUp(ce.Seq - 1); err == nil && ce.Seq > last {
						emit(ce)
					}
				default:
					if emit(ce) && s.cfg.CallDelivered != nil {
						s.cfg.CallDelivered(s.cfg.Now().Sub(ce.CalledAt))
					}
				}
			case <-sub.Lagged():
				err = catchUp(0)
			case <-guard.events():
				err = guard.check(ctx)
			case <-guard.lagged():
				err = guard.check(ctx)
			case <-guard.ticks():
				if guard.due() {
					err = guard.check(ctx)
				}
			}
			if err != nil {
				return err
			}
		}
	}), nil
}

// Hydrate turns an event that arrived from another instance (topic and seq
// only) into one carrying its snapshot, read once per instance however many
// subscribers wait for it.
func (s *Service) Hydrate(ctx context.Context, ev events.Event) (events.Event, error) {
	switch {
	case strings.HasPrefix(ev.Topic, "seller:") && ev.Seq > 0:
		sellerID := pulid.ID(strings.TrimPrefix(ev.Topic, "seller:"))
		ce, err := s.db.CallEvent.Query().
			Where(callevent.SellerID(sellerID), callevent.Seq(ev.Seq)).
			WithTicket(func(q *ent.TicketQuery) { q.WithSeller() }).
			Only(ctx)
		if err != nil {
			return ev, err
		}
		ev.Payload = newCallEvent(ce.Seq, ce.Edges.Ticket, ce.CalledAt)
	case strings.HasPrefix(ev.Topic, "ticket:"):
		t, err := s.db.Ticket.Get(ctx, pulid.ID(strings.TrimPrefix(ev.Topic, "ticket:")))
		if err != nil {
			return ev, err
		}
		ev.Payload = t
	}
	return ev, nil
}

// TicketUpdated streams a ticket's current state, then every change, to its
// owner or its seller. Stale events (by version) are dropped; a lagging
// subscriber reloads the current state. It ends when the caller's session
// does (see sessionGuard).
func (s *Service) TicketUpdated(ctx context.Context, id pulid.ID) (*Stream[*ent.Ticket], error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	sub := s.broker.Subscribe(TicketTopic(id))
	t, err := s.db.Ticket.Get(ctx, id)
	if err != nil || !canRead(a, t) {
		sub.Close()
		if ent.IsNotFound(err) {
			return nil, Errorf(CodeNotFound, "no such ticket")
		}
		if err == nil {
			err = Errorf(CodeForbidden, "only the ticket's owner or its stall's seller can watch it")
		}
		return nil, err
	}
	guard := s.guardSession(a)
	return startStream(ctx, func(send func(*ent.Ticket) bool) error {
		defer sub.Close()
		defer guard.close()
		version := 0
		emit := func(t *ent.Ticket) bool {
			if t.Version <= version {
				return true
			}
			if !send(t) {
				return false
			}
			version = t.Version
			return true
		}
		// reload sends the ticket's current state.
		reload := func() error {
			var t *ent.Ticket
			err := s.retryRead(ctx, "reading the ticket", func() (err error) {
				t, err = s.db.Ticket.Get(ctx, id)
				return err
			})
			if err == nil {
				emit(t)
			}
			return err
		}
		if !emit(t) {
			return nil
		}
		for {
			var err error
			select {
			case <-ctx.Done():
				return nil
			case ev := <-sub.Events():
				if t, ok := ev.Payload.(*ent.Ticket); ok {
					emit(t)
				} else if int(ev.Seq) > version {
					err = reload() // a hint: read the state
				}
			case <-sub.Lagged():
				err = reload()
			case <-guard.events():
				err = guard.check(ctx)
			case <-guard.lagged():
				err = guard.check(ctx)
			case <-guard.ticks():
				if guard.due() {
					err = guard.check(ctx)
				}
			}
			if err != nil {
				return err
			}
		}
	}), nil
}
