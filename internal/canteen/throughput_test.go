package canteen_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// statements records the SQL a database runs (statement text only).
type statements struct {
	mu  sync.Mutex
	on  bool
	got []string
}

func (s *statements) hook(q string) {
	s.mu.Lock()
	if s.on {
		s.got = append(s.got, q)
	}
	s.mu.Unlock()
}

func (s *statements) record(fn func()) []string {
	s.mu.Lock()
	s.on, s.got = true, nil
	s.mu.Unlock()
	fn()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	return s.got
}

// TestThroughputReadsRecentDaysOnly: etaSeconds and averageWaitSeconds look
// at the last 30 minutes of calls; their query must bound business_day, so
// the database reads a day or two of the stall's tickets through the
// (seller_id, business_day, …) index instead of its whole history (defect
// 10: a year of rows took 6 s for 50 calls). Old days do not change the
// figures.
func TestThroughputReadsRecentDaysOnly(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		var stmts statements
		f := newHookedFixture(t, e, stmts.hook)
		f.clock.Set(time.Date(2026, 11, 20, 12, 0, 0, 0, shanghai))
		svc, clk, db := f.svc, f.clock, f.db
		seller, st := f.stall(t, "Eta", "E", 999)
		customer := f.as(t, model.AppCustomer, "carol")
		serve := func(n int, gap time.Duration) {
			for i := 0; i < n; i++ {
				tk := must[*ent.Ticket](t)(svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
				clk.Add(gap)
				must[*ent.Ticket](t)(svc.Call(seller, tk.ID))
			}
		}
		// Five earlier days, served slowly (10 minutes between calls).
		for d := 0; d < 5; d++ {
			serve(3, 10*time.Minute)
			clk.Add(24 * time.Hour)
		}
		// Today: a call a minute, then carol waits first in line.
		clk.Set(time.Date(2026, 11, 25, 12, 0, 0, 0, shanghai))
		serve(4, time.Minute)
		mine := must[*ent.Ticket](t)(svc.Fetch(customer, canteen.FetchInput{SellerID: st.ID}))
		clk.Add(time.Second)

		var eta, avg *int
		got := stmts.record(func() {
			eta = must[*int](t)(svc.ETASeconds(context.Background(), mine))
			avg = must[*int](t)(svc.AverageWaitSeconds(context.Background(), st))
		})
		if eta == nil || *eta != 60 || avg == nil || *avg != 60 {
			t.Fatalf("eta %v, average wait %v; want 60 s and 60 s", deref(eta), deref(avg))
		}
		n := 0
		for _, q := range got {
			if !strings.Contains(q, "first_called_at") || !strings.Contains(q, "FROM `tickets`") {
				continue
			}
			n++
			where := q[strings.Index(q, "WHERE"):]
			if !strings.Contains(where, "`tickets`.`seller_id` = ?") || !strings.Contains(where, "`tickets`.`business_day` >= ?") {
				t.Errorf("recent calls read without a business_day bound on the stall's index:\n%s", q)
			}
			if e.Name == "sqlite" {
				// The plan searches the index by stall and day range.
				var id, parent, unused int
				var detail string
				err := db.SQL().QueryRow("EXPLAIN QUERY PLAN "+q, string(st.ID), 20261125, clk.Now()).Scan(&id, &parent, &unused, &detail)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(detail, "seller_id=? AND business_day>?") {
					t.Errorf("query plan %q, want an index search on seller_id and business_day", detail)
				}
			}
		}
		if n != 2 {
			t.Fatalf("%d recent-call queries, want 2 (one each); statements:\n%s", n, strings.Join(got, "\n"))
		}
	})
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
