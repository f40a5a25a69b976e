package graph

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"callme/internal/canteen"
	"callme/internal/pulid"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// calledNumbers runs a calledNumbers subscription. On a WebSocket it joins
// the stall's shared feed (canteen.CallFeed): each call is executed once per
// group of subscribers with the same document, variables and view of the
// call, and the encoded result is written to every member of the group with
// its own id spliced in; no goroutine and no channel per subscriber. Over
// anything else it is a stream of its own.
func calledNumbers(ctx context.Context, svc *canteen.Service, sellerID pulid.ID, after *int) (<-chan *canteen.CallEvent, error) {
	sub := subFrom(ctx)
	if sub == nil {
		st, err := svc.CalledNumbers(reportEnd(ctx), sellerID, after)
		return channel(ctx, st, err)
	}
	sub.feedKey, sub.presentCtx = feedKey(ctx), ctx
	m, err := svc.CallFeed(ctx, sellerID, after, sub.feedKey, sub, deliverCalls, sub.feedEnd)
	if err != nil {
		return nil, err
	}
	ch := pushed[*canteen.CallEvent](sub)
	sub.feed = m
	return ch, nil
}

// A shared executor: calledNumbers subscriptions with the same key run the
// same selection set on the same variables, so one gqlgen operation per
// key executes for all of them (the first subscriber's), with the actor of
// the view at hand; the others drop their own operation once they joined
// (about 5 KB each: operation context, executor closures, field contexts).
type feedExec struct {
	mu   sync.Mutex // held while it executes: gqlgen reuses its buffers
	next graphql.ResponseHandler
	octx context.Context
	push func(any)
	// presentCtx is the resolver's context of its first subscriber, which
	// carries gqlgen's error presenter.
	presentCtx context.Context
	refs       int // guarded by feedExecs.mu
}

type feedExecs struct {
	mu sync.Mutex
	m  map[string]*feedExec
}

func newFeedExecs() *feedExecs { return &feedExecs{m: map[string]*feedExec{}} }

// adopt gives sub the executor of its key: an existing one, or its own
// operation as the key's executor. Either way sub then holds nothing of its
// own operation but the context it was cancelled with.
func (f *feedExecs) adopt(sub *wsSub) {
	f.mu.Lock()
	e := f.m[sub.feedKey]
	if e == nil {
		e = &feedExec{next: sub.next, octx: sub.octx, push: sub.push, presentCtx: sub.presentCtx}
		f.m[sub.feedKey] = e
	}
	e.refs++
	// Under f.mu: feedEnd reads exec and presentCtx under it, and a topic's
	// error may end the member from the topic's goroutine at any time.
	sub.exec = e
	sub.next, sub.octx, sub.push, sub.presentCtx = nil, nil, nil, nil
	f.mu.Unlock()
}

// release drops sub's hold on its executor.
func (f *feedExecs) release(sub *wsSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := sub.exec
	if e == nil {
		return
	}
	sub.exec = nil
	if e.refs--; e.refs == 0 && f.m[sub.feedKey] == e {
		delete(f.m, sub.feedKey)
	}
}

// feedEnd tells sub's client why its feed membership ended (err nil: it
// left).
func (sub *wsSub) feedEnd(err error) {
	var errs gqlerror.List
	if err != nil {
		sub.s.t.execs.mu.Lock()
		ctx := sub.presentCtx
		if ctx == nil && sub.exec != nil {
			ctx = sub.exec.presentCtx
		}
		sub.s.t.execs.mu.Unlock()
		if ctx == nil {
			// It released its executor (it is stopping) as the topic's
			// error reached it: no resolver's context is left, but the
			// error still goes through the schema's presenter, so a
			// database failure is INTERNAL with no detail here too.
			ctx = sub.s.t.errorContext()
		}
		errs = presentEnd(ctx, err)
	}
	sub.end(errs)
}

// feedKey is what subscriptions must share to share an execution: the
// operation and its variables, except the one `after` is bound to (it only
// decides the replay, which each subscriber reads on its own).
func feedKey(ctx context.Context) string {
	rc := graphql.GetOperationContext(ctx)
	skip := ""
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		if a := fc.Field.Arguments.ForName("after"); a != nil && a.Value != nil && a.Value.Kind == ast.Variable {
			skip = a.Value.Raw
		}
	}
	vars := make(map[string]any, len(rc.Variables))
	for k, v := range rc.Variables {
		if k != skip {
			vars[k] = v
		}
	}
	b, _ := json.Marshal(vars) // sorted keys: equal variables, equal bytes
	var sb strings.Builder
	sb.Grow(len(rc.OperationName) + len(rc.RawQuery) + len(b) + 2)
	sb.WriteString(rc.OperationName)
	sb.WriteByte(0)
	sb.WriteString(rc.RawQuery)
	sb.WriteByte(0)
	sb.Write(b)
	return sb.String()
}

// deliverCalls executes ce once for group (members with the same key and
// view) and queues the result for all. The public view runs as an
// anonymous caller, the others as the member's own, so whatever a field
// shows only to some callers cannot reach a shared payload.
//
// Any member still holding the group's executor runs it, not just the first:
// a member leaves (releasing its executor) on its socket's reader, which does
// not wait for a delivery under way, and the rest of the group have already
// been counted as having this call; were it skipped they would never get it.
func deliverCalls(ce *canteen.CallEvent, view canteen.View, group []*canteen.CallMember) {
	var payload []byte
	for _, m := range group {
		sub := m.Tag.(*wsSub)
		e := sub.s.t.execs.of(sub)
		if e == nil {
			continue // left meanwhile
		}
		var actor *canteen.Actor
		if view != canteen.ViewPublic {
			actor = m.Actor() // the group is one user's: the same caller
		}
		payload = sub.execute(e, ce, actor)
		break // a failed execution fails alike for all: not run again
	}
	if payload == nil {
		return
	}
	for _, m := range group {
		sub := m.Tag.(*wsSub)
		sub.s.enqueueResult(sub, payload)
	}
}

// of returns the executor sub holds, or nil once it left.
func (f *feedExecs) of(sub *wsSub) *feedExec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sub.exec
}

// execute runs the selection set of executor e (sub's) on v as actor and
// returns the encoded response (a copy: gqlgen reuses its buffer), or nil.
// e stays usable after sub released it: it runs detached from any
// subscriber's cancellation.
func (sub *wsSub) execute(e *feedExec, v any, actor *canteen.Actor) (payload []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			sub.s.t.log.ErrorContext(sub.ctx, "panic executing a subscription", "panic", r)
			payload = nil
		}
	}()
	// Not cancelled with the subscriber whose operation it is: it runs for
	// others too.
	ctx := canteen.WithActor(context.WithoutCancel(e.octx), actor)
	e.push(v)
	resp := e.next(ctx)
	if resp == nil {
		return nil
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil
	}
	return b
}
