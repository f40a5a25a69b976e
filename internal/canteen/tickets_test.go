package canteen_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

func TestFormatCode(t *testing.T) {
	for _, tc := range []struct {
		prefix    string
		number    int
		maxNumber int
		want      string
	}{
		{"A", 7, 999, "A007"},
		{"", 7, 999, "007"},
		{"B", 12, 9999, "B0012"},
		{"C", 9, 9, "C9"},
		{"KFC", 100, 100, "KFC100"},
	} {
		if got := canteen.FormatCode(tc.prefix, tc.number, tc.maxNumber); got != tc.want {
			t.Errorf("FormatCode(%q, %d, %d) = %q, want %q", tc.prefix, tc.number, tc.maxNumber, got, tc.want)
		}
	}
}

func TestFetchIssuesNumbersInOrder(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Noodles", "A", 999)
		alice := f.as(t, model.AppCustomer, "alice")

		t1 := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		t2 := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
		if t1.Number != 1 || t1.Code != "A001" || t2.Number != 2 || t2.Code != "A002" {
			t.Fatalf("got %s, %s; want A001, A002", t1.Code, t2.Code)
		}
		if t1.OwnerID == nil || t2.OwnerID != nil {
			t.Fatalf("customer ticket owner %v, seller ticket owner %v: want owned, unowned", t1.OwnerID, t2.OwnerID)
		}
		if t1.Status != model.StatusWaiting {
			t.Fatalf("status %s, want WAITING", t1.Status)
		}
		k, _ := canteen.PositionOf(t2)
		n := must[map[canteen.PositionKey]int](t)(f.svc.Positions(alice, []canteen.PositionKey{k}))[k]
		pos := &n
		if pos == nil || *pos != 1 {
			t.Fatalf("position of the second ticket: %v, want 1", pos)
		}
	})
}

func TestNumbersWrapSkippingActiveAndExhaust(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Rice", "R", 9)
		var tickets []*ent.Ticket
		for i := 1; i <= 9; i++ {
			tickets = append(tickets, must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})))
		}
		_, err := f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})
		wantCode(t, err, canteen.CodeNumbersExhausted)

		// Free 3 and 5: the next numbers are 3, then 5, then exhausted again.
		for _, i := range []int{2, 4} {
			must[*ent.Ticket](t)(f.svc.Cancel(seller, tickets[i].ID))
		}
		for _, want := range []int{3, 5} {
			got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
			if got.Number != want || got.Code != fmt.Sprintf("R%d", want) {
				t.Fatalf("after wrap got %s, want R%d", got.Code, want)
			}
		}
		_, err = f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})
		wantCode(t, err, canteen.CodeNumbersExhausted)
	})
}

func TestBusinessDayTurnsOverAtDayStart(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Soup", "S", 999)
		f.clock.Set(time.Date(2026, 11, 26, 3, 59, 0, 0, shanghai)) // still the 25th's business day
		if got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})); got.Number != 1 || got.BusinessDay != 20261125 {
			t.Fatalf("got #%d of %d, want #1 of 20261125", got.Number, got.BusinessDay)
		}
		if got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})); got.Number != 2 {
			t.Fatalf("got #%d, want #2", got.Number)
		}
		f.clock.Set(time.Date(2026, 11, 26, 4, 0, 0, 0, shanghai))
		seller = f.as(t, model.AppSeller, "owner-Soup") // the earlier session expired meanwhile
		got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
		if got.Number != 1 || got.BusinessDay != 20261126 {
			t.Fatalf("got #%d of %d, want #1 of 20261126", got.Number, got.BusinessDay)
		}
		q := must[[]*ent.Ticket](t)(f.svc.Queue(seller, st.ID, nil))
		if len(q) != 1 {
			t.Fatalf("queue after turnover has %d tickets, want today's 1", len(q))
		}
	})
}

func TestFetchIsIdempotentPerCaller(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		_, st := f.stall(t, "Dumplings", "D", 999)
		_, other := f.stall(t, "Tea", "T", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		bob := f.as(t, model.AppCustomer, "bob")
		key := "retry-1"
		a1 := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID, IdempotencyKey: &key}))
		a2 := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID, IdempotencyKey: &key}))
		b1 := must[*ent.Ticket](t)(f.svc.Fetch(bob, canteen.FetchInput{SellerID: st.ID, IdempotencyKey: &key}))
		if a1.ID != a2.ID {
			t.Fatalf("retry made a second ticket: %s then %s", a1.Code, a2.Code)
		}
		if b1.ID == a1.ID || b1.Number != 2 {
			t.Fatalf("bob's ticket %s (#%d) must be his own #2", b1.ID, b1.Number)
		}
		_, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: other.ID, IdempotencyKey: &key})
		wantCode(t, err, canteen.CodeBadUserInput)
	})
}

func TestCustomerActiveTicketCap(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		_, st := f.stall(t, "Grill", "G", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		var first *ent.Ticket
		for i := 0; i < 3; i++ {
			tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
			if first == nil {
				first = tk
			}
		}
		_, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID})
		wantCode(t, err, canteen.CodeRateLimited)
		must[*ent.Ticket](t)(f.svc.Cancel(alice, first.ID))
		must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	})
}

func TestStallStateGuardsFetch(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Bakery", "B", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, false))
		_, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID})
		wantCode(t, err, canteen.CodeSellerClosed)

		must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, true))
		f.clock.Add(31 * 24 * time.Hour) // past paidUntil while open
		alice = f.as(t, model.AppCustomer, "alice")
		seller = f.as(t, model.AppSeller, "owner-Bakery")
		_, err = f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID})
		wantCode(t, err, canteen.CodeSellerInactive)
		must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, false))
		_, err = f.svc.SetOpen(seller, st.ID, true)
		wantCode(t, err, canteen.CodeSellerInactive)

		_, err = f.svc.Fetch(alice, canteen.FetchInput{SellerID: "SLNOSUCHSELLER0000000000000"})
		wantCode(t, err, canteen.CodeNotFound)
	})
}

func TestTicketTransitions(t *testing.T) {
	type op func(f *fixture, tk *ent.Ticket) (*ent.Ticket, error)
	call := func(f *fixture, tk *ent.Ticket) (*ent.Ticket, error) { return f.svc.Call(f.seller, tk.ID) }
	complete := func(f *fixture, tk *ent.Ticket) (*ent.Ticket, error) { return f.svc.Complete(f.seller, tk.ID) }
	cancel := func(f *fixture, tk *ent.Ticket) (*ent.Ticket, error) { return f.svc.Cancel(f.seller, tk.ID) }
	for _, tc := range []struct {
		name       string
		setup      []op
		do         op
		wantStatus model.TicketStatus
		wantCalls  int
		wantErr    canteen.Code
	}{
		{"call waiting", nil, call, model.StatusCalled, 1, ""},
		{"recall", []op{call}, call, model.StatusCalled, 2, ""},
		{"complete called", []op{call}, complete, model.StatusDone, 1, ""},
		{"complete waiting", nil, complete, "", 0, canteen.CodeInvalidTransition},
		{"cancel waiting", nil, cancel, model.StatusCancelled, 0, ""},
		{"cancel called", []op{call}, cancel, model.StatusCancelled, 1, ""},
		{"call done", []op{call, complete}, call, "", 0, canteen.CodeInvalidTransition},
		{"complete cancelled", []op{cancel}, complete, "", 0, canteen.CodeInvalidTransition},
		{"cancel done", []op{call, complete}, cancel, "", 0, canteen.CodeInvalidTransition},
		{"call cancelled", []op{cancel}, call, "", 0, canteen.CodeInvalidTransition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := storetest.Engines()[0]
			f := newFixture(t, e)
			f.seller, f.st = f.stall(t, "Pho", "P", 999)
			tk := must[*ent.Ticket](t)(f.svc.Fetch(f.seller, canteen.FetchInput{SellerID: f.st.ID}))
			for _, s := range tc.setup {
				tk = must[*ent.Ticket](t)(s(f, tk))
			}
			got, err := tc.do(f, tk)
			if tc.wantErr != "" {
				wantCode(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantStatus || got.CallCount != tc.wantCalls {
				t.Fatalf("got %s with %d calls, want %s with %d", got.Status, got.CallCount, tc.wantStatus, tc.wantCalls)
			}
			if got.Status.Active() != (got.ActiveNumber != nil) {
				t.Fatalf("status %s but active_number %v", got.Status, got.ActiveNumber)
			}
		})
	}
}

// TestConcurrentFetchesNeverDuplicate is the core guarantee: many customers
// and the seller fetching at once get distinct, contiguous numbers.
func TestConcurrentFetchesNeverDuplicate(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Busy", "", 999)
		const n = 200
		ctxs := make([]context.Context, n)
		for i := range ctxs {
			if i%2 == 0 {
				ctxs[i] = seller
			} else {
				ctxs[i] = f.as(t, model.AppCustomer, fmt.Sprintf("c%d", i))
			}
		}
		var wg sync.WaitGroup
		numbers := make([]int, n)
		errs := make([]error, n)
		start := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tk, err := f.svc.Fetch(ctxs[i], canteen.FetchInput{SellerID: st.ID})
				errs[i] = err
				if err == nil {
					numbers[i] = tk.Number
				}
			}(i)
		}
		wg.Wait()
		elapsed := time.Since(start)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("fetch %d: %v", i, err)
			}
		}
		sort.Ints(numbers)
		for i, got := range numbers {
			if got != i+1 {
				t.Fatalf("numbers are not 1..%d without gaps or duplicates: position %d holds %d", n, i, got)
			}
		}
		t.Logf("%s: %d concurrent fetches in %v (%.0f tickets/s)", e.Name, n, elapsed, float64(n)/elapsed.Seconds())
	})
}

func TestRecallGap(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0], func(c *canteen.Config) { c.RecallGap = 10 * time.Second })
	seller, st := f.stall(t, "Gap", "G", 999)
	tk := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
	f.clock.Add(4 * time.Second)
	_, err := f.svc.Call(seller, tk.ID)
	wantCode(t, err, canteen.CodeRateLimited)
	var de *canteen.Error
	if errors.As(err, &de); de.Extensions["retryAfterSeconds"] != 6 {
		t.Fatalf("retryAfterSeconds %v, want 6", de.Extensions["retryAfterSeconds"])
	}
	f.clock.Add(6 * time.Second)
	if got := must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)); got.CallCount != 2 {
		t.Fatalf("recall after the gap: callCount %d, want 2", got.CallCount)
	}
}

// TestRefusedFetchDoesNotStartTheDay: a fetch refused at a closed stall
// leaves no counter behind, so the seller's prefix change before opening
// still applies at once (defect 12: the counter row, which fixes the day's
// prefix, was created before the open and paid checks).
func TestRefusedFetchDoesNotStartTheDay(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Noodles", "A", 999)
		must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, false))
		student := f.as(t, model.AppCustomer, "student")
		_, err := f.svc.Fetch(student, canteen.FetchInput{SellerID: st.ID})
		wantCode(t, err, canteen.CodeSellerClosed)

		prefix := "B"
		up := must[*canteen.SellerUpdate](t)(f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, Prefix: &prefix}))
		if up.Notice == nil || !strings.Contains(*up.Notice, "apply now") {
			t.Fatalf("notice %v, want the change to apply now", up.Notice)
		}
		must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, true))
		tk := must[*ent.Ticket](t)(f.svc.Fetch(student, canteen.FetchInput{SellerID: st.ID}))
		if tk.Code != "B001" {
			t.Errorf("first ticket after the change is %s, want B001", tk.Code)
		}
	})
}
