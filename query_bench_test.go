package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"callme/internal/procstat"
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
		// Stall 0, with 50 tickets, is the queue's; its seller reads it.
		id, seller := benchStall(b, s, admin, fmt.Sprintf("档口 %d", i), string(rune('A'+i/26))+string(rune('A'+i%26)), fmt.Sprintf("bench-seller-%d", i))
		for j := range 5 {
			if _, err := s.app.db.Client.ExecContext(ctx, "INSERT INTO menu_items (id, name, price_cents, available, position, seller_id) VALUES (?, ?, ?, ?, ?, ?)",
				string(pulid.New("MI")), fmt.Sprintf("Dish %d of stall %d", j+1, i), 800+100*((i+j)%7), j != 3, j, id); err != nil {
				b.Fatal(err)
			}
		}
		if i == 0 {
			queueStall, queueToken = id, seller
			for range 50 {
				s.ok(b, queueToken, benchFetchDoc, map[string]any{"s": id}, nil)
			}
		}
	}
	for _, k := range []struct {
		name, token, doc string
		vars             map[string]any
		want             int
	}{
		{"sellers10", "", benchSellersDoc, map[string]any{"n": 10}, 10},
		{"sellers50", "", benchSellersDoc, map[string]any{"n": 50}, 50},
		{"queue50", queueToken, benchQueueDoc, map[string]any{"s": queueStall}, 50},
	} {
		b.Run(k.name, func(b *testing.B) {
			body, _ := json.Marshal(map[string]any{"query": k.doc, "variables": k.vars})
			poster := benchPoster(s.URL, body)
			post := func() error { return poster(k.token) }
			// The whole answer once: every stall, or every ticket, is there.
			var out struct {
				Sellers struct {
					Edges []struct{ Node struct{ Menu []any } }
				}
				Queue []any
			}
			s.ok(b, k.token, k.doc, k.vars, &out)
			if n := len(out.Sellers.Edges) + len(out.Queue); n != k.want {
				b.Fatalf("%d stalls or tickets, want %d", n, k.want)
			}
			b.ReportAllocs()
			cpu0 := procstat.CPU(os.Getpid())
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
			b.ReportMetric((procstat.CPU(os.Getpid())-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// benchSellersDoc and benchQueueDoc are bench/query.go's sellersQuery and
// queueQuery.
const (
	benchSellersDoc = `query($n: Int) { sellers(first: $n) { edges { node { id name prefix open menu { id name priceCents available } } } } }`
	benchQueueDoc   = `query($s: ID!) { queue(sellerId: $s) { id number code status note createdAt seller { id name prefix } } }`
)
