package canteen_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/daycounter"
	"callme/ent/session"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestFetchRefusalsAfterTheDayStarted: once a stall's counter is known
// (on MySQL the fetch then decides in the counter update, and finds out why
// it issued nothing afterwards), a customer's refused fetch answers what it
// answered when the cap was counted before the update: the cap error with
// its count and limit, SELLER_CLOSED, SELLER_INACTIVE; and a counter row
// gone since is made again.
func TestFetchRefusalsAfterTheDayStarted(t *testing.T) {
	capErr := &canteen.Error{Code: canteen.CodeRateLimited, Message: "you already hold 3 active tickets today; finish or cancel one first", Extensions: map[string]any{"limit": 3}}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *fixture, seller, alice context.Context, st *ent.Seller, first *ent.Ticket)
		want   *canteen.Error // nil: a ticket, number 1
	}{
		{"over the cap", func(t *testing.T, f *fixture, _, alice context.Context, st *ent.Seller, _ *ent.Ticket) {
			for range 2 {
				must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
			}
		}, capErr},
		{"closed", func(t *testing.T, f *fixture, seller, _ context.Context, st *ent.Seller, _ *ent.Ticket) {
			must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, false))
		}, &canteen.Error{Code: canteen.CodeSellerClosed, Message: "this stall is closed; try again when it opens"}},
		// Refused for both, a fetch answers as the general path checks:
		// the stall first (it answered RATE_LIMITED on MySQL only).
		{"over the cap and closed", func(t *testing.T, f *fixture, seller, alice context.Context, st *ent.Seller, _ *ent.Ticket) {
			for range 2 {
				must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
			}
			must[*ent.Seller](t)(f.svc.SetOpen(seller, st.ID, false))
		}, &canteen.Error{Code: canteen.CodeSellerClosed, Message: "this stall is closed; try again when it opens"}},
		// The term ended a minute ago: on the seller and on the day's
		// counter row, which keeps a copy for the fast fetch (nothing in
		// callme shortens a term; the clock ends it, on both alike).
		{"unpaid", func(t *testing.T, f *fixture, _, _ context.Context, st *ent.Seller, _ *ent.Ticket) {
			ended := f.clock.Now().Add(-time.Minute)
			if err := f.db.Client.Seller.UpdateOneID(st.ID).SetPaidUntil(ended).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := f.db.Client.DayCounter.Update().Where(daycounter.SellerID(st.ID)).SetPaidUntil(ended).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, &canteen.Error{Code: canteen.CodeSellerInactive, Message: "this stall's paid term is over; it cannot issue numbers"}},
		{"no counter row", func(t *testing.T, f *fixture, _, alice context.Context, st *ent.Seller, first *ent.Ticket) {
			must[*ent.Ticket](t)(f.svc.Cancel(alice, first.ID))
			if _, err := f.db.Client.DayCounter.Delete().Where(daycounter.SellerID(st.ID)).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEngine(t, func(t *testing.T, e storetest.Engine) {
				f := newFixture(t, e)
				seller, st := f.stall(t, "Noodles", "A", 999)
				alice := f.as(t, model.AppCustomer, "alice")
				first := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
				tc.change(t, f, seller, alice, st, first)
				got, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID})
				if tc.want == nil {
					if err != nil || got.Number != 1 {
						t.Fatalf("fetch: %v, %v; want number 1", got, err)
					}
					return
				}
				var de *canteen.Error
				if !errors.As(err, &de) || !reflect.DeepEqual(de, tc.want) {
					t.Fatalf("fetch: %#v, want %#v", err, tc.want)
				}
			})
		})
	}
}

// TestCapCountedAfterTheLock: a customer one ticket under the cap fetches
// at two stalls at once; exactly one fetch issues. Both wait on the
// customer's row lock (held here until both wait), so the second counts
// after the first committed only if its count is read after it got the
// lock: on MySQL a plain subquery of the counter update, whose view READ
// COMMITTED makes when the update starts (see customerCounterUpdate). A
// count taken before the lock would let both through.
func TestCapCountedAfterTheLock(t *testing.T) {
	var mysql *storetest.Engine
	for _, e := range storetest.Engines() {
		if e.Name == "mysql" {
			mysql = &e
		}
	}
	if mysql == nil {
		t.Skip("no MySQL: set " + storetest.EnvMySQL + " (SQLite runs one writer at a time)")
	}
	ctx := context.Background()
	f := newFixture(t, *mysql)
	_, a := f.stall(t, "Noodles", "A", 999)
	_, b := f.stall(t, "Dumplings", "B", 999)
	_, c := f.stall(t, "Tea", "C", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	for _, st := range []*ent.Seller{a, b, c} {
		// Every counter known, so both fetches below go straight to their
		// transaction; alice holds 3, then 2: the cap of 3 minus one.
		must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	}
	mine := must[[]*ent.Ticket](t)(f.svc.MyTickets(alice, nil))
	must[*ent.Ticket](t)(f.svc.Cancel(alice, mine[0].ID))

	// Hold alice's row lock, as a fetch of hers in flight would.
	holder, err := f.db.TxSQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// A failed test must not leave the lock held: the fetches would
		// wait, and the database's DROP behind them.
		_, _ = holder.ExecContext(ctx, "ROLLBACK")
		holder.Close()
	}()
	if _, err := holder.ExecContext(ctx, "SELECT 1 FROM `users` WHERE `id` = ? FOR UPDATE", string(canteen.ActorFrom(alice).UserID)); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for _, st := range []*ent.Seller{a, b} {
		go func() {
			_, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID})
			errs <- err
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		err := f.db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "+
			"WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches wait for the customer's row lock after 10 s, want 2", waiting)
		}
		// InnoDB refreshes INNODB_TRX only after 0.1 s without a read.
		time.Sleep(150 * time.Millisecond)
	}
	if _, err := holder.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for range 2 {
		err := <-errs
		var de *canteen.Error
		switch {
		case err == nil:
			codes["issued"]++
		case errors.As(err, &de):
			codes[string(de.Code)]++
		default:
			t.Fatalf("fetch: %v", err)
		}
	}
	if want := map[string]int{"issued": 1, string(canteen.CodeRateLimited): 1}; !reflect.DeepEqual(codes, want) {
		t.Fatalf("two fetches at the cap minus one: %v, want %v", codes, want)
	}
	active := 0
	for _, tk := range must[[]*ent.Ticket](t)(f.svc.MyTickets(alice, nil)) {
		if tk.ActiveNumber != nil {
			active++
		}
	}
	if active != 3 {
		t.Fatalf("alice holds %d active tickets, cap 3", active)
	}
}

// TestFetchByAGoneUserIssuesNothing: a customer whose user row is gone
// (their session was already authenticated) gets no ticket, and the
// stall's counter does not move: the counter update checks the user row
// exists (on MySQL the row its batch locked; on SQLite the row it counts
// the cap from, where the refusal was a foreign key's error before), and
// the refusal says so on both.
func TestFetchByAGoneUserIssuesNothing(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		f := newFixture(t, e)
		_, st := f.stall(t, "Noodles", "A", 999)
		bob := f.as(t, model.AppCustomer, "bob")
		must[*ent.Ticket](t)(f.svc.Fetch(bob, canteen.FetchInput{SellerID: st.ID})) // the counter is known
		ghost := f.as(t, model.AppCustomer, "ghost")
		uid := canteen.ActorFrom(ghost).UserID
		if _, err := f.db.Client.Session.Delete().Where(session.UserID(uid)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Client.User.DeleteOneID(uid).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		tk, err := f.svc.Fetch(ghost, canteen.FetchInput{SellerID: st.ID})
		if err == nil {
			t.Fatalf("a gone user got ticket %s", tk.Code)
		}
		if !strings.Contains(err.Error(), "user row is gone") {
			t.Errorf("fetch: %v, want the user row gone", err)
		}
		c, err := f.db.Client.DayCounter.Query().Where(daycounter.SellerID(st.ID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Issued != 1 {
			t.Errorf("counter issued %d after the refusal, want 1", c.Issued)
		}
	})
}

// TestReopenMayExceedTheCap: the cap bounds what a customer takes, not what
// a stall gives back. A seller reopening a customer's cancelled ticket
// while she holds the cap's worth succeeds; her next fetch is refused.
func TestReopenMayExceedTheCap(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Noodles", "A", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		first := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		must[*ent.Ticket](t)(f.svc.Cancel(alice, first.ID))
		for range 3 {
			must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		}
		back, err := f.svc.Reopen(seller, first.ID)
		if err != nil || back.Status != model.StatusWaiting {
			t.Fatalf("reopen at the cap: %v, %v; want WAITING", back, err)
		}
		_, err = f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID})
		var de *canteen.Error
		if !errors.As(err, &de) || de.Code != canteen.CodeRateLimited {
			t.Fatalf("fetch over the cap after the reopen: %v, want RATE_LIMITED", err)
		}
	})
}
