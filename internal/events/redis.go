package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures a Redis broker.
type RedisOptions struct {
	// Prefix of Redis channel names, default "callme:".
	Prefix string
	// Buffer per local subscriber (default 64) and publish queue length
	// (default 1024).
	Buffer, QueueLen int
	// Hydrate turns an event received from another instance (Topic and Seq
	// only; Payload nil) into one with a Payload, e.g. by loading the call
	// from the database. It is called at most once per received event per
	// instance, no matter how many local subscribers, in the receive
	// goroutine with a 2s timeout; only the Payload of its result is used.
	// nil means deliver as is. On error the event is delivered with a nil
	// Payload (subscribers treat it as a hint).
	Hydrate func(ctx context.Context, ev Event) (Event, error)
	// HealthCheck is how long the subscription connection may stay silent
	// before it is pinged; no reply within another HealthCheck means the
	// connection is dead (a half-open TCP connection, say) and it is
	// reconnected. Default 10s.
	HealthCheck time.Duration
	Logger      *slog.Logger
}

// RedisStats are counters since NewRedis.
type RedisStats struct {
	// Published counts wire messages Redis accepted; PublishDropped those
	// dropped because the queue was full, Redis failed or the broker was closed.
	Published, PublishDropped int64
	// Received counts messages from other instances (own echoes excluded).
	Received int64
	// Delivered counts events handed to local subscribers (local publishes
	// and received ones); DeliveryDropped those dropped because a local
	// subscriber's buffer was full (it was signalled Lagged).
	Delivered, DeliveryDropped int64
	// Reconnects counts recoveries of the subscription connection after an
	// error; each one signals Lagged to every local subscriber.
	Reconnects int64
}

const (
	redisHydrateTimeout = 2 * time.Second
	redisOpTimeout      = 2 * time.Second
	// redisSubscribeWait bounds how long Subscribe waits for Redis to confirm
	// a new channel subscription.
	redisSubscribeWait = 3 * time.Second
	redisHealthPayload = "callme-health"
	// lagChannel (after the prefix) carries lag notices: which topics an
	// instance dropped events of. Every instance subscribes to it.
	lagChannel = "broker:lagged"
	// lagRetry is how often a lag notice that could not be published is
	// tried again; maxLagTopics bounds a notice (beyond: every topic).
	lagRetry     = time.Second
	maxLagTopics = 1000
)

// Redis is a Broker for several server instances sharing one Redis: events
// published on one instance reach the subscribers of all of them.
//
// Only the topic and seq travel through Redis ({"i": instance, "s": seq} on
// channel Prefix+topic); the payload is restored on the receiving side by
// RedisOptions.Hydrate. Local subscribers of the publishing instance get the
// event immediately, with its payload. Each instance holds one Redis
// subscription per topic with local subscribers, on one connection.
//
// Delivery stays best effort, but a loss is never silent. When the
// subscription connection breaks, every local subscriber is signalled Lagged
// once it is back, since events of other instances published meanwhile are
// lost. When an event of this instance cannot be sent (the publish queue is
// full, PUBLISH fails), its topic is remembered, and as soon as Redis takes
// a message again a lag notice on Prefix+"broker:lagged" names those topics:
// the other instances signal their subscribers of them Lagged.
type Redis struct {
	client  *redis.Client
	ps      *redis.PubSub
	prefix  string
	buffer  int
	hydrate func(ctx context.Context, ev Event) (Event, error)
	health  time.Duration
	log     *slog.Logger
	id      string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	queue  chan wireOut
	kick   chan struct{} // wakes the subscription reconciler

	mu      sync.RWMutex
	topics  map[string]*redisTopic   // topics with local subscribers
	pending map[string][]*redisTopic // barrier ping token -> topics it confirms
	closed  bool
	// down is closed when an outage starts (so Subscribe stops waiting for a
	// confirmation) and replaced when it ends.
	down chan struct{}

	// outage is set when an operation on the subscription connection fails;
	// the next message received clears it and counts a reconnect.
	outage atomic.Bool
	token  atomic.Uint64

	// dropped are the topics of events not sent to Redis since the last lag
	// notice; droppedAll means too many to list.
	dropMu     sync.Mutex
	dropped    map[string]struct{}
	droppedAll bool

	published, publishDropped, received, delivered, deliveryDropped, reconnects atomic.Int64
}

type wireOut struct {
	topic string
	seq   int64
}

// wireMsg is what travels through Redis: an event's seq, or on the lag
// channel the topics an instance dropped events of (All: every topic).
type wireMsg struct {
	Instance string   `json:"i"`
	Seq      int64    `json:"s,omitempty"`
	Lagged   []string `json:"l,omitempty"`
	All      bool     `json:"a,omitempty"`
}

type redisTopic struct {
	subs map[*redisSub]struct{}
	// ready is closed once Redis confirmed the subscription (a PING sent
	// after SUBSCRIBE came back); readyDone and pinged are guarded by mu.
	ready     chan struct{}
	readyDone bool
	pinged    bool
}

func (t *redisTopic) markReady() {
	if !t.readyDone {
		t.readyDone = true
		close(t.ready)
	}
}

// NewRedis starts a broker on client. Close stops it; the client stays open.
func NewRedis(client *redis.Client, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "callme:"
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 64
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 1024
	}
	if opts.HealthCheck <= 0 {
		opts.HealthCheck = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	r := &Redis{
		client:  client,
		prefix:  opts.Prefix,
		buffer:  opts.Buffer,
		hydrate: opts.Hydrate,
		health:  opts.HealthCheck,
		id:      hex.EncodeToString(id[:]),
		ctx:     ctx,
		cancel:  cancel,
		queue:   make(chan wireOut, opts.QueueLen),
		kick:    make(chan struct{}, 1),
		topics:  make(map[string]*redisTopic),
		pending: make(map[string][]*redisTopic),
		down:    make(chan struct{}),
		dropped: make(map[string]struct{}),
	}
	r.log = opts.Logger.With("component", "events.redis", "instance", r.id)
	// An empty PubSub; channels are added as local subscribers arrive.
	r.ps = client.Subscribe(ctx)
	r.wg.Add(3)
	go r.publishLoop()
	go r.receiveLoop()
	go r.reconcileLoop()
	r.wake() // subscribes the lag channel
	return r
}

// Publish delivers ev to this instance's subscribers at once and queues it
// for the other instances. It never blocks: when the queue is full the wire
// message is dropped (and counted).
func (r *Redis) Publish(ev Event) {
	r.deliver(ev)
	if r.ctx.Err() != nil {
		r.publishDropped.Add(1)
		return
	}
	select {
	case r.queue <- wireOut{topic: ev.Topic, seq: ev.Seq}:
	default:
		r.publishDropped.Add(1)
		r.markDropped(ev.Topic)
	}
}

// markDropped remembers that an event of topic never reached Redis.
func (r *Redis) markDropped(topic string) {
	r.dropMu.Lock()
	defer r.dropMu.Unlock()
	if r.droppedAll {
		return
	}
	r.dropped[topic] = struct{}{}
	if len(r.dropped) > maxLagTopics {
		r.droppedAll = true
		clear(r.dropped)
	}
}

// takeDropped returns the lag notice owed, if any, and forgets it.
func (r *Redis) takeDropped() (wireMsg, bool) {
	r.dropMu.Lock()
	defer r.dropMu.Unlock()
	if len(r.dropped) == 0 && !r.droppedAll {
		return wireMsg{}, false
	}
	m := wireMsg{Instance: r.id, All: r.droppedAll}
	for topic := range r.dropped {
		m.Lagged = append(m.Lagged, topic)
	}
	clear(r.dropped)
	r.droppedAll = false
	return m, true
}

func (r *Redis) owesLagNotice() bool {
	r.dropMu.Lock()
	defer r.dropMu.Unlock()
	return len(r.dropped) > 0 || r.droppedAll
}

// sendLagNotice publishes the lag notice owed; on failure it stays owed.
func (r *Redis) sendLagNotice() {
	m, ok := r.takeDropped()
	if !ok {
		return
	}
	data, err := json.Marshal(m)
	if err == nil {
		ctx, cancel := context.WithTimeout(r.ctx, redisOpTimeout)
		err = r.client.Publish(ctx, r.prefix+lagChannel, data).Err()
		cancel()
	}
	if err != nil {
		if m.All {
			r.dropMu.Lock()
			r.droppedAll = true
			clear(r.dropped)
			r.dropMu.Unlock()
		}
		for _, topic := range m.Lagged {
			r.markDropped(topic)
		}
		return
	}
	r.log.Info("told other instances which topics lost events", "topics", len(m.Lagged), "all", m.All)
}

// Subscribe starts receiving events of topic from every instance. The first
// local subscriber of a topic subscribes the Redis channel; Subscribe waits
// (a few seconds at most) for Redis to confirm it, unless Redis is known to
// be unreachable, in which case the subscriber is signalled Lagged once the
// connection is back.
func (r *Redis) Subscribe(topic string) Subscription {
	s := &redisSub{
		r:      r,
		topic:  topic,
		ch:     make(chan Event, r.buffer),
		lagged: make(chan struct{}, 1),
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return s
	}
	t := r.topics[topic]
	if t == nil {
		t = &redisTopic{subs: make(map[*redisSub]struct{}), ready: make(chan struct{})}
		r.topics[topic] = t
	}
	t.subs[s] = struct{}{}
	s.t = t
	ready, done, down := t.ready, t.readyDone, r.down
	r.mu.Unlock()
	if done {
		return s
	}
	r.wake()
	timer := time.NewTimer(redisSubscribeWait)
	defer timer.Stop()
	select {
	case <-ready:
	case <-down:
		// Lagged follows when the connection is back.
	case <-timer.C:
		r.log.Warn("redis subscription not confirmed in time", "topic", topic)
	case <-r.ctx.Done():
	}
	return s
}

// Ping checks that Redis answers (for readiness probes).
func (r *Redis) Ping(ctx context.Context) error {
	return r.client.Ping(ctx).Err()
}

// Close stops the broker's goroutines and closes its Redis subscription. It
// does not close the client. Queued wire messages are dropped; existing
// subscriptions stop receiving. It is safe to call more than once.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	err := r.ps.Close()
	r.wg.Wait()
	if errors.Is(err, redis.ErrClosed) {
		err = nil
	}
	return err
}

// Stats returns the broker's counters.
func (r *Redis) Stats() RedisStats {
	return RedisStats{
		Published:       r.published.Load(),
		PublishDropped:  r.publishDropped.Load(),
		Received:        r.received.Load(),
		Delivered:       r.delivered.Load(),
		DeliveryDropped: r.deliveryDropped.Load(),
		Reconnects:      r.reconnects.Load(),
	}
}

// deliver fans ev out to the local subscribers of its topic without blocking.
func (r *Redis) deliver(ev Event) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := r.topics[ev.Topic]
	if t == nil {
		return
	}
	for s := range t.subs {
		select {
		case s.ch <- ev:
			r.delivered.Add(1)
		default:
			r.deliveryDropped.Add(1)
			s.lag()
		}
	}
}

func (r *Redis) hasSubscribers(topic string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.topics[topic] != nil
}

func (r *Redis) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// connectionTrouble records a failure on the subscription connection,
// logging only the first one of an outage.
func (r *Redis) connectionTrouble(op string, err error) {
	if r.ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.outage.Swap(true) {
		close(r.down)
		r.log.Warn("redis subscription connection failed", "op", op, "err", err)
	}
}

// publishLoop sends queued wire messages, one at a time.
func (r *Redis) publishLoop() {
	defer r.wg.Done()
	failing := false
	for {
		var retry <-chan time.Time
		if r.owesLagNotice() {
			retry = time.After(lagRetry)
		}
		var m wireOut
		select {
		case <-r.ctx.Done():
			return
		case <-retry:
			r.sendLagNotice()
			continue
		case m = <-r.queue:
		}
		data, err := json.Marshal(wireMsg{Instance: r.id, Seq: m.seq})
		if err == nil {
			ctx, cancel := context.WithTimeout(r.ctx, redisOpTimeout)
			err = r.client.Publish(ctx, r.prefix+m.topic, data).Err()
			cancel()
		}
		if err != nil {
			r.publishDropped.Add(1)
			r.markDropped(m.topic)
			if !failing && r.ctx.Err() == nil {
				failing = true
				r.log.Warn("redis publish failed; dropping events until it recovers", "topic", m.topic, "err", err)
			}
			continue
		}
		r.published.Add(1)
		if failing {
			failing = false
			r.log.Info("redis publish recovered")
		}
		r.sendLagNotice()
	}
}

// reconcileLoop makes the Redis channel subscriptions follow the topics that
// have local subscribers. Being the only goroutine that subscribes and
// unsubscribes, it orders those commands as the local state changes, so a
// subscriber arriving while the last one leaves cannot end up unsubscribed.
func (r *Redis) reconcileLoop() {
	defer r.wg.Done()
	subscribed := make(map[string]bool) // topics as sent to Redis
	lagSubscribed := false
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
		}
		var add, remove []string
		if !lagSubscribed {
			// go-redis keeps it in its channel set even if this fails.
			add, lagSubscribed = append(add, r.prefix+lagChannel), true
		}
		var barrier []*redisTopic
		token := r.id + ":" + strconv.FormatUint(r.token.Add(1), 10)
		r.mu.Lock()
		for topic, t := range r.topics {
			if !subscribed[topic] {
				add = append(add, r.prefix+topic)
				subscribed[topic] = true
			}
			if !t.readyDone && !t.pinged {
				t.pinged = true
				barrier = append(barrier, t)
			}
		}
		for topic := range subscribed {
			if r.topics[topic] == nil {
				remove = append(remove, r.prefix+topic)
				delete(subscribed, topic)
			}
		}
		if len(barrier) > 0 {
			r.pending[token] = barrier
		}
		r.mu.Unlock()

		// go-redis records the channel set even when a command fails and
		// restores it on reconnect, so the bookkeeping above holds either way.
		ctx, cancel := context.WithTimeout(r.ctx, redisOpTimeout)
		if len(remove) > 0 {
			if err := r.ps.Unsubscribe(ctx, remove...); err != nil {
				r.connectionTrouble("unsubscribe", err)
			}
		}
		if len(add) > 0 {
			if err := r.ps.Subscribe(ctx, add...); err != nil {
				r.connectionTrouble("subscribe", err)
			}
		}
		if len(barrier) > 0 {
			// Redis answers in order: the reply to this PING means the
			// SUBSCRIBEs before it are in effect.
			if err := r.ps.Ping(ctx, token); err != nil {
				r.connectionTrouble("ping", err)
			}
		}
		cancel()
	}
}

// receiveLoop reads the subscription connection: messages, subscription
// confirmations and pongs. go-redis reconnects and resubscribes by itself
// after an error; the first successful read after one counts a reconnect.
func (r *Redis) receiveLoop() {
	defer r.wg.Done()
	pingSent := false
	backoff := time.Duration(0)
	for {
		if r.ctx.Err() != nil {
			return
		}
		var msg any
		var err error
		if pingSent {
			// A zero timeout with a context deadline makes go-redis treat a
			// timeout as a broken connection and reconnect.
			ctx, cancel := context.WithTimeout(r.ctx, r.health)
			msg, err = r.ps.ReceiveTimeout(ctx, 0)
			cancel()
		} else {
			msg, err = r.ps.ReceiveTimeout(r.ctx, r.health)
		}
		if err != nil {
			if r.ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			var ne net.Error
			if !pingSent && errors.As(err, &ne) && ne.Timeout() {
				// Silent for a while: ask for a sign of life.
				ctx, cancel := context.WithTimeout(r.ctx, redisOpTimeout)
				perr := r.ps.Ping(ctx, redisHealthPayload)
				cancel()
				if perr == nil {
					pingSent = true
					continue
				}
				err = perr
			}
			pingSent = false
			r.connectionTrouble("receive", err)
			backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		pingSent = false
		backoff = 0
		if r.outage.Load() {
			r.reconnected()
		}
		switch m := msg.(type) {
		case *redis.Message:
			r.handleMessage(m)
		case *redis.Pong:
			r.mu.Lock()
			for _, t := range r.pending[m.Payload] {
				t.markReady()
			}
			delete(r.pending, m.Payload)
			r.mu.Unlock()
		case *redis.Subscription:
			// Confirmations; barrier pings tell when they are in effect.
		}
	}
}

// reconnected tells every local subscriber to catch up, since events of
// other instances published during the outage were lost, and has barrier
// pings lost with the old connection sent again.
func (r *Redis) reconnected() {
	r.reconnects.Add(1)
	r.mu.Lock()
	r.outage.Store(false)
	r.down = make(chan struct{})
	n := 0
	for _, t := range r.topics {
		for s := range t.subs {
			s.lag()
			n++
		}
		if !t.readyDone {
			t.pinged = false
		}
	}
	clear(r.pending)
	r.mu.Unlock()
	r.wake()
	r.log.Info("redis subscription connection restored; subscribers told to catch up", "subscribers", n)
}

func (r *Redis) handleMessage(m *redis.Message) {
	topic, ok := strings.CutPrefix(m.Channel, r.prefix)
	if !ok {
		return
	}
	var w wireMsg
	if err := json.Unmarshal([]byte(m.Payload), &w); err != nil {
		r.log.Warn("ignoring malformed redis event", "topic", topic, "err", err)
		return
	}
	if w.Instance == r.id {
		return // our own, already delivered locally
	}
	if topic == lagChannel {
		r.lagTopics(w)
		return
	}
	r.received.Add(1)
	if !r.hasSubscribers(topic) {
		return
	}
	ev := Event{Topic: topic, Seq: w.Seq}
	if r.hydrate != nil {
		ctx, cancel := context.WithTimeout(r.ctx, redisHydrateTimeout)
		h, err := r.hydrate(ctx, ev)
		cancel()
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.log.Warn("hydrating event failed; delivering it without payload", "topic", topic, "seq", w.Seq, "err", err)
		} else {
			ev.Payload = h.Payload
		}
	}
	r.deliver(ev)
}

// lagTopics signals Lagged to the local subscribers of the topics another
// instance dropped events of.
func (r *Redis) lagTopics(w wireMsg) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	lag := func(t *redisTopic) {
		for s := range t.subs {
			s.lag()
		}
	}
	if w.All {
		for _, t := range r.topics {
			lag(t)
		}
		return
	}
	for _, topic := range w.Lagged {
		if t := r.topics[topic]; t != nil {
			lag(t)
		}
	}
}

type redisSub struct {
	r      *Redis
	t      *redisTopic
	topic  string
	ch     chan Event
	lagged chan struct{}
	once   sync.Once
}

func (s *redisSub) Events() <-chan Event    { return s.ch }
func (s *redisSub) Lagged() <-chan struct{} { return s.lagged }

func (s *redisSub) lag() {
	select {
	case s.lagged <- struct{}{}:
	default: // already told
	}
}

func (s *redisSub) Close() {
	s.once.Do(func() {
		if s.t == nil {
			return // subscribed after the broker closed
		}
		r := s.r
		r.mu.Lock()
		delete(s.t.subs, s)
		last := len(s.t.subs) == 0 && r.topics[s.topic] == s.t
		if last {
			delete(r.topics, s.topic)
		}
		r.mu.Unlock()
		if last {
			r.wake()
		}
	})
}
