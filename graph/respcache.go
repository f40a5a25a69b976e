package graph

import (
	fifo "container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"
	"time"

	"callme/internal/canteen"

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
// How long: at most ttl, and never past the end of a paid period that the
// answer depends on (the stall then shows closed, or drops out of the list,
// its totalCount and hasNextPage, with no write to announce it): those of
// the stalls in the answer, and for a list, the first among the stalls its
// totalCount and hasNextPage count (canteen.SellerPage.Lapses). With queue
// fields, never past the end of the business day either. An answer is
// kept with the versions of what public reads show that it was read at
// (canteen.PublicVersions), and served only while they are unchanged: every
// write to a stall or a menu bumps the stalls version, every write to a
// ticket or a call (a fetch, a call, any transition) the queues version, which
// only answers with queue fields depend on. The instance that writes bumps
// them inside the commit, before its mutation returns; the others when the
// broker brings the event; a broker that lost events bumps them too. So a
// stall closed with setOpen(false) is never shown open on the instance that
// closed it once setOpen has returned, and on another instance at most until
// the broker delivers the event, which ttl bounds if the event is lost. At
// lunch the queues change many times a second, but reads outnumber them by
// far.
//
// An answer read while a version changed is not kept: it may predate the
// change. Nor is one that a read decided by who asked (canteen.WatchCaller:
// a stall whose paid period ended is shown to a customer holding a ticket
// there and to no other public viewer).
//
// How much: at most maxBytes in all (each entry counted with its key and
// bookkeeping), answers over maxCachedBytes not at all; the oldest entries
// make room for new ones, so a client filling the cache with large distinct
// documents displaces entries one by one and never clears it. An entry that
// is found stale is dropped at once, and a sweep at most once per ttl drops
// the expired rest, so memory held past expiry is bounded by ttl too.
type responseCache struct {
	ttl      time.Duration
	maxBytes int
	now      func() time.Time
	dayEnds  func() time.Time
	versions func() canteen.PublicVersions

	mu    sync.Mutex
	m     map[[32]byte]*fifo.Element // of *cachedResponse
	order fifo.List                  // oldest first
	bytes int
	swept time.Time
}

type cachedResponse struct {
	key    [32]byte
	data   []byte
	until  time.Time
	queues bool // shows queue fields
	read   canteen.PublicVersions
}

const (
	// maxCachedBytes bounds one answer; larger ones are not kept. A page of
	// 100 stalls with their menus fits.
	maxCachedBytes = 256 << 10
	// publicCacheBytes bounds all answers of an instance's cache.
	publicCacheBytes = 8 << 20
	// entryOverhead is what an entry costs besides its data: map slot, list
	// element, the struct.
	entryOverhead = 192
)

func newResponseCache(ttl time.Duration, maxBytes int, now, dayEnds func() time.Time, versions func() canteen.PublicVersions) *responseCache {
	return &responseCache{ttl: ttl, maxBytes: maxBytes, now: now, dayEnds: dayEnds, versions: versions, m: map[[32]byte]*fifo.Element{}}
}

func (e *cachedResponse) size() int { return len(e.data) + entryOverhead }

// current reports whether e still shows what a read at v would.
func (e *cachedResponse) current(v canteen.PublicVersions, now time.Time) bool {
	return now.Before(e.until) && e.read.Stalls == v.Stalls && (!e.queues || e.read.Queues == v.Queues)
}

func (c *responseCache) get(key [32]byte, v canteen.PublicVersions, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil
	}
	if e := el.Value.(*cachedResponse); e.current(v, now) {
		return e.data
	}
	c.remove(el) // versions only grow and time only passes: never current again
	return nil
}

func (c *responseCache) put(e *cachedResponse, v canteen.PublicVersions, now time.Time) {
	if e.size() > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[e.key]; ok {
		c.remove(old)
	}
	if now.Sub(c.swept) >= c.ttl {
		c.swept = now
		for el := c.order.Front(); el != nil; {
			next := el.Next()
			if !el.Value.(*cachedResponse).current(v, now) {
				c.remove(el)
			}
			el = next
		}
	}
	for c.bytes+e.size() > c.maxBytes {
		c.remove(c.order.Front())
	}
	c.m[e.key] = c.order.PushBack(e)
	c.bytes += e.size()
}

func (c *responseCache) remove(el *fifo.Element) {
	e := c.order.Remove(el).(*cachedResponse)
	delete(c.m, e.key)
	c.bytes -= e.size()
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
	// The business day's end is read with now, before the query: read after
	// it, at the rollover it could be the next day's end for an answer read
	// in the day before.
	now, dayEnds, read := c.now(), c.dayEnds(), c.versions()
	if data := c.get(key, read, now); data != nil {
		return &graphql.Response{Data: data}
	}
	ctx, callerDecided := canteen.WatchCaller(ctx)
	resp := next(ctx)
	if resp == nil || len(resp.Errors) > 0 || len(resp.Data) == 0 || len(resp.Data) > maxCachedBytes ||
		len(resp.Extensions) > 0 || resp.HasNext != nil || callerDecided() {
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
	if queues && dayEnds.Before(until) {
		until = dayEnds
	}
	if after := c.versions(); after.Stalls != read.Stalls || (queues && after.Queues != read.Queues) {
		return resp // something changed while it was read
	}
	// A copy: a planned answer's buffer is reused once it is written
	// (answerLoan).
	c.put(&cachedResponse{key: key, data: append([]byte(nil), resp.Data...), until: until, queues: queues, read: read}, read, now)
	return resp
}

// publicViewer reports whether a reads what an anonymous caller reads, but
// for what canteen.WatchCaller notes.
func publicViewer(a *canteen.Actor) bool {
	return a == nil || (!a.Admin && a.SellerID == "")
}

// publicFields are the fields a cached answer may hold: the same for every
// public viewer (a read decided by who asks says so: canteen.WatchCaller),
// and changed only by writes to a stall or its menu (which publish
// canteen.PublicTopic) or by a paid period ending. A root field added here
// must prime the stalls it returns (loaders.primeSellers) and note the
// first paid period to end among those it counts without returning them
// (loaders.notePaidEnd), so that their paid periods bound the answer's life.
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
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(part)))) // length first: no two splits hash alike
		h.Write(part)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k, true
}
