package canteen

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"callme/ent"
	"callme/ent/seller"
	"callme/internal/events"

	entgo "entgo.io/ent"
)

// PublicTopic carries "what anyone may read of the stalls changed": a stall's
// row (name, open, paid until, photo, …) or its menu was written, or a stall
// was added or removed. The event has no payload.
const PublicTopic = "public"

// QueuesTopic carries "a ticket or a call changed": what a public read shows
// of the stalls' queues (waitingCount, lastCalled) may have changed.
const QueuesTopic = "public:queues"

// PublicVersions counts the changes to what public reads show, on this
// instance and, through the broker, on the others. A cache of public answers
// (package graph) keeps the versions an answer was read at and serves it only
// while they are unchanged.
type PublicVersions struct {
	Stalls uint64 // stalls and menus (PublicTopic)
	Queues uint64 // tickets and calls (QueuesTopic)
}

// publicVersions is PublicVersions as it changes. A write on this instance
// bumps it inside its commit, before the mutation returns; other instances'
// writes bump it when their event arrives: drained by RunPublicChanges, and
// by every read of the versions, so that tests and instances without the
// background loop see them too. A broker that lost events bumps it as well.
type publicVersions struct {
	stalls, queues       atomic.Uint64
	stallsSub, queuesSub events.Subscription
}

func newPublicVersions(broker events.Broker) *publicVersions {
	return &publicVersions{stallsSub: broker.Subscribe(PublicTopic), queuesSub: broker.Subscribe(QueuesTopic)}
}

// drain applies the events that arrived, without waiting.
func (p *publicVersions) drain() {
	for {
		select {
		case <-p.stallsSub.Events():
			p.stalls.Add(1)
		case <-p.stallsSub.Lagged():
			p.stalls.Add(1)
		case <-p.queuesSub.Events():
			p.queues.Add(1)
		case <-p.queuesSub.Lagged():
			p.queues.Add(1)
		default:
			return
		}
	}
}

// PublicVersions returns the current versions.
func (s *Service) PublicVersions() PublicVersions {
	s.public.drain()
	return PublicVersions{Stalls: s.public.stalls.Load(), Queues: s.public.queues.Load()}
}

// RunPublicChanges applies other instances' events as they arrive, so that
// their subscriptions never fill up between reads (a full one counts its
// events as dropped). Runs until ctx ends.
func (s *Service) RunPublicChanges(ctx context.Context) {
	p := s.public
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.stallsSub.Events():
			p.stalls.Add(1)
		case <-p.stallsSub.Lagged():
			p.stalls.Add(1)
		case <-p.queuesSub.Events():
			p.queues.Add(1)
		case <-p.queuesSub.Lagged():
			p.queues.Add(1)
		}
	}
}

// notPublic are the seller columns no public read shows: counters that
// change on every call, and secrets. Writing only these tells nobody.
var notPublic = []string{seller.FieldCallSeq, seller.FieldInviteHash}

// publicChanges is an ent hook on sellers and menu items that, once a write
// to them commits, bumps the stalls version and publishes on PublicTopic for
// the other instances. It sits on the ent client, not in the service
// methods, so that no path that writes a stall (setOpen, setMenu,
// updateSeller, a content review reverting a name, renewals, …) can forget
// it, including those added later. It runs inside Commit: once setOpen has
// returned, no read on this instance sees the version it replaced.
func publicChanges(broker events.Broker, v *atomic.Uint64) ent.Hook {
	return onCommit(broker, PublicTopic, v, touchesPublic)
}

// queueChanges is publicChanges for tickets and call events (a fetch, a
// call, any transition): the queues version, QueuesTopic.
func queueChanges(broker events.Broker, v *atomic.Uint64) ent.Hook {
	return onCommit(broker, QueuesTopic, v, func(ent.Mutation) bool { return true })
}

// onCommit bumps v and publishes on topic once a mutation for which touches
// is true commits (at once, outside a transaction).
func onCommit(broker events.Broker, topic string, v *atomic.Uint64, touches func(ent.Mutation) bool) ent.Hook {
	changed := announce(broker, topic, v)
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			val, err := next.Mutate(ctx, m)
			if err != nil || !touches(m) {
				return val, err
			}
			if txm, ok := m.(interface{ Tx() (*ent.Tx, error) }); ok {
				if tx, terr := txm.Tx(); terr == nil {
					afterCommit(tx, changed)
					return val, err
				}
			}
			changed() // outside a transaction: already written
			return val, err
		})
	}
}

// announce returns what a committed change does: v moves on here, and the
// other instances hear of it on topic.
func announce(broker events.Broker, topic string, v *atomic.Uint64) func() {
	return func() {
		v.Add(1)
		broker.Publish(events.Event{Topic: topic})
	}
}

// afterCommit runs f once tx has committed, inside Commit.
func afterCommit(tx *ent.Tx, f func()) {
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				f()
			}
			return err
		})
	})
}

// queuesWritten does for a ticket written with hand-written SQL (the fast
// fetch's INSERT, which ent's hooks do not see) what queueChanges does for
// ent's writes: once tx commits, the queues version moves on here and the
// other instances hear of it.
func (s *Service) queuesWritten(tx *txn) {
	if s.public == nil {
		return // no broker: nothing caches public reads
	}
	afterCommit(tx.Tx, announce(s.broker, QueuesTopic, &s.public.queues))
}

// touchesPublic reports whether m writes anything a public read shows.
func touchesPublic(m ent.Mutation) bool {
	if m.Type() != ent.TypeSeller || !m.Op().Is(entgo.OpUpdate|entgo.OpUpdateOne) {
		return true // menu items, and stalls created or deleted
	}
	for _, fields := range [][]string{m.Fields(), m.AddedFields(), m.ClearedFields()} {
		for _, f := range fields {
			if !slices.Contains(notPublic, f) {
				return true
			}
		}
	}
	return false
}

// Now is the service's clock, for callers that must agree with it on time
// (the response cache bounds an answer by the end of a stall's paid period).
func (s *Service) Now() time.Time { return s.now() }

// DayEnds returns when the current business day ends: what a public read
// shows of the queues (today's waiting tickets, today's last call) changes
// then with no write to announce it.
func (s *Service) DayEnds() time.Time { return s.nextDayStart() }

type callerDecidesKey struct{}

// WatchCaller returns a context in which reads note when their answer
// depends on who asks beyond the viewer class, and a func reporting whether
// one did. A stall whose paid period has ended is hidden from anonymous
// callers but shown to a customer holding a ticket there (visible): the
// response cache keeps no answer that came from such a decision, so that
// none is served to a caller who would be answered otherwise.
func WatchCaller(ctx context.Context) (context.Context, func() bool) {
	var b atomic.Bool
	return context.WithValue(ctx, callerDecidesKey{}, &b), b.Load
}

// callerDecides notes that the answer being read depends on who asks.
func callerDecides(ctx context.Context) {
	if b, ok := ctx.Value(callerDecidesKey{}).(*atomic.Bool); ok {
		b.Store(true)
	}
}
