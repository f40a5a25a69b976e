package graph

import (
	"context"
	"encoding/json"
	"strings"

	"callme/internal/canteen"
	"callme/internal/pulid"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
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
	ch := make(chan *canteen.CallEvent, 1)
	m, err := svc.CallFeed(ctx, sellerID, after, feedKey(ctx), sub, deliverCalls, streamEnd(ctx))
	if err != nil {
		return nil, err
	}
	sub.push = func(v any) {
		select {
		case <-ch: // a value gqlgen did not read
		default:
		}
		ch <- v.(*canteen.CallEvent)
	}
	sub.feed = m
	return ch, nil
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
// view) with the first member's operation, and queues the result for all.
// The public view runs as an anonymous caller, so whatever a field shows
// only to some callers cannot reach a shared payload.
func deliverCalls(ce *canteen.CallEvent, view canteen.View, group []*canteen.CallMember) {
	rep := group[0].Tag.(*wsSub)
	payload := rep.execute(ce, view == canteen.ViewPublic)
	if payload == nil {
		return
	}
	for _, m := range group {
		sub := m.Tag.(*wsSub)
		sub.s.enqueueResult(sub, payload)
	}
}

// execute runs the subscription's selection set on v and returns the
// encoded response (a copy: gqlgen reuses its buffer), or nil.
func (sub *wsSub) execute(v any, anonymous bool) (payload []byte) {
	sub.execMu.Lock()
	defer sub.execMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			sub.s.t.log.ErrorContext(sub.ctx, "panic executing a subscription", "panic", r)
			payload = nil
		}
	}()
	// Not cancelled with this member: it may run for a whole group.
	ctx := context.WithoutCancel(sub.octx)
	if anonymous {
		ctx = canteen.WithActor(ctx, nil)
	}
	sub.push(v)
	resp := sub.next(ctx)
	if resp == nil {
		return nil
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil
	}
	return b
}
