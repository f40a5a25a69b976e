package main

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/store/storetest"

	"github.com/redis/go-redis/v9"
)

const envRedis = "CALLME_TEST_REDIS_URL"

// twoInstances starts two callme servers on one MariaDB database, each with
// its own Redis broker; redisFor(i) gives instance i's Redis URL.
func twoInstances(t *testing.T, redisFor func(i int) string) [2]*testServer {
	t.Helper()
	if os.Getenv(storetest.EnvMySQL) == "" || os.Getenv(envRedis) == "" {
		t.Skipf("needs MariaDB and Redis: set %s and %s", storetest.EnvMySQL, envRedis)
	}
	dsn := freshMySQLDSN(t)
	shared := storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}
	var s [2]*testServer
	for i := range s {
		s[i] = startServer(t, shared, noRateLimits, func(c *config) { c.Redis, c.RecallGap = redisFor(i), 0 })
	}
	return s
}

// redisDB picks a Redis database of its own for this test run, so parallel
// test runs on one Redis server do not hear each other.
func redisURL(t *testing.T) string {
	u := os.Getenv(envRedis)
	if u == "" || os.Getenv(storetest.EnvMySQL) == "" {
		t.Skipf("needs MariaDB and Redis: set %s and %s", storetest.EnvMySQL, envRedis)
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB)
}

func TestTwoInstancesShareCallsThroughRedis(t *testing.T) {
	s := twoInstances(t, func(int) string { return redisURL(t) })
	a, b := s[0], s[1]
	seller, stallID := b.openStall(t, "Campus", "C")

	board := a.dialWS(t, "graphql-transport-ws", nil)
	// after: 0 makes the test independent of when the server has set up the
	// subscription: anything earlier is replayed.
	board.subscribe("b", `subscription($id: ID!) { calledNumbers(sellerId: $id, after: 0) { seq code ticket { status } } }`, map[string]any{"id": stallID})

	// Concurrent fetches split across both instances never share a number.
	const n = 60
	numbers := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var d struct {
				Fetch struct {
					ID     string
					Number int
				}
			}
			s[i%2].ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id number } }`, map[string]any{"id": stallID}, &d)
			numbers[i], ids[i] = d.Fetch.Number, d.Fetch.ID
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		for i, srv := range s {
			for _, l := range strings.Split(srv.logs.String(), "\n") {
				if strings.Contains(l, "internal error") {
					t.Logf("instance %d: %s", i, l)
				}
			}
		}
	}
	sort.Ints(numbers)
	for i, got := range numbers {
		if got != i+1 {
			t.Fatalf("numbers across two instances are not 1..%d: position %d holds %d", n, i, got)
		}
	}
	// Calls alternate between instances; the board on A hears all, in order.
	for i := 0; i < 10; i++ {
		s[i%2].ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
	}
	for want := 1; want <= 10; want++ {
		var ev struct {
			CalledNumbers struct {
				Seq  int
				Code string
			}
		}
		board.next("b", &ev)
		if ev.CalledNumbers.Seq != want {
			t.Fatalf("board on A got seq %d, want %d", ev.CalledNumbers.Seq, want)
		}
	}
	expectSilence(t, board)
}

// TestRedisOutageDelaysButNeverLosesCalls: instance A loses Redis; calls
// made on B still commit; when A's Redis comes back, A's subscribers catch
// up from the database, in order, without duplicates.
func TestRedisOutageDelaysButNeverLosesCalls(t *testing.T) {
	base := redisURL(t)
	opt, _ := redis.ParseURL(base)
	proxy := startProxy(t, "redis", opt.Addr)
	_, port, _ := net.SplitHostPort(proxy.Listen)
	s := twoInstances(t, func(i int) string {
		if i == 0 {
			return strings.Replace(base, opt.Addr, "127.0.0.1:"+port, 1)
		}
		return base
	})
	a, b := s[0], s[1]
	seller, stallID := b.openStall(t, "Outage", "O")
	for i := 0; i < 3; i++ {
		b.ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stallID}, nil)
	}
	phone := a.dialWS(t, "graphql-transport-ws", nil)
	phone.subscribe("p", `subscription($id: ID!) { calledNumbers(sellerId: $id, after: 0) { seq } }`, map[string]any{"id": stallID})
	phone.subscribe("probe", `subscription { ticketUpdated(ticketId: "TK0000000000000000000000000") { id } }`, nil)
	if code := phone.errorCode("probe"); code != "UNAUTHENTICATED" { // the server has read "p" by now
		t.Fatalf("probe: %s", code)
	}

	proxy.Stop()
	for i := 0; i < 2; i++ { // committed while A cannot hear Redis
		b.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
	}
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	b.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
	for want := 1; want <= 3; want++ {
		var ev struct{ CalledNumbers struct{ Seq int } }
		phone.next("p", &ev)
		if ev.CalledNumbers.Seq != want {
			t.Fatalf("after the outage A's phone got seq %d, want %d", ev.CalledNumbers.Seq, want)
		}
	}
	expectSilence(t, phone)
}

func expectSilence(t *testing.T, c *wsClient) {
	t.Helper()
	ctx, cancel := contextWithTimeout(200 * time.Millisecond)
	defer cancel()
	var m wsMessage
	if err := wsjsonRead(ctx, c, &m); err == nil && m.Type != "ping" && m.Type != "pong" {
		t.Fatalf("unexpected extra message %s %s", m.Type, m.Payload)
	}
}
