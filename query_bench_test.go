package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"callme/internal/pulid"
	"callme/internal/store/storetest"
)

// BenchmarkQuery posts `go run ./bench query`'s public reads (a page of
// stalls with their menus; a stall's queue of 50 tickets with each ticket's
// stall) through real HTTP to an in-process callme with the public response
// cache off, 16 clients at once, for profiling the server's side of that
// bench's ratios (-cpuprofile, -memprofile). cpu-ms/op and allocs/op
// include the client's side: compare before and after in the same command.
func BenchmarkQuery(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) { benchQuery(b, e) })
	}
}

func benchQuery(b *testing.B, e storetest.Engine) {
	s := startServer(b, e, noRateLimits, func(c *config) { c.PublicCache = 0 })
	admin := s.login(b, "SELLER", "admin")
	ctx := b.Context()
	var queueStall, queueToken string
	for i := range 60 {
		var created struct {
			CreateSeller struct {
				Seller     struct{ ID string }
				InviteCode string
			}
		}
		s.ok(b, admin, `mutation($n: String!, $p: String!) { createSeller(input: {name: $n, prefix: $p, maxNumber: 9999, paidUntil: "2030-01-01T00:00:00Z"}) { seller { id } inviteCode } }`,
			map[string]any{"n": fmt.Sprintf("档口 %d", i), "p": string(rune('A'+i/26)) + string(rune('A'+i%26))}, &created)
		id := created.CreateSeller.Seller.ID
		for j := range 5 {
			if _, err := s.app.db.Client.ExecContext(ctx, "INSERT INTO menu_items (id, name, price_cents, available, position, seller_id) VALUES (?, ?, ?, ?, ?, ?)",
				string(pulid.New("MI")), fmt.Sprintf("Dish %d of Q%d", j+1, i), 800+100*((i+j)%7), j != 3, j, id); err != nil {
				b.Fatal(err)
			}
		}
		if i == 0 {
			queueStall = id
			queueToken = s.login(b, "SELLER", "bench-queue-seller")
			s.ok(b, queueToken, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`, map[string]any{"c": created.CreateSeller.InviteCode}, nil)
			s.ok(b, queueToken, `mutation($s: ID!) { setOpen(sellerId: $s, open: true) { id } }`, map[string]any{"s": id}, nil)
			for range 50 {
				s.ok(b, queueToken, benchFetchDoc, map[string]any{"s": id}, nil)
			}
		}
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	for _, k := range []struct {
		name, token, doc string
		vars             map[string]any
	}{
		{"sellers10", "", benchSellersDoc, map[string]any{"n": 10}},
		{"sellers50", "", benchSellersDoc, map[string]any{"n": 50}},
		{"queue50", queueToken, benchQueueDoc, map[string]any{"s": queueStall}},
	} {
		b.Run(k.name, func(b *testing.B) {
			body, _ := json.Marshal(map[string]any{"query": k.doc, "variables": k.vars})
			post := func() error {
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if k.token != "" {
					req.Header.Set("Authorization", "Bearer "+k.token)
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
				if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) || len(out) < 1000 {
					return fmt.Errorf("HTTP %d %.300s", resp.StatusCode, out)
				}
				return nil
			}
			if err := post(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := processCPU(os.Getpid())
			b.SetParallelism(8) // 16 clients on 2 cores, as the bench
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := post(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric((processCPU(os.Getpid())-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// benchSellersDoc and benchQueueDoc are bench/query.go's sellersQuery and
// queueQuery.
const (
	benchSellersDoc = `query($n: Int) { sellers(first: $n) { edges { node { id name prefix open menu { id name priceCents available } } } } }`
	benchQueueDoc   = `query($s: ID!) { queue(sellerId: $s) { id number code status note createdAt seller { id name prefix } } }`
)
