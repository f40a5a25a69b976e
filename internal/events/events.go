// Package events carries "something changed" notices from the code that
// commits a change to the subscriptions that show it.
//
// Delivery is best effort by design: Publish never blocks, so one slow phone
// can never hold up a call. A subscriber that falls behind loses events but is
// told so (Lagged), and the database is the source of truth it catches up
// from (calls by seq, tickets by version). Events are hints; they carry a
// snapshot so the common case needs no database read.
package events

import (
	"sync"
	"sync/atomic"
)

// Event is one notice on a topic.
type Event struct {
	Topic string
	// Seq orders events of a topic where the producer has an order (call seq,
	// ticket version); subscribers use it to drop duplicates and find gaps.
	Seq int64
	// Payload is a snapshot of the changed object. Treat it as read-only: it
	// is shared by every subscriber.
	Payload any
}

// Broker fans events out to subscribers of a topic.
type Broker interface {
	// Publish delivers ev to the current subscribers of ev.Topic without
	// blocking.
	Publish(ev Event)
	// Subscribe starts receiving events of topic until the subscription is closed.
	Subscribe(topic string) Subscription
}

// Subscription is one subscriber's view of a topic.
type Subscription interface {
	// Events delivers events in publish order.
	Events() <-chan Event
	// Lagged fires when events were dropped because the subscriber was too
	// slow; the subscriber must catch up from the source of truth.
	Lagged() <-chan struct{}
	// Close stops delivery. It is safe to call more than once.
	Close()
}

// Local is the in-process broker: enough for one instance, and the default.
type Local struct {
	mu     sync.RWMutex
	topics map[string]map[*localSub]struct{}
	buffer int

	published, delivered, dropped atomic.Uint64
}

// LocalStats counts events since start.
type LocalStats struct {
	Published uint64 // events published
	Delivered uint64 // copies handed to subscribers
	Dropped   uint64 // copies dropped for lagging subscribers (they catch up from the database)
}

// Stats returns the broker's counters.
func (b *Local) Stats() LocalStats {
	return LocalStats{Published: b.published.Load(), Delivered: b.delivered.Load(), Dropped: b.dropped.Load()}
}

// NewLocal returns an in-process broker whose subscribers buffer up to buffer
// events before they count as lagging.
func NewLocal(buffer int) *Local {
	if buffer <= 0 {
		buffer = 64
	}
	return &Local{topics: make(map[string]map[*localSub]struct{}), buffer: buffer}
}

func (b *Local) Publish(ev Event) {
	b.published.Add(1)
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.topics[ev.Topic] {
		select {
		case s.ch <- ev:
			b.delivered.Add(1)
		default:
			b.dropped.Add(1)
			select {
			case s.lagged <- struct{}{}:
			default: // already told
			}
		}
	}
}

func (b *Local) Subscribe(topic string) Subscription {
	s := &localSub{
		b:      b,
		topic:  topic,
		ch:     make(chan Event, b.buffer),
		lagged: make(chan struct{}, 1),
	}
	b.mu.Lock()
	m := b.topics[topic]
	if m == nil {
		m = make(map[*localSub]struct{})
		b.topics[topic] = m
	}
	m[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Subscribers counts the subscribers of topic (for tests and metrics).
func (b *Local) Subscribers(topic string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.topics[topic])
}

type localSub struct {
	b      *Local
	topic  string
	ch     chan Event
	lagged chan struct{}
	once   sync.Once
}

func (s *localSub) Events() <-chan Event    { return s.ch }
func (s *localSub) Lagged() <-chan struct{} { return s.lagged }

func (s *localSub) Close() {
	s.once.Do(func() {
		s.b.mu.Lock()
		m := s.b.topics[s.topic]
		delete(m, s)
		if len(m) == 0 {
			delete(s.b.topics, s.topic)
		}
		s.b.mu.Unlock()
	})
}
