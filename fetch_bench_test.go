package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"callme/internal/procstat"
	"callme/internal/store/storetest"
)

// BenchmarkFetch posts the fetch mutation `go run ./bench issue` sends, as
// the stall's seller (walk-up) and as customers under the cap of 3 (each
// customer fetches at most 3 times), through real HTTP to an in-process
// callme with the bench's settings (rate limits and budgets off). ms/op and
// allocs/op include the client's side, which no server change touches:
// compare before and after in the same command. seq runs one client, par
// 32 (2 cores × 16), as the bench's 32-client point.
func BenchmarkFetch(b *testing.B) {
	for _, e := range storetest.Engines() {
		for _, kind := range []string{"walkup", "customer"} {
			for _, par := range []int{0, 16} {
				name := e.Name + "/" + kind + "/seq"
				if par > 0 {
					name = fmt.Sprintf("%s/%s/par%d", e.Name, kind, par)
				}
				b.Run(name, func(b *testing.B) { benchFetch(b, e, kind == "customer", par) })
			}
		}
	}
}

func benchFetch(b *testing.B, e storetest.Engine, customers bool, par int) {
	s := startServer(b, e, noRateLimits, func(c *config) { c.RecallGap = 0 })
	admin := s.login(b, "SELLER", "admin")
	stall, seller := benchStall(b, s, admin, "Bench stall", "B", "bench-seller")

	body, _ := json.Marshal(map[string]any{"query": benchFetchDoc, "variables": map[string]any{"s": stall}})
	tokens := []string{seller}
	if customers {
		tokens = make([]string, (b.N+2)/3)
		for i := range tokens {
			tokens[i] = s.login(b, "CUSTOMER", fmt.Sprintf("bench-customer-%d", i))
		}
	}
	post := benchPoster(s.URL, body)
	// The counter row and every session cached, as in the bench's steady state.
	if err := post(seller); err != nil {
		b.Fatal(err)
	}
	for _, tok := range tokens {
		s.ok(b, tok, `{ me { id } }`, nil, nil)
	}
	var next atomic.Int64
	token := func() string {
		if !customers {
			return seller
		}
		return tokens[int(next.Add(1)-1)/3]
	}
	b.ReportAllocs()
	db := procstat.DBPID()
	cpu0, db0 := procstat.CPU(os.Getpid()), procstat.CPU(db)
	sched0 := schedCounts()
	b.ResetTimer()
	if par == 0 {
		for range b.N {
			if err := post(token()); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := post(token()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	sched := schedCounts()
	// Goroutines started and goroutine schedules (runnable to running) per
	// fetch, in callme and the client: steadier than CPU time on a shared
	// box, and each schedule costs CPU (and often a futex wake). The runtime
	// samples one schedule in 8 into /sched/latencies.
	b.ReportMetric(float64(sched[0]-sched0[0])/float64(b.N), "goroutines/op")
	b.ReportMetric(float64(sched[1]-sched0[1])*8/float64(b.N), "schedules/op")
	// CPU per fetch of this process (callme and the client) and of MariaDB
	// (when it runs here): on 2 shared cores, what caps the bench's rate.
	b.ReportMetric((procstat.CPU(os.Getpid())-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
	if db > 0 && e.Name == "mysql" {
		b.ReportMetric((procstat.CPU(db)-db0).Seconds()*1000/float64(b.N), "db-ms/op")
	}
}

// benchStall creates an open, paid stall (seller token for an owner named
// ownerName, who claimed it) for the benchmarks; admin creates it.
func benchStall(b *testing.B, s *testServer, admin, name, prefix, ownerName string) (stall, seller string) {
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(b, admin, `mutation($n: String!, $p: String!) { createSeller(input: {name: $n, prefix: $p, maxNumber: 9999, paidUntil: "2030-01-01T00:00:00Z"}) { seller { id } inviteCode } }`,
		map[string]any{"n": name, "p": prefix}, &created)
	stall = created.CreateSeller.Seller.ID
	seller = s.login(b, "SELLER", ownerName)
	s.ok(b, seller, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`, map[string]any{"c": created.CreateSeller.InviteCode}, nil)
	s.ok(b, seller, `mutation($s: ID!) { setOpen(sellerId: $s, open: true) { id } }`, map[string]any{"s": stall}, nil)
	return stall, seller
}

// benchPoster returns a client that posts body to a callme at url as a
// token's holder ("" for none) and checks the answer as the bench's load
// clients do: status 200 and no "errors" key.
func benchPoster(url string, body []byte) func(token string) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	return func(token string) error {
		req, _ := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
			return fmt.Errorf("HTTP %d %.300s", resp.StatusCode, out)
		}
		return nil
	}
}

// schedCounts returns the goroutines created and the goroutine schedules
// so far (runtime/metrics).
func schedCounts() [2]uint64 {
	m := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}, {Name: "/sched/latencies:seconds"}}
	metrics.Read(m)
	var n uint64
	for _, c := range m[1].Value.Float64Histogram().Counts {
		n += c
	}
	return [2]uint64{m[0].Value.Uint64(), n}
}

// benchFetchDoc is bench/gql.go's fetchMutation.
const benchFetchDoc = `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id number code } }`
