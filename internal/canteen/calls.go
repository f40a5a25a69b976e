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
// database. The channel closes when ctx ends.
func (s *Service) CalledNumbers(ctx context.Context, sellerID pulid.ID, after *int) (<-chan *CallEvent, error) {
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

	out := make(chan *CallEvent)
	go func() {
		defer close(out)
		defer sub.Close()
		send := func(ev *CallEvent) bool {
			select {
			case out <- ev:
				last = ev.Seq
				return true
			case <-ctx.Done():
				return false
			}
		}
		// catchUp sends stored calls with last < seq <= upto (upto 0: all).
		catchUp := func(from int64, upto int64, today bool) bool {
			q := s.db.CallEvent.Query().Where(callevent.SellerID(sellerID), callevent.SeqGT(from))
			if upto > 0 {
				q = q.Where(callevent.SeqLTE(upto))
			}
			if today {
				q = q.Where(callevent.BusinessDay(s.today()))
			}
			stored, err := q.Order(ent.Asc(callevent.FieldSeq)).WithTicket().All(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.ErrorContext(ctx, "replaying calls", "seller", sellerID, "err", err)
				}
				return false
			}
			for _, ce := range stored {
				if ce.Seq <= last {
					continue
				}
				if !send(newCallEvent(ce.Seq, ce.Edges.Ticket, ce.CalledAt)) {
					return false
				}
			}
			return true
		}
		if replayFrom >= 0 {
			last = replayFrom
			if !catchUp(replayFrom, 0, true) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sub.Events():
				ce, ok := ev.Payload.(*CallEvent)
				if !ok {
					// A hint without the call (another instance's event that
					// could not be hydrated): read it from the database.
					if ev.Seq > last && !catchUp(last, ev.Seq, false) {
						return
					}
					continue
				}
				if ce.Seq <= last {
					continue // a call already sent
				}
				if ce.Seq > last+1 && !catchUp(last, ce.Seq-1, false) {
					return
				}
				if !send(ce) {
					return
				}
			case <-sub.Lagged():
				if !catchUp(last, 0, false) {
					return
				}
			}
		}
	}()
	return out, nil
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
// subscriber reloads the current state.
func (s *Service) TicketUpdated(ctx context.Context, id pulid.ID) (<-chan *ent.Ticket, error) {
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
	out := make(chan *ent.Ticket)
	go func() {
		defer close(out)
		defer sub.Close()
		version := 0
		send := func(t *ent.Ticket) bool {
			if t.Version <= version {
				return true
			}
			select {
			case out <- t:
				version = t.Version
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !send(t) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-sub.Events():
				t, ok := ev.Payload.(*ent.Ticket)
				if !ok && int(ev.Seq) > version {
					var gerr error
					t, gerr = s.db.Ticket.Get(ctx, id) // a hint: read the state
					ok = gerr == nil
				}
				if ok && !send(t) {
					return
				}
			case <-sub.Lagged():
				t, err := s.db.Ticket.Get(ctx, id)
				if err != nil || !send(t) {
					return
				}
			}
		}
	}()
	return out, nil
}
