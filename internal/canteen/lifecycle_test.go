package canteen_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/daycounter"
	"callme/ent/session"
	"callme/ent/ticket"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/store/storetest"
)

// lifecycleFixture is a stall with business days of tickets, calls, grants
// and notifications at the given ages (in days before "today"), the clock
// left at today's noon.
type lifecycleFixture struct {
	*fixture
	st    *ent.Seller
	today time.Time
	days  map[int]int // age -> business day
}

func newLifecycle(t *testing.T, e storetest.Engine, ages []int, mod ...func(*canteen.Config)) *lifecycleFixture {
	t.Helper()
	f := newFixture(t, e, append([]func(*canteen.Config){func(c *canteen.Config) { c.RecallGap = 0 }}, mod...)...)
	today := time.Date(2026, 11, 25, 12, 0, 0, 0, shanghai)
	lf := &lifecycleFixture{fixture: f, today: today, days: map[int]int{}}
	ctx := context.Background()
	for i, age := range ages {
		f.clock.Set(today.AddDate(0, 0, -age))
		var seller context.Context
		if i == 0 {
			seller, lf.st = f.stall(t, "Noodle_King", "A", 999)
		} else {
			seller = f.as(t, model.AppSeller, "owner-Noodle_King")
		}
		must[int](t)(f.db.Client.Seller.Update().Where().SetPaidUntil(today.AddDate(1, 0, 0)).Save(ctx))
		lf.days[age] = f.svc.BusinessDay(f.clock.Now())
		for c := range 3 {
			cust := f.as(t, model.AppCustomer, fmt.Sprint("student", c))
			note := fmt.Sprint("no coriander please ", c)
			tk := must[*ent.Ticket](t)(f.svc.Fetch(cust, canteen.FetchInput{SellerID: lf.st.ID, Note: &note}))
			u := must[*ent.User](t)(f.db.Client.User.Get(ctx, *tk.OwnerID))
			g := must[*ent.NotifyGrant](t)(f.db.Client.NotifyGrant.Create().SetTicketID(tk.ID).SetUserID(u.ID).SetTemplateID("tpl").SetCreatedAt(f.clock.Now()).Save(ctx))
			must[*ent.Notification](t)(f.db.Client.Notification.Create().SetGrantID(g.ID).SetTicketID(tk.ID).SetUserID(u.ID).SetTemplateID("tpl").
				SetData(`{"note":"` + note + `"}`).SetState("SENT").SetNextAttemptAt(f.clock.Now()).SetCreatedAt(f.clock.Now()).Save(ctx))
		}
		for range 2 {
			f.clock.Add(time.Minute)
			tk := must[*ent.Ticket](t)(f.svc.CallNext(seller, lf.st.ID))
			f.clock.Add(time.Minute)
			must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // a recall
			must[*ent.Ticket](t)(f.svc.Complete(seller, tk.ID))
		}
	}
	f.clock.Set(today)
	return lf
}

// stats reads every day's sellerStats, as text.
func (lf *lifecycleFixture) stats(t *testing.T) string {
	t.Helper()
	seller := lf.as(t, model.AppSeller, "owner-Noodle_King")
	out := map[int]string{}
	for age, day := range lf.days {
		d := canteen.FormatDay(day)
		st := must[[]*canteen.DayStats](t)(lf.svc.SellerStats(seller, lf.st.ID, d, d))
		if len(st) != 1 {
			t.Fatalf("stats of %s: %d days", d, len(st))
		}
		v := func(p *int) any {
			if p == nil {
				return nil
			}
			return *p
		}
		s := st[0]
		out[age] = fmt.Sprintf("%s issued=%d completed=%d cancelled=%d noShows=%d calls=%d wait=%v/%v pickup=%v/%v", s.Day, s.Issued, s.Completed,
			s.Cancelled, s.NoShows, s.Calls, v(s.MedianWaitSeconds), v(s.P90WaitSeconds), v(s.MedianPickupSeconds), v(s.P90PickupSeconds))
	}
	return fmt.Sprint(out)
}

// TestSweepKeepsWhatRetentionSays: past 90 days calls, notifications and
// grants go; past 180 days tickets lose their note and owner; today's and
// yesterday's calls stay whatever the settings; expired sessions go; the
// stats of every day read the same before and after.
func TestSweepKeepsWhatRetentionSays(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		lf := newLifecycle(t, e, []int{200, 100, 1, 0}, func(c *canteen.Config) {
			c.Retention.Batch = 2 // many batches, each small
			c.Retention.Pause = -1
		})
		ctx := context.Background()
		db := lf.db.Client
		live := lf.as(t, model.AppCustomer, "student0") // a session of now
		before := lf.stats(t)
		if !strings.Contains(before, "2026-05-09 issued=3 completed=2 cancelled=0 noShows=0 calls=4 wait=") {
			t.Fatalf("stats before: %s", before)
		}

		rep := must[canteen.SweepReport](t)(lf.svc.Sweep(ctx))
		if !rep.Ran || rep.Calls != 8 || rep.Notifications != 6 || rep.Grants != 6 || rep.Tickets != 3 || rep.Sessions == 0 {
			t.Errorf("sweep: %+v, want the calls, notifications and grants of two days and three tickets", rep)
		}
		for age, want := range map[int]int{200: 0, 100: 0, 1: 4, 0: 4} {
			if n := must[int](t)(db.CallEvent.Query().Where(callevent.BusinessDay(lf.days[age])).Count(ctx)); n != want {
				t.Errorf("calls %d days old: %d left, want %d", age, n, want)
			}
		}
		for age, personal := range map[int]bool{200: false, 100: true, 1: true, 0: true} {
			tks := must[[]*ent.Ticket](t)(db.Ticket.Query().Where(ticket.BusinessDay(lf.days[age])).All(ctx))
			if len(tks) != 3 {
				t.Fatalf("%d days old: %d tickets, want all 3 kept", age, len(tks))
			}
			for _, tk := range tks {
				if has := tk.Note != nil && tk.OwnerID != nil; has != personal {
					t.Errorf("ticket %s %d days old: note %v owner %v, want personal data %v", tk.Code, age, tk.Note, tk.OwnerID, personal)
				}
			}
		}
		if n := must[int](t)(db.Notification.Query().Count(ctx)); n != 6 {
			t.Errorf("%d notifications left, want those of the last two days (6)", n)
		}
		if _, err := lf.svc.Me(live); err != nil {
			t.Errorf("a live session after the sweep: %v", err)
		}
		if n := must[int](t)(db.Session.Query().Where(session.ExpiresAtLT(lf.clock.Now().UTC())).Count(ctx)); n != 0 {
			t.Errorf("%d expired sessions left, want none", n)
		}
		if after := lf.stats(t); after != before {
			t.Errorf("stats changed by the sweep:\n%+v\nwant\n%+v", after, before)
		}
		if rep := must[canteen.SweepReport](t)(lf.svc.Sweep(ctx)); rep != (canteen.SweepReport{Ran: true}) {
			t.Errorf("a second sweep: %+v, want nothing left to do", rep)
		}
	})
}

// TestSweepLease: two instances sweep one database at the same time; one
// works, the other stands back while the lease is held, and every row is
// deleted and counted once.
func TestSweepLease(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		paused, resume := make(chan struct{}), make(chan struct{})
		var once sync.Once
		lf := newLifecycle(t, e, []int{300, 200, 100}, func(c *canteen.Config) {
			c.Retention.Batch = 2
			c.Retention.Pause = -1
			c.Retention.OnBatch = func(job string, n int) {
				if job == "calls" {
					once.Do(func() { close(paused); <-resume })
				}
			}
		})
		ctx := context.Background()
		other := canteen.New(lf.db.Client, lf.db.Dialect, lf.broker, nil, canteen.Config{
			Location: shanghai, DayStartHour: 4, Now: lf.clock.Now,
			Retention: canteen.Retention{Batch: 2, Pause: -1},
		}, nil)
		before := lf.stats(t)

		var (
			wg   sync.WaitGroup
			a    canteen.SweepReport
			aErr error
		)
		wg.Go(func() { a, aErr = lf.svc.Sweep(ctx); once.Do(func() { close(paused) }) })
		<-paused // a holds the lease, mid-sweep (or failed)
		b, err := other.Sweep(ctx)
		if err != nil || b.Ran || b != (canteen.SweepReport{}) {
			t.Errorf("the other instance while the lease is held: %+v %v, want it to stand back", b, err)
		}
		close(resume)
		wg.Wait()
		if aErr != nil || a.Calls != 12 || a.Tickets != 6 {
			t.Errorf("the sweep holding the lease: %+v %v, want 12 calls and 6 tickets", a, aErr)
		}
		// Afterwards the lease is free: the other instance may sweep, and
		// finds nothing twice.
		if b := must[canteen.SweepReport](t)(other.Sweep(ctx)); b != (canteen.SweepReport{Ran: true}) {
			t.Errorf("the other instance after the sweep: %+v", b)
		}
		purged := must[int](t)(lf.db.Client.DayCounter.Query().Aggregate(ent.Sum(daycounter.FieldPurgedCalls)).Int(ctx))
		if left := must[int](t)(lf.db.Client.CallEvent.Query().Count(ctx)); left != 0 || purged != 12 {
			t.Errorf("%d calls left and %d counted as purged, want 0 and 12", left, purged)
		}
		if after := lf.stats(t); after != before {
			t.Errorf("stats changed by the sweep:\n%+v\nwant\n%+v", after, before)
		}
	})
}

// TestSweepRaceCountsOnce: two instances sweeping at once, without pauses,
// delete and count each call once between them.
func TestSweepRaceCountsOnce(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		lf := newLifecycle(t, e, []int{300, 200, 100}, func(c *canteen.Config) { c.Retention.Batch = 1; c.Retention.Pause = -1 })
		ctx := context.Background()
		svcs := []*canteen.Service{lf.svc}
		for range 2 {
			svcs = append(svcs, canteen.New(lf.db.Client, lf.db.Dialect, lf.broker, nil, canteen.Config{
				Location: shanghai, DayStartHour: 4, Now: lf.clock.Now, Retention: canteen.Retention{Batch: 1, Pause: -1},
			}, nil))
		}
		reps := make([]canteen.SweepReport, len(svcs))
		var wg sync.WaitGroup
		for i, s := range svcs {
			wg.Go(func() { reps[i] = must[canteen.SweepReport](t)(s.Sweep(ctx)) })
		}
		wg.Wait()
		calls := 0
		for _, r := range reps {
			calls += r.Calls
		}
		purged := must[int](t)(lf.db.Client.DayCounter.Query().Aggregate(ent.Sum(daycounter.FieldPurgedCalls)).Int(ctx))
		if calls != 12 || purged != 12 {
			t.Errorf("the sweeps deleted %d calls and counted %d (%+v), want 12 and 12", calls, purged, reps)
		}
	})
}

// TestSweepDoesNotBlockFetch: while a sweep is between two batches, holding
// its lease, customers fetch and sellers call as usual.
func TestSweepDoesNotBlockFetch(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		paused, resume := make(chan struct{}), make(chan struct{})
		var once sync.Once
		lf := newLifecycle(t, e, []int{200, 0}, func(c *canteen.Config) {
			c.Retention.Batch = 1
			c.Retention.Pause = -1
			c.Retention.OnBatch = func(job string, n int) {
				if job == "calls" {
					once.Do(func() { close(paused); <-resume })
				}
			}
		})
		done := make(chan error, 1)
		go func() {
			_, err := lf.svc.Sweep(context.Background())
			once.Do(func() { close(paused) })
			done <- err
		}()
		<-paused
		cust := lf.as(t, model.AppCustomer, "late_student")
		tk, err := lf.svc.Fetch(cust, canteen.FetchInput{SellerID: lf.st.ID})
		if err != nil {
			t.Fatalf("fetch during a sweep: %v", err)
		}
		seller := lf.as(t, model.AppSeller, "owner-Noodle_King")
		if _, err := lf.svc.Call(seller, tk.ID); err != nil {
			t.Fatalf("call during a sweep: %v", err)
		}
		close(resume)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := must[int](t)(lf.db.Client.CallEvent.Query().Where(callevent.TicketID(pulid.ID(tk.ID))).Count(ctx0)); n != 1 {
			t.Errorf("the call during the sweep left %d events, want 1", n)
		}
	})
}

var ctx0 = context.Background()
