package canteen

import (
	"context"
	"sync"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/menuitem"
	"callme/ent/predicate"
	"callme/ent/ticket"
	"callme/internal/model"
	"callme/internal/pulid"
)

// pageLoader batches per-stall figures for one GraphQL operation: when a
// list of stalls asks for waitingCount or lastCalled, one query answers for
// the whole page instead of one per stall.
type pageLoader struct {
	mu      sync.Mutex
	sellers []*ent.Seller // the stalls the operation listed
	waiting map[pulid.ID]int
	last    map[pulid.ID]*ent.Ticket
	menus   map[pulid.ID][]*ent.MenuItem
}

type loaderKey struct{}

// WithLoader returns ctx with a fresh batch loader; the GraphQL layer calls
// it once per operation.
func WithLoader(ctx context.Context) context.Context {
	return context.WithValue(ctx, loaderKey{}, &pageLoader{})
}

func loaderFrom(ctx context.Context) *pageLoader {
	l, _ := ctx.Value(loaderKey{}).(*pageLoader)
	return l
}

// remember notes the stalls of a list, for batching.
func (l *pageLoader) remember(sellers []*ent.Seller) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.sellers = append(l.sellers, sellers...)
	l.waiting, l.last, l.menus = nil, nil, nil // a new page: batch again
	l.mu.Unlock()
}

func (l *pageLoader) covers(id pulid.ID) bool {
	for _, st := range l.sellers {
		if st.ID == id {
			return true
		}
	}
	return false
}

// waitingCount answers from one GROUP BY over the listed stalls.
func (s *Service) batchedWaiting(ctx context.Context, l *pageLoader, id pulid.ID) (int, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.covers(id) {
		return 0, false, nil
	}
	if l.waiting == nil {
		ids := make([]pulid.ID, len(l.sellers))
		for i, st := range l.sellers {
			ids[i] = st.ID
		}
		var rows []struct {
			SellerID pulid.ID `json:"seller_id"`
			Count    int      `json:"count"`
		}
		err := s.db.Ticket.Query().
			Where(ticket.SellerIDIn(ids...), ticket.BusinessDay(s.today()), ticket.StatusEQ(model.StatusWaiting)).
			GroupBy(ticket.FieldSellerID).Aggregate(ent.Count()).Scan(ctx, &rows)
		if err != nil {
			return 0, false, err
		}
		l.waiting = make(map[pulid.ID]int, len(rows))
		for _, r := range rows {
			l.waiting[r.SellerID] = r.Count
		}
	}
	return l.waiting[id], true, nil
}

// batchedLastCalled loads the latest call of every listed stall at once:
// a stall's call_seq is its latest call, so one lookup by (stall, seq).
func (s *Service) batchedLastCalled(ctx context.Context, l *pageLoader, id pulid.ID) (*ent.Ticket, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.covers(id) {
		return nil, false, nil
	}
	if l.last == nil {
		var pairs []predicate.CallEvent
		for _, st := range l.sellers {
			if st.CallSeq > 0 {
				pairs = append(pairs, callevent.And(callevent.SellerID(st.ID), callevent.Seq(st.CallSeq)))
			}
		}
		l.last = map[pulid.ID]*ent.Ticket{}
		if len(pairs) > 0 {
			events, err := s.db.CallEvent.Query().
				Where(callevent.Or(pairs...), callevent.BusinessDay(s.today())).
				WithTicket().All(ctx)
			if err != nil {
				l.last = nil
				return nil, false, err
			}
			for _, ev := range events {
				l.last[ev.SellerID] = ev.Edges.Ticket
			}
		}
	}
	return l.last[id], true, nil
}

// batchedMenu loads the menus of every listed stall in one ordered query.
func (s *Service) batchedMenu(ctx context.Context, l *pageLoader, id pulid.ID) ([]*ent.MenuItem, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.covers(id) {
		return nil, false, nil
	}
	if l.menus == nil {
		ids := make([]pulid.ID, len(l.sellers))
		for i, st := range l.sellers {
			ids[i] = st.ID
		}
		items, err := s.db.MenuItem.Query().Where(menuitem.SellerIDIn(ids...)).
			Order(ent.Asc(menuitem.FieldSellerID), ent.Asc(menuitem.FieldPosition)).All(ctx)
		if err != nil {
			return nil, false, err
		}
		l.menus = make(map[pulid.ID][]*ent.MenuItem, len(ids))
		for _, it := range items {
			l.menus[it.SellerID] = append(l.menus[it.SellerID], it)
		}
	}
	if m := l.menus[id]; m != nil {
		return m, true, nil
	}
	return []*ent.MenuItem{}, true, nil
}
