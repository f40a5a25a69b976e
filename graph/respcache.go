package graph

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// responseCache answers repeated public reads (the stall list with menus that
// every student opens at lunch) from memory instead of running them again.
//
// What it keeps: the data of a query whose every field is in publicFields or
// queueFields, asked by a caller of the public viewer class (anonymous, or a
// customer who manages no stall and is no admin: they read the same thing),
// answered without errors. The key is a hash of the document, the operation
// name and the variables. Sellers and admins see more (unpublished photos,
// unpaid stalls) and always run their queries.
//
// How long: at most ttl, and never past the end of the paid period of a stall
// in the answer (it then shows closed with no write to announce it), nor, for
// an answer with queue fields, past the end of the business day. Every write
// to a stall or a menu clears the whole cache: canteen publishes PublicTopic
// when it commits, delivered on the instance that wrote before its mutation
// returns and on the others as soon as the broker brings it; a broker that
// lost events (Lagged, e.g. Redis reconnected) clears it too. Every write to
// a ticket or a call (a fetch, a call, any transition) clears the answers
// with queue fields the same way (QueuesTopic): at lunch those change many
// times a second, but reads outnumber them by far.
// So a stall closed with setOpen(false) is never shown open on the instance
// that closed it once setOpen has returned, and on another instance at most
// until the broker delivers the event, which ttl bounds if the event is lost.
//
// Like the session cache, nothing waits for events: each lookup drains what
// arrived, and an answer read while a change committed is not kept (the
// generation changed between the lookup and the store).
type responseCache struct {
	ttl     time.Duration
	max     int
	now     func() time.Time
	dayEnds func() time.Time
	stalls  events.Subscription // canteen.PublicTopic
	queues  events.Subscription // canteen.QueuesTopic

	mu  sync.Mutex
	m   map[[32]byte]cachedResponse
	gen uint64 // bumped on every clear
}

type cachedResponse struct {
	data   []byte
	until  time.Time
	queues bool // shows queue fields
}

// maxCachedBytes bounds one answer; larger ones are not kept.
const maxCachedBytes = 256 << 10

func newResponseCache(ttl time.Duration, max int, now, dayEnds func() time.Time, stalls, queues events.Subscription) *responseCache {
	return &responseCache{ttl: ttl, max: max, now: now, dayEnds: dayEnds, stalls: stalls, queues: queues, m: map[[32]byte]cachedResponse{}}
}

// drain drops what the changes that arrived make stale; c.mu is held.
func (c *responseCache) drain() {
	for {
		select {
		case <-c.stalls.Events():
		case <-c.stalls.Lagged():
		case <-c.queues.Events():
			c.dropQueues()
			continue
		case <-c.queues.Lagged():
			c.dropQueues()
			continue
		default:
			return
		}
		clear(c.m)
		c.gen++
	}
}

func (c *responseCache) dropQueues() {
	for k, e := range c.m {
		if e.queues {
			delete(c.m, k)
		}
	}
	c.gen++
}

func (c *responseCache) get(key [32]byte, now time.Time) ([]byte, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drain()
	e, ok := c.m[key]
	if !ok || !now.Before(e.until) {
		return nil, c.gen
	}
	return e.data, c.gen
}

// put keeps data unless the cache was cleared since the lookup that missed
// (gen): the answer may have been read before the change that cleared it.
func (c *responseCache) put(key [32]byte, e cachedResponse, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drain()
	if c.gen != gen {
		return
	}
	if len(c.m) >= c.max {
		clear(c.m) // bounded; the next requests refill what is in use
	}
	c.m[key] = e
}

// intercept is the response middleware. It runs inside withLoaders, to read
// the paid periods of the stalls an answer shows.
func (c *responseCache) intercept(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Query || !publicViewer(canteen.ActorFrom(ctx)) {
		return next(ctx)
	}
	public, queues := publicSelection(oc.Operation.SelectionSet, 0)
	if !public {
		return next(ctx)
	}
	key, ok := cacheKey(oc)
	if !ok {
		return next(ctx)
	}
	now := c.now()
	data, gen := c.get(key, now)
	if data != nil {
		return &graphql.Response{Data: data}
	}
	resp := next(ctx)
	if resp == nil || len(resp.Errors) > 0 || len(resp.Data) == 0 || len(resp.Data) > maxCachedBytes ||
		len(resp.Extensions) > 0 || resp.HasNext != nil {
		return resp
	}
	until := now.Add(c.ttl)
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		for _, p := range l.paidEnds() {
			if p.After(now) && p.Before(until) {
				until = p
			}
		}
	}
	if d := c.dayEnds(); queues && d.Before(until) {
		until = d
	}
	c.put(key, cachedResponse{data: append([]byte(nil), resp.Data...), until: until, queues: queues}, gen)
	return resp
}

// publicViewer reports whether a reads what an anonymous caller reads.
func publicViewer(a *canteen.Actor) bool {
	return a == nil || (!a.Admin && a.SellerID == "")
}

// publicFields are the fields a cached answer may hold: the same for every
// public viewer, and changed only by writes to a stall or its menu (which
// publish canteen.PublicTopic) or by a paid period ending. A root field
// added here must prime the stalls it returns (loaders.primeSellers), so
// that their paid periods bound the answer's life.
var publicFields = map[string]bool{
	"Query.sellers": true, "Query.seller": true,
	"SellerConnection.edges": true, "SellerConnection.pageInfo": true, "SellerConnection.totalCount": true,
	"SellerEdge.node": true, "SellerEdge.cursor": true,
	"PageInfo.hasNextPage": true, "PageInfo.hasPreviousPage": true, "PageInfo.startCursor": true, "PageInfo.endCursor": true,
	"Seller.id": true, "Seller.name": true, "Seller.personName": true, "Seller.photoURL": true, "Seller.prefix": true,
	"Seller.maxNumber": true, "Seller.open": true, "Seller.paidUntil": true, "Seller.menu": true, "Seller.pickupNote": true,
	"MenuItem.id": true, "MenuItem.name": true, "MenuItem.priceCents": true, "MenuItem.available": true,
}

// queueFields may be cached too, but change with every ticket and call
// (canteen.QueuesTopic) and with the business day. Of a ticket, only what
// the call board shows everyone: never its note, claim code or owner.
var queueFields = map[string]bool{
	"Seller.waitingCount": true, "Seller.lastCalled": true,
	"Ticket.id": true, "Ticket.code": true, "Ticket.number": true,
}

// publicSelection reports whether every field of sel is in publicFields or
// queueFields (public) and whether any is in queueFields (queues), with no
// directive other than @include and @skip (which the variables in the key
// decide), such as @defer.
func publicSelection(sel ast.SelectionSet, depth int) (public, queues bool) {
	if depth > 32 {
		return false, false // fragments cycling; validation refuses them, be safe anyway
	}
	for _, s := range sel {
		var dirs ast.DirectiveList
		var sub ast.SelectionSet
		switch s := s.(type) {
		case *ast.Field:
			if s.Name != "__typename" {
				if s.ObjectDefinition == nil {
					return false, false
				}
				name := s.ObjectDefinition.Name + "." + s.Name
				if queueFields[name] {
					queues = true
				} else if !publicFields[name] {
					return false, false
				}
			}
			dirs, sub = s.Directives, s.SelectionSet
		case *ast.InlineFragment:
			dirs, sub = s.Directives, s.SelectionSet
		case *ast.FragmentSpread:
			if s.Definition == nil {
				return false, false
			}
			dirs, sub = s.Directives, s.Definition.SelectionSet
		default:
			return false, false
		}
		for _, d := range dirs {
			if d.Name != "include" && d.Name != "skip" {
				return false, false
			}
		}
		p, q := publicSelection(sub, depth+1)
		if !p {
			return false, false
		}
		queues = queues || q
	}
	return true, queues
}

// cacheKey hashes what decides an answer besides the data: the document, the
// operation chosen and the variables (json.Marshal writes map keys sorted).
func cacheKey(oc *graphql.OperationContext) ([32]byte, bool) {
	vars, err := json.Marshal(oc.Variables)
	if err != nil {
		return [32]byte{}, false
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(oc.RawQuery), []byte(oc.OperationName), vars} {
		var n [8]byte
		for i, l := 0, len(part); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		h.Write(n[:])
		h.Write(part)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k, true
}
