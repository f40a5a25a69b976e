package graph

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// A WebSocket lives for hours; the session it was opened with may end
// meanwhile (logout, idle expiry) or gain a role (claimSeller). So the
// socket keeps its token, not its caller: every operation on it resolves
// the token again, as an HTTP request does, and gets its own snapshot of the
// caller. Running subscriptions are ended by the domain when the session
// ends (canteen.Stream).

type tokenKey struct{}

type socketKey struct{}

// withToken records the bearer token that authenticated ctx's caller.
func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

func tokenFrom(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey{}).(string)
	return t
}

// onSocket marks ctx as a WebSocket connection's, with an id of its own
// (the socket's budget is kept under it).
func onSocket(ctx context.Context) context.Context {
	return context.WithValue(ctx, socketKey{}, "ws:"+strconv.FormatUint(rand.Uint64(), 36))
}

func isSocket(ctx context.Context) bool { return socketFrom(ctx) != "" }

// socketFrom returns the id of ctx's WebSocket, or "" over HTTP.
func socketFrom(ctx context.Context) string {
	id, _ := ctx.Value(socketKey{}).(string)
	return id
}

// socketSessions is an operation interceptor: an operation on a WebSocket
// runs as the caller its socket's token stands for now.
func socketSessions(svc *canteen.Service, log *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if !isSocket(ctx) {
			return next(ctx) // HTTP: authenticate resolved this request's token
		}
		var a *canteen.Actor
		if token := tokenFrom(ctx); token != "" {
			var err error
			if a, err = svc.Authenticate(ctx, token); err != nil {
				log.ErrorContext(ctx, "authenticating socket operation", "err", err)
				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
					Message:    "internal error; it has been logged",
					Extensions: map[string]any{"code": string(canteen.CodeInternal)},
				}}})
			}
		}
		return next(canteen.WithActor(ctx, a))
	}
}

// reportEnd arranges for a domain stream started with the returned context
// to end with its error, through the error presenter (so it carries its
// code), instead of a plain complete. The stream calls it from its own
// goroutine just before it ends, so no goroutine per subscription waits for
// the end.
func reportEnd(ctx context.Context) context.Context {
	return canteen.WithStreamEnd(ctx, streamEnd(ctx))
}

// streamEnd is what tells the client of ctx's subscription why it ended.
func streamEnd(ctx context.Context) func(error) {
	return func(err error) {
		sub := subFrom(ctx)
		if sub == nil {
			return // over HTTP there is nobody left to tell
		}
		var errs gqlerror.List
		if err != nil && ctx.Err() == nil {
			errs = presentEnd(ctx, err)
		}
		sub.end(errs)
	}
}

// presentEnd is the error a subscription ends with, through the error
// presenter of ctx (a resolver's context): a domain error keeps its code,
// anything else is INTERNAL.
func presentEnd(ctx context.Context, err error) gqlerror.List {
	var de *canteen.Error
	if !errors.As(err, &de) {
		err = internalError{err}
	}
	rc := graphql.WithFreshResponseContext(ctx)
	graphql.AddError(rc, err)
	return graphql.GetErrors(rc)
}

// channel is what gqlgen reads of a domain stream. On a WebSocket the
// stream hands its values to the transport (canteen.WithStreamSend), which
// puts each on this channel just before gqlgen reads it.
func channel[T any](ctx context.Context, st *canteen.Stream[T], err error) (<-chan T, error) {
	if err != nil {
		return nil, err
	}
	if sub := subFrom(ctx); sub != nil {
		return pushed[T](sub), nil
	}
	return st.C, nil
}

// pushed is the channel gqlgen reads a WebSocket subscription's values
// from: the transport puts each value on it (sub.push) just before gqlgen
// reads it, so it holds one at most.
func pushed[T any](sub *wsSub) <-chan T {
	ch := make(chan T, 1)
	sub.push = func(v any) {
		select {
		case <-ch: // a value gqlgen did not read (its context ended)
		default:
		}
		ch <- v.(T)
	}
	return ch
}
