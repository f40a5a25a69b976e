package canteen

import (
	"context"
	"slices"
	"time"

	"callme/ent"
	"callme/ent/seller"
	"callme/internal/events"

	entgo "entgo.io/ent"
)

// PublicTopic carries "what anyone may read of the stalls changed": a stall's
// row (name, open, paid until, photo, …) or its menu was written, or a stall
// was added or removed. Response caches of public reads (package graph) drop
// what they hold when they hear it. The event has no payload: such changes
// are rare next to reads, and clearing everything needs no bookkeeping.
const PublicTopic = "public"

// QueuesTopic carries "a ticket or a call changed": what a public read shows
// of the stalls' queues (waitingCount, lastCalled) may have changed. Caches
// drop what they hold of queues when they hear it, and keep the rest.
const QueuesTopic = "public:queues"

// notPublic are the seller columns no public read shows: counters that
// change on every call, and secrets. Writing only these tells nobody.
var notPublic = []string{seller.FieldCallSeq, seller.FieldInviteHash}

// publicChanges is an ent hook on sellers and menu items that publishes on
// PublicTopic once a write to them commits. It sits on the ent client, not
// in the service methods, so that no path that writes a stall (setOpen,
// setMenu, updateSeller, a content review reverting a name, renewals, …)
// can forget it, including those added later.
//
// The event is published inside Commit, so on this instance it is delivered
// (events.Broker: local subscribers synchronously) before the mutation's
// resolver returns: a cache that drains its subscription on every lookup
// never answers from before setOpen once setOpen has returned.
//
// On tickets and call events it publishes on QueuesTopic instead, the same
// way: a fetch, a call, any transition.
func publicChanges(broker events.Broker) ent.Hook {
	return onCommit(broker, PublicTopic, touchesPublic)
}

func queueChanges(broker events.Broker) ent.Hook {
	return onCommit(broker, QueuesTopic, func(ent.Mutation) bool { return true })
}

// onCommit publishes on topic once a mutation for which touches is true
// commits (at once, outside a transaction).
func onCommit(broker events.Broker, topic string, touches func(ent.Mutation) bool) ent.Hook {
	publish := func() { broker.Publish(events.Event{Topic: topic}) }
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			if err != nil || !touches(m) {
				return v, err
			}
			if txm, ok := m.(interface{ Tx() (*ent.Tx, error) }); ok {
				if tx, terr := txm.Tx(); terr == nil {
					tx.OnCommit(func(next ent.Committer) ent.Committer {
						return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
							err := next.Commit(ctx, tx)
							if err == nil {
								publish()
							}
							return err
						})
					})
					return v, err
				}
			}
			publish() // outside a transaction: already written
			return v, err
		})
	}
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

// PublicChanges subscribes to PublicTopic, and queues to QueuesTopic.
func (s *Service) PublicChanges() (stalls, queues events.Subscription) {
	return s.broker.Subscribe(PublicTopic), s.broker.Subscribe(QueuesTopic)
}

// DayEnds returns when the current business day ends: what a public read
// shows of the queues (today's waiting tickets, today's last call) changes
// then with no write to announce it.
func (s *Service) DayEnds() time.Time { return s.nextDayStart() }
