package main

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/store"
	"callme/internal/store/storetest"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// proxiedMySQL returns a fresh MySQL DSN whose connections go through a
// Toxiproxy proxy, and the proxy. MySQL only: SQLite has no connection.
func proxiedMySQL(t *testing.T) (string, *toxiproxy.Proxy) {
	t.Helper()
	if os.Getenv(storetest.EnvMySQL) == "" {
		t.Skipf("fault injection needs MariaDB: set %s", storetest.EnvMySQL)
	}
	cfg, err := store.MySQLConfig(strings.TrimPrefix(freshMySQLDSN(t), "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, "mysql", cfg.Addr)
	cfg.Addr = proxy.Listen
	cfg.Timeout = 2 * time.Second
	return "mysql://" + cfg.FormatDSN(), proxy
}

// freshMySQLDSN returns the DSN of a new MySQL database, dropped at test end.
func freshMySQLDSN(t *testing.T) string {
	t.Helper()
	return mysqlEngine(t).DSN(t)
}

// mysqlEngine returns the MySQL/MariaDB engine, or skips the test without one.
func mysqlEngine(t *testing.T) storetest.Engine {
	t.Helper()
	for _, e := range storetest.Engines() {
		if e.Name == "mysql" {
			return e
		}
	}
	t.Skipf("needs MariaDB: set %s", storetest.EnvMySQL)
	return storetest.Engine{}
}

// startProxy runs an in-process Toxiproxy proxy to upstream on a free
// loopback port, stopped at test end.
func startProxy(t *testing.T, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	proxy := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	return proxy
}

func addToxic(t *testing.T, p *toxiproxy.Proxy, json string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(json)); err != nil {
		t.Fatal(err)
	}
}

func TestFaultSlowDatabaseFailsByDeadline(t *testing.T) {
	dsn, proxy := proxiedMySQL(t)
	s := startServer(t, storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}, func(c *config) {
		c.Limits.RequestTimeout = 500 * time.Millisecond
		c.PublicCache = 0 // the second read must reach the database
	})
	s.ok(t, "", `{ sellers { totalCount } }`, nil, nil)
	addToxic(t, proxy, `{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":3000}}`)
	start := time.Now()
	r := s.query(t, "", `{ sellers { totalCount } }`, nil)
	elapsed := time.Since(start)
	if r.code() != "INTERNAL" || elapsed > 2*time.Second {
		t.Fatalf("slow database: %q after %v, want INTERNAL by the 500ms deadline", r.code(), elapsed)
	}
	proxy.Toxics.RemoveToxic(t.Context(), "slow")
	s.ok(t, "", `{ sellers { totalCount } }`, nil, nil)
}

func TestFaultDatabaseDownThenBack(t *testing.T) {
	dsn, proxy := proxiedMySQL(t)
	s := startServer(t, storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }})
	ready := func() int {
		res, err := http.Get(s.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := ready(); got != 200 {
		t.Fatalf("readyz %d before the outage", got)
	}
	proxy.Stop()
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d with the database down, want 503", got)
	}
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ready() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("readyz did not recover within 10s of the database coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.ok(t, "", `{ sellers { totalCount } }`, nil, nil)
}

// TestFaultConnectionResetsNeverHalfWriteTickets: fetches run while the
// database connection is cut again and again. Clients retry failures with
// their idempotency key. In the end every fetch has exactly one ticket, the
// numbers are exactly 1..n, and the day's counter agrees: no transaction was
// half applied and none was applied twice.
func TestFaultConnectionResetsNeverHalfWriteTickets(t *testing.T) {
	dsn, proxy := proxiedMySQL(t)
	s := startServer(t, storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}, noRateLimits)
	seller, stallID := s.openStall(t, "Flaky", "F")

	stop := make(chan struct{})
	flapped := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				flapped <- n
				return
			case <-time.After(40 * time.Millisecond):
			}
			proxy.Stop() // cuts every open connection, mid-transaction or not
			n++
			time.Sleep(10 * time.Millisecond)
			_ = proxy.Start()
		}
	}()

	const n = 120
	numbers := make([]int, n)
	ids := make([]string, n)
	var failures sync.Map
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for attempt := 0; ; attempt++ {
					r := s.query(t, seller, `mutation($id: ID!, $k: String!) { fetch(input: {sellerId: $id, idempotencyKey: $k}) { id number } }`,
						map[string]any{"id": stallID, "k": fmt.Sprint("key-", i)})
					if len(r.Errors) == 0 {
						var d struct {
							Fetch struct {
								ID     string
								Number int
							}
						}
						_ = jsonUnmarshal(r.Data, &d)
						numbers[i], ids[i] = d.Fetch.Number, d.Fetch.ID
						break
					}
					failures.Store(i, true)
					if attempt > 200 {
						t.Errorf("fetch %d never succeeded: %+v", i, r.Errors)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(stop)
	cuts := <-flapped
	if err := proxy.Start(); err != nil && err != toxiproxy.ErrProxyAlreadyStarted {
		t.Fatal(err)
	}

	failed := 0
	failures.Range(func(any, any) bool { failed++; return true })
	t.Logf("%d connection cuts; %d of %d fetches needed a retry", cuts, failed, n)
	if failed == 0 {
		t.Fatal("no fetch ever failed: the faults did not hit the transactions")
	}
	sort.Ints(numbers)
	for i, got := range numbers {
		if got != i+1 {
			t.Fatalf("numbers are not exactly 1..%d: position %d holds %d", n, i, got)
		}
	}
	var d struct {
		Queue []struct{ ID string }
	}
	s.ok(t, seller, `query($id: ID!) { queue(sellerId: $id) { id } }`, map[string]any{"id": stallID}, &d)
	if len(d.Queue) != n {
		t.Fatalf("the database holds %d tickets, want %d", len(d.Queue), n)
	}
	ctx := t.Context()
	c, err := s.app.db.Client.DayCounter.Query().Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issued != n || c.LastNumber != n {
		t.Fatalf("counter says issued %d, last %d; want %d and %d", c.Issued, c.LastNumber, n, n)
	}
}
