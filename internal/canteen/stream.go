package canteen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"callme/ent"
	"callme/ent/session"
	"callme/internal/events"

	entsql "entgo.io/ent/dialect/sql"
)

// Stream is a running subscription: values arrive on C until it closes, and
// then Err tells why it ended: nil when its context ended, else a domain
// error (UNAUTHENTICATED once the caller's session ended or its roles
// changed) or a database failure that outlasted the retries. A subscription
// never ends silently.
type Stream[T any] struct {
	C   <-chan T
	err error // written before C closes
}

// Err is the reason the stream ended; read it after C closed.
func (s *Stream[T]) Err() error { return s.err }

type streamEndKey struct{}

// WithStreamEnd returns ctx with f to hear why a stream started with it
// ended (nil: its context ended), called just before the stream's channel
// closes: a transport can then end the subscription with that error rather
// than a plain complete, without a goroutine of its own per subscription.
func WithStreamEnd(ctx context.Context, f func(error)) context.Context {
	return context.WithValue(ctx, streamEndKey{}, f)
}

type streamSendKey struct{}

// WithStreamSend returns ctx with f to take the values of a stream started
// with it, on the stream's own goroutine, instead of its channel (which then
// stays empty): a transport can encode and queue each value right there,
// without a goroutine of its own per subscription to read the channel. f
// reports false once nobody wants more values.
func WithStreamSend(ctx context.Context, f func(v any) bool) context.Context {
	return context.WithValue(ctx, streamSendKey{}, f)
}

// startStream runs produce in a goroutine that owns the channel; produce
// sends with the given function (false: ctx ended) and returns why it ended.
func startStream[T any](ctx context.Context, produce func(send func(T) bool) error) *Stream[T] {
	ch := make(chan T)
	st := &Stream[T]{C: ch}
	onEnd, _ := ctx.Value(streamEndKey{}).(func(error))
	hand, _ := ctx.Value(streamSendKey{}).(func(any) bool)
	go func() {
		defer close(ch)
		err := produce(func(v T) bool {
			if hand != nil {
				return hand(v) && ctx.Err() == nil
			}
			select {
			case ch <- v:
				return true
			case <-ctx.Done():
				return false
			}
		})
		if ctx.Err() == nil {
			st.err = err
		}
		if onEnd != nil {
			onEnd(st.err)
		}
	}()
	return st
}

// Reads of a running subscription are retried this often, with backoff
// doubling from readBackoff (0.1+0.2+0.4+0.8 s), before the subscription ends
// with an error: a database failover or a dropped connection is survived,
// an outage is reported instead of waited out in silence.
const (
	readAttempts = 5
	readBackoff  = 100 * time.Millisecond
)

// retryRead runs read until it succeeds, ctx ends, it fails with a domain
// error or a not-found (both final), or it failed readAttempts times.
func (s *Service) retryRead(ctx context.Context, what string, read func() error) error {
	backoff := readBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = read(); err == nil || ctx.Err() != nil {
			return err
		}
		var de *Error
		if errors.As(err, &de) || ent.IsNotFound(err) || attempt == readAttempts {
			break
		}
		s.log.DebugContext(ctx, "subscription read failed; retrying", "what", what, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return fmt.Errorf("%s: %w", what, err)
}

// sessionGuard ends a subscription when the session it was opened with
// ends (logout, idle expiry) or its user's roles change. It hears logouts
// and claimed stalls at once through the user's topic (from any instance)
// and checks the clock every SessionCheck: a session that slid with other
// use meanwhile is read again at its old expiry and lives on. Anonymous
// subscriptions have no guard (nil), whose channels never fire.
type sessionGuard struct {
	s       *Service
	a       *Actor
	sub     events.Subscription
	tick    *time.Ticker
	expires time.Time
	read    time.Time // when the session was last read
}

// sessionRecheck bounds how long a guard trusts its last read, so roles
// changed without an event (by hand in the database) end subscriptions too.
const sessionRecheck = 5 * time.Minute

func (s *Service) guardSession(a *Actor) *sessionGuard {
	if a == nil {
		return nil
	}
	return &sessionGuard{
		s:       s,
		a:       a,
		sub:     s.broker.Subscribe(UserTopic(a.UserID)),
		tick:    time.NewTicker(s.cfg.SessionCheck),
		expires: a.ExpiresAt,
		read:    s.now(),
	}
}

func (g *sessionGuard) close() {
	if g != nil {
		g.sub.Close()
		g.tick.Stop()
	}
}

func (g *sessionGuard) events() <-chan events.Event {
	if g == nil {
		return nil
	}
	return g.sub.Events()
}

func (g *sessionGuard) lagged() <-chan struct{} {
	if g == nil {
		return nil
	}
	return g.sub.Lagged()
}

func (g *sessionGuard) ticks() <-chan time.Time {
	if g == nil {
		return nil
	}
	return g.tick.C
}

// due reports whether the clock says the session must be read again.
func (g *sessionGuard) due() bool {
	now := g.s.now()
	return !now.Before(g.expires) || now.Sub(g.read) >= sessionRecheck
}

// poll reports, without waiting, whether the session must be read again:
// the user's topic said so, or the clock.
func (g *sessionGuard) poll() bool {
	select {
	case <-g.sub.Events():
		return true
	case <-g.sub.Lagged():
		return true
	default:
		return g.due()
	}
}

// check reads the session again: an error ends the subscription.
func (g *sessionGuard) check(ctx context.Context) error {
	var cur *Actor
	err := g.s.retryRead(ctx, "checking the session", func() (err error) {
		cur, _, err = g.s.session(ctx, entsql.EQ(entsql.Table(session.Table).As("s").C(session.FieldID), g.a.SessionID))
		return err
	})
	if err != nil {
		return err
	}
	if cur == nil {
		return Errorf(CodeUnauthenticated, "the session ended (logged out or expired); log in again and resubscribe")
	}
	if cur.SellerID != g.a.SellerID || cur.Admin != g.a.Admin {
		return Errorf(CodeUnauthenticated, "the account's roles changed; subscribe again")
	}
	g.expires, g.read = cur.ExpiresAt, g.s.now()
	return nil
}
