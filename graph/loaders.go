package graph

import (
	"context"
	"slices"
	"sync"
	"time"

	"callme/ent"
	"callme/graph/dataload"
	"callme/internal/canteen"
	"callme/internal/pulid"

	"github.com/99designs/gqlgen/graphql"
)

// loaders batch the per-stall reads of one response. A list resolver primes
// them with the IDs it returns; the first field that loads any of them then
// reads the whole page in one statement.
type loaders struct {
	svc        *canteen.Service
	seller     *dataload.Loader[pulid.ID, *ent.Seller]
	menu       *dataload.Loader[pulid.ID, []*ent.MenuItem]
	waiting    *dataload.Loader[pulid.ID, int]
	lastCalled *dataload.Loader[pulid.ID, *ent.Ticket]
	position   *dataload.Loader[canteen.PositionKey, int]

	// paid are the ends of the paid periods of the stalls the response's
	// lists returned: when one passes, that stall shows closed (or leaves
	// the list) with no write to announce it, so a cached copy of the
	// response must not outlive it (responseCache).
	paidMu sync.Mutex
	paid   []time.Time
}

func newLoaders(svc *canteen.Service) *loaders {
	l := &loaders{svc: svc}
	l.forget()
	return l
}

// forget drops what the loaders have read, keeping the paid periods seen:
// a query plan that falls back (plan.go) leaves gqlgen loaders as fresh as
// it would have had alone.
func (l *loaders) forget() {
	l.seller = dataload.New(l.svc.SellersByID)
	l.menu = dataload.New(l.svc.Menus)
	l.waiting = dataload.New(l.svc.WaitingCounts)
	l.lastCalled = dataload.New(l.svc.LastCalls)
	l.position = dataload.New(l.svc.Positions)
}

type loadersKey struct{}

// withLoaders installs fresh loaders for one response: per response, not per
// operation, so that each event of a subscription reads current data.
func withLoaders(svc *canteen.Service) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(context.WithValue(ctx, loadersKey{}, newLoaders(svc)))
	}
}

// loadersFrom returns the response's loaders; outside a response (a test
// calling a resolver directly) each call gets fresh, unbatched ones.
func (r *Resolver) loadersFrom(ctx context.Context) *loaders {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l
	}
	return newLoaders(r.Svc)
}

// primeSellers announces the stalls of a list to every per-stall loader.
// Stalls read whole also answer later loads of the stall by id; partial
// ones (canteen.SellerQuery.Columns) do not, as those may read any column.
func (l *loaders) primeSellers(sellers []*ent.Seller, whole bool) {
	l.paidMu.Lock()
	l.paid = slices.Grow(l.paid, len(sellers))
	for _, st := range sellers {
		if st.PaidUntil != nil {
			l.paid = append(l.paid, *st.PaidUntil)
		}
	}
	l.paidMu.Unlock()
	ids := make([]pulid.ID, len(sellers))
	for i, st := range sellers {
		ids[i] = st.ID
	}
	if whole {
		l.seller.SetMany(ids, sellers)
	}
	l.menu.Prime(ids...)
	l.waiting.Prime(ids...)
	l.lastCalled.Prime(ids...)
}

// notePaidEnd adds the end of a paid period the answer depends on without
// listing the stall (a count, hasNextPage).
func (l *loaders) notePaidEnd(t time.Time) {
	l.paidMu.Lock()
	l.paid = append(l.paid, t)
	l.paidMu.Unlock()
}

// paidEnds returns the ends of the paid periods primeSellers and notePaidEnd
// saw.
func (l *loaders) paidEnds() []time.Time {
	l.paidMu.Lock()
	defer l.paidMu.Unlock()
	return slices.Clone(l.paid)
}

// primeTickets announces the stalls of a ticket list (a list's tickets
// mostly share one: each is announced once per run) and, when the list
// reads positions, the WAITING tickets' places.
func (l *loaders) primeTickets(tickets []*ent.Ticket, positions bool) {
	for i, t := range tickets {
		if i == 0 || t.SellerID != tickets[i-1].SellerID {
			l.seller.Prime(t.SellerID)
		}
		if !positions {
			continue
		}
		if k, ok := canteen.PositionOf(t); ok {
			l.position.Prime(k)
		}
	}
}

// ticketList primes the loaders with a list's tickets on its way out, for
// what sel says the list reads.
func (r *Resolver) ticketList(ctx context.Context, sel ticketSelection) func([]*ent.Ticket, error) ([]*ent.Ticket, error) {
	return func(ts []*ent.Ticket, err error) ([]*ent.Ticket, error) {
		if err == nil {
			r.loadersFrom(ctx).primeTickets(ts, sel.positions)
		}
		return ts, err
	}
}
