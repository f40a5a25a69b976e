package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

const waitLong = 10 * time.Second

// redisTestOptions returns the options of the test Redis, or skips the test.
func redisTestOptions(t *testing.T) *redis.Options {
	t.Helper()
	url := os.Getenv("CALLME_TEST_REDIS_URL")
	if url == "" {
		t.Skip("CALLME_TEST_REDIS_URL not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("CALLME_TEST_REDIS_URL: %v", err)
	}
	return opt
}

func newTestClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix is a channel prefix of its own, so tests never see each other.
func testPrefix(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "callme-test:" + hex.EncodeToString(b[:]) + ":"
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestRedis(t *testing.T, c *redis.Client, opts RedisOptions) *Redis {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	r := NewRedis(c, opts)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func recvEvent(t *testing.T, sub Subscription, what string) Event {
	t.Helper()
	select {
	case ev := <-sub.Events():
		return ev
	case <-time.After(waitLong):
		t.Fatalf("%s: no event within %v", what, waitLong)
		return Event{}
	}
}

func waitLagged(t *testing.T, sub Subscription, what string) {
	t.Helper()
	select {
	case <-sub.Lagged():
	case <-time.After(waitLong):
		t.Fatalf("%s: no Lagged signal within %v", what, waitLong)
	}
}

// eventually polls cond until it holds or the bounded wait ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLong)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func numSub(t *testing.T, c *redis.Client, channel string) int64 {
	t.Helper()
	n, err := c.PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB: %v", err)
	}
	return n[channel]
}

type payload struct{ from string }

func TestRedisDeliversAcrossInstances(t *testing.T) {
	opt := redisTestOptions(t)
	errHydrate := errors.New("database down")
	tests := []struct {
		name    string
		hydrate func(context.Context, Event) (Event, error)
		want    func(seq int64) any // payload B's subscribers see
	}{
		{
			name: "hydrated",
			hydrate: func(_ context.Context, ev Event) (Event, error) {
				ev.Payload = fmt.Sprintf("hydrated-%d", ev.Seq)
				return ev, nil
			},
			want: func(seq int64) any { return fmt.Sprintf("hydrated-%d", seq) },
		},
		{
			name: "hydrate fails on odd seqs",
			hydrate: func(_ context.Context, ev Event) (Event, error) {
				if ev.Seq%2 == 1 {
					return ev, errHydrate
				}
				ev.Payload = fmt.Sprintf("hydrated-%d", ev.Seq)
				return ev, nil
			},
			want: func(seq int64) any {
				if seq%2 == 1 {
					return nil
				}
				return fmt.Sprintf("hydrated-%d", seq)
			},
		},
		{
			name: "no hydrate",
			want: func(int64) any { return nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testPrefix(t)
			const topic, n = "seller:1", 20

			var mu sync.Mutex
			calls := map[int64]int{}
			var hydrate func(context.Context, Event) (Event, error)
			if tc.hydrate != nil {
				hydrate = func(ctx context.Context, ev Event) (Event, error) {
					mu.Lock()
					calls[ev.Seq]++
					mu.Unlock()
					if ev.Payload != nil {
						t.Errorf("hydrate got a payload from the wire: %v", ev.Payload)
					}
					return tc.hydrate(ctx, ev)
				}
			}
			a := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
			b := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix, Hydrate: hydrate})

			own := a.Subscribe(topic)
			defer own.Close()
			var onB []Subscription
			for range 3 {
				s := b.Subscribe(topic)
				defer s.Close()
				onB = append(onB, s)
			}

			sent := map[int64]*payload{}
			for seq := int64(1); seq <= n; seq++ {
				p := &payload{from: "a"}
				sent[seq] = p
				a.Publish(Event{Topic: topic, Seq: seq, Payload: p})
			}
			for i, s := range onB {
				for seq := int64(1); seq <= n; seq++ {
					ev := recvEvent(t, s, fmt.Sprintf("B subscriber %d", i))
					if ev.Topic != topic || ev.Seq != seq {
						t.Fatalf("B subscriber %d: got %s/%d, want %s/%d", i, ev.Topic, ev.Seq, topic, seq)
					}
					if want := tc.want(seq); ev.Payload != want {
						t.Fatalf("B subscriber %d seq %d: payload %v, want %v", i, seq, ev.Payload, want)
					}
				}
			}
			if tc.hydrate != nil {
				mu.Lock()
				for seq := int64(1); seq <= n; seq++ {
					if calls[seq] != 1 {
						t.Errorf("hydrate called %d times for seq %d, want once", calls[seq], seq)
					}
				}
				mu.Unlock()
			}

			// A marker from B reaches A after every echo of A's own events
			// (Redis keeps order on A's connection), so once A sees it, any
			// echo would have been delivered.
			b.Publish(Event{Topic: topic, Seq: 1000})
			for seq := int64(1); seq <= n; seq++ {
				ev := recvEvent(t, own, "A's own subscriber")
				if ev.Seq != seq || ev.Payload != sent[seq] {
					t.Fatalf("A's own subscriber: got seq %d payload %p, want seq %d payload %p", ev.Seq, ev.Payload, seq, sent[seq])
				}
			}
			if ev := recvEvent(t, own, "A's own subscriber"); ev.Seq != 1000 {
				t.Fatalf("A's own subscriber: got seq %d after its own events, want B's marker 1000 (an echo?)", ev.Seq)
			}
			for i, s := range onB {
				if ev := recvEvent(t, s, "B marker"); ev.Seq != 1000 {
					t.Fatalf("B subscriber %d: got seq %d, want 1000", i, ev.Seq)
				}
			}
			eventually(t, "A published everything", func() bool { return a.Stats().Published == n })
			if st := a.Stats(); st.Received != 1 || st.PublishDropped != 0 {
				t.Errorf("A stats %+v: want Received 1 (own echoes ignored), no drops", st)
			}
			if st := b.Stats(); st.Received != n {
				t.Errorf("B stats %+v: want Received %d", st, n)
			}
		})
	}
}

func TestRedisSharesOneSubscriptionPerTopic(t *testing.T) {
	opt := redisTestOptions(t)
	prefix := testPrefix(t)
	admin := newTestClient(t, opt)
	r := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
	const topic = "ticket:1"
	channel := prefix + topic

	subs := []Subscription{r.Subscribe(topic), r.Subscribe(topic), r.Subscribe(topic)}
	// Subscribe returns once Redis confirmed the subscription.
	if got := numSub(t, admin, channel); got != 1 {
		t.Fatalf("NUMSUB with 3 local subscribers = %d, want 1", got)
	}
	subs[0].Close()
	subs[1].Close()
	subs[1].Close() // twice is fine
	if got := numSub(t, admin, channel); got != 1 {
		t.Fatalf("NUMSUB with 1 local subscriber left = %d, want 1", got)
	}
	subs[2].Close()
	eventually(t, "NUMSUB drops to 0", func() bool { return numSub(t, admin, channel) == 0 })

	// Subscribers arriving while the last ones leave, many times over: the
	// topic must end up subscribed exactly when a local subscriber is left.
	const rounds = 50
	var wg sync.WaitGroup
	for range rounds {
		wg.Add(2)
		go func() { defer wg.Done(); r.Subscribe(topic).Close() }()
		go func() { defer wg.Done(); r.Subscribe(topic).Close() }()
	}
	keeper := r.Subscribe(topic)
	defer keeper.Close()
	wg.Wait()
	eventually(t, "NUMSUB is 1 with one subscriber left", func() bool { return numSub(t, admin, channel) == 1 })
	other := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
	other.Publish(Event{Topic: topic, Seq: 7})
	if ev := recvEvent(t, keeper, "keeper"); ev.Seq != 7 {
		t.Fatalf("keeper got seq %d, want 7", ev.Seq)
	}
	keeper.Close()
	eventually(t, "NUMSUB drops to 0 after the race", func() bool { return numSub(t, admin, channel) == 0 })
}

func TestRedisSlowSubscriberLags(t *testing.T) {
	opt := redisTestOptions(t)
	prefix := testPrefix(t)
	const topic, buffer, n = "seller:2", 4, 50
	a := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
	b := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix, Buffer: buffer})
	slow := b.Subscribe(topic) // never reads
	defer slow.Close()
	fast := b.Subscribe(topic)
	defer fast.Close()

	// One at a time, so that only the slow subscriber overflows.
	for seq := int64(1); seq <= n; seq++ {
		a.Publish(Event{Topic: topic, Seq: seq})
		if ev := recvEvent(t, fast, "fast subscriber"); ev.Seq != seq {
			t.Fatalf("fast subscriber: got seq %d, want %d", ev.Seq, seq)
		}
	}
	waitLagged(t, slow, "slow subscriber")
	// The last event may reach the slow subscriber just after the fast one
	// got it; wait for that before making room in its buffer.
	eventually(t, "B counts the drops", func() bool {
		return b.Stats().Delivered+b.Stats().DeliveryDropped == 2*n
	})
	if st := b.Stats(); st.DeliveryDropped != n-buffer || st.Delivered != n+buffer {
		t.Errorf("B stats %+v: want DeliveryDropped %d, Delivered %d", st, n-buffer, n+buffer)
	}
	for seq := int64(1); seq <= buffer; seq++ {
		if ev := recvEvent(t, slow, "slow subscriber's buffer"); ev.Seq != seq {
			t.Fatalf("slow subscriber: got seq %d, want %d", ev.Seq, seq)
		}
	}
	select {
	case <-fast.Lagged():
		t.Fatal("fast subscriber lagged")
	default:
	}
	// The receive loop still runs.
	a.Publish(Event{Topic: topic, Seq: n + 1})
	if ev := recvEvent(t, fast, "fast subscriber"); ev.Seq != n+1 {
		t.Fatalf("fast subscriber: got seq %d, want %d", ev.Seq, n+1)
	}
}

// redisProxy runs an in-process toxiproxy in front of the test Redis.
func redisProxy(t *testing.T, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "redis", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("starting toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

func addToxic(t *testing.T, p *toxiproxy.Proxy, name, typ string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":"downstream","attributes":{"timeout":0}}`, name, typ)
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		t.Fatalf("adding toxic %s: %v", typ, err)
	}
}

func TestRedisOutage(t *testing.T) {
	opt := redisTestOptions(t)
	tests := []struct {
		name        string
		down, up    func(t *testing.T, p *toxiproxy.Proxy)
		healthCheck time.Duration
	}{
		{
			name: "proxy disabled",
			down: func(t *testing.T, p *toxiproxy.Proxy) { p.Stop() },
			up: func(t *testing.T, p *toxiproxy.Proxy) {
				if err := p.Start(); err != nil {
					t.Fatalf("restarting proxy: %v", err)
				}
			},
		},
		{
			name: "connections reset",
			down: func(t *testing.T, p *toxiproxy.Proxy) { addToxic(t, p, "reset", "reset_peer") },
			up: func(t *testing.T, p *toxiproxy.Proxy) {
				if err := p.Toxics.RemoveToxic(context.Background(), "reset"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			// Nothing gets through, nothing is closed: only the health
			// check can tell.
			name: "half-open connection",
			down: func(t *testing.T, p *toxiproxy.Proxy) { addToxic(t, p, "blackhole", "timeout") },
			up: func(t *testing.T, p *toxiproxy.Proxy) {
				if err := p.Toxics.RemoveToxic(context.Background(), "blackhole"); err != nil {
					t.Fatal(err)
				}
			},
			healthCheck: 200 * time.Millisecond,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := testPrefix(t)
			const topic = "seller:3"
			p := redisProxy(t, opt.Addr)
			viaProxy := *opt
			viaProxy.Addr = p.Listen
			viaProxy.DialTimeout = time.Second
			viaProxy.ReadTimeout = time.Second
			viaProxy.WriteTimeout = time.Second

			a := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
			b := newTestRedis(t, newTestClient(t, &viaProxy), RedisOptions{Prefix: prefix, HealthCheck: tc.healthCheck})
			sub := b.Subscribe(topic)
			defer sub.Close()

			a.Publish(Event{Topic: topic, Seq: 1})
			if ev := recvEvent(t, sub, "before the outage"); ev.Seq != 1 {
				t.Fatalf("got seq %d, want 1", ev.Seq)
			}

			tc.down(t, p)
			// Lost for B (with reset_peer, it is what breaks the connection).
			a.Publish(Event{Topic: topic, Seq: 2})
			eventually(t, "B notices the outage", b.outage.Load)

			// Publishing on B during the outage must not block. Another
			// topic, so B's subscriber does not lag from local delivery.
			start := time.Now()
			for i := range 10000 {
				b.Publish(Event{Topic: "other", Seq: int64(i)})
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("10000 Publish calls during the outage took %v", d)
			}

			tc.up(t, p)
			waitLagged(t, sub, "after the outage")
			if st := b.Stats(); st.Reconnects < 1 || st.PublishDropped == 0 {
				t.Errorf("B stats %+v: want Reconnects >= 1 and PublishDropped > 0", st)
			}
			// Live events flow again; drop seq 2 should it have slipped
			// through before the connection broke.
			a.Publish(Event{Topic: topic, Seq: 3})
			for {
				ev := recvEvent(t, sub, "after the outage")
				if ev.Seq == 3 {
					break
				}
				if ev.Seq != 2 {
					t.Fatalf("got seq %d after the outage, want 3", ev.Seq)
				}
			}
			// And B's own publishes reach A again.
			onA := a.Subscribe("from-b")
			defer onA.Close()
			eventually(t, "B publishes again", func() bool {
				b.Publish(Event{Topic: "from-b", Seq: 1})
				select {
				case <-onA.Events():
					return true
				case <-time.After(100 * time.Millisecond):
					return false
				}
			})
		})
	}
}

func TestRedisSubscribeDuringOutageIsBounded(t *testing.T) {
	opt := redisTestOptions(t)
	p := redisProxy(t, opt.Addr)
	viaProxy := *opt
	viaProxy.Addr = p.Listen
	viaProxy.DialTimeout = time.Second
	prefix := testPrefix(t)
	a := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
	b := newTestRedis(t, newTestClient(t, &viaProxy), RedisOptions{Prefix: prefix})
	first := b.Subscribe("t") // the connection is up
	defer first.Close()

	p.Stop()
	start := time.Now()
	sub := b.Subscribe("late")
	defer sub.Close()
	if d := time.Since(start); d > redisSubscribeWait+2*time.Second {
		t.Fatalf("Subscribe during an outage took %v", d)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitLagged(t, sub, "subscriber added during the outage")
	a.Publish(Event{Topic: "late", Seq: 1})
	if ev := recvEvent(t, sub, "subscriber added during the outage"); ev.Seq != 1 {
		t.Fatalf("got seq %d, want 1", ev.Seq)
	}
}

// unreachableAddr is a local address nobody listens on.
func unreachableAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestRedisCloseStopsGoroutines(t *testing.T) {
	opt := redisTestOptions(t)
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"redis up", func(*testing.T) string { return opt.Addr }},
		{"redis unreachable", unreachableAddr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			o := *opt
			o.Addr = tc.addr(t)
			o.DialTimeout = 500 * time.Millisecond
			c := redis.NewClient(&o)
			defer c.Close()
			r := NewRedis(c, RedisOptions{Prefix: testPrefix(t), Logger: quietLogger()})
			sub := r.Subscribe("t")
			r.Publish(Event{Topic: "t", Seq: 1, Payload: "local"})
			if ev := recvEvent(t, sub, "local subscriber"); ev.Payload != "local" {
				t.Fatalf("got %+v", ev)
			}
			sub.Close()
			r.Subscribe("u") // left open on purpose
			done := make(chan error, 1)
			go func() { done <- r.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
			case <-time.After(waitLong):
				t.Fatal("Close hangs")
			}
			if err := r.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			r.Publish(Event{Topic: "u", Seq: 2}) // after Close: no panic, no block
			r.Subscribe("v").Close()
			if err := c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
				t.Fatalf("closing client: %v", err)
			}
		})
	}
}

func TestRedisPing(t *testing.T) {
	opt := redisTestOptions(t)
	r := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: testPrefix(t)})
	if err := r.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	o := *opt
	o.Addr = unreachableAddr(t)
	down := newTestRedis(t, newTestClient(t, &o), RedisOptions{Prefix: testPrefix(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := down.Ping(ctx); err == nil {
		t.Fatal("Ping of an unreachable Redis succeeded")
	}
}

var _ Broker = (*Redis)(nil)
var _ io.Closer = (*Redis)(nil)

// TestRedisDroppedPublishLagsOtherInstances: an event that never reached
// Redis (publish queue full, PUBLISH failed) must not vanish silently: the
// other instances' subscribers of its topic are told they lagged, so they
// catch up from the database.
func TestRedisDroppedPublishLagsOtherInstances(t *testing.T) {
	opt := redisTestOptions(t)
	const topic = "seller:dropped"
	drain := func(sub Subscription) {
		for {
			select {
			case <-sub.Events():
			default:
				return
			}
		}
	}
	t.Run("queue full", func(t *testing.T) {
		prefix := testPrefix(t)
		a := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix, QueueLen: 1})
		b := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix, Buffer: 1 << 14})
		sub := b.Subscribe(topic)
		defer sub.Close()
		for seq := int64(1); seq <= 2000; seq++ {
			a.Publish(Event{Topic: topic, Seq: seq})
		}
		if a.Stats().PublishDropped == 0 {
			t.Skip("the queue never filled")
		}
		waitLagged(t, sub, "B's subscriber after A dropped events")
		drain(sub)
	})
	t.Run("publish failed", func(t *testing.T) {
		prefix := testPrefix(t)
		p := redisProxy(t, opt.Addr)
		viaProxy := *opt
		viaProxy.Addr = p.Listen
		viaProxy.DialTimeout, viaProxy.ReadTimeout, viaProxy.WriteTimeout = time.Second, time.Second, time.Second
		viaProxy.MaxRetries = -1
		a := newTestRedis(t, newTestClient(t, &viaProxy), RedisOptions{Prefix: prefix})
		b := newTestRedis(t, newTestClient(t, opt), RedisOptions{Prefix: prefix})
		sub := b.Subscribe(topic)
		defer sub.Close()
		a.Publish(Event{Topic: topic, Seq: 1})
		if ev := recvEvent(t, sub, "B before the outage"); ev.Seq != 1 {
			t.Fatalf("got seq %d, want 1", ev.Seq)
		}
		p.Stop()
		a.Publish(Event{Topic: topic, Seq: 2})
		eventually(t, "A counts the failed publish", func() bool { return a.Stats().PublishDropped == 1 })
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		waitLagged(t, sub, "B's subscriber once A reaches Redis again")
	})
}
