package canteen_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/menuitem"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/store/storetest"
)

func TestMenus(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Menu", "M", 999)
		set := func(items ...*canteen.MenuItemInput) error {
			_, err := f.svc.SetMenu(seller, st.ID, items)
			return err
		}
		if err := set(&canteen.MenuItemInput{Name: "Beef noodles", PriceCents: ptr(1800)}, &canteen.MenuItemInput{Name: "Tea", Available: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		// A bad item rejects the whole menu: the old one stays.
		wantCode(t, set(&canteen.MenuItemInput{Name: "Ok"}, &canteen.MenuItemInput{Name: "Bad", PriceCents: ptr(-1)}), canteen.CodeBadUserInput)
		wantCode(t, set(&canteen.MenuItemInput{Name: strings.Repeat("x", 41)}), canteen.CodeBadUserInput)
		many := make([]*canteen.MenuItemInput, 101)
		for i := range many {
			many[i] = &canteen.MenuItemInput{Name: "d"}
		}
		wantCode(t, set(many...), canteen.CodeBadUserInput)
		menu := must[map[pulid.ID][]*ent.MenuItem](t)(f.svc.Menus(seller, []pulid.ID{st.ID}))[st.ID]
		if len(menu) != 2 || menu[0].Name != "Beef noodles" || *menu[0].PriceCents != 1800 || menu[1].Available {
			t.Fatalf("menu after a rejected change: %+v", menu)
		}
		it := must[*ent.MenuItem](t)(f.svc.SetMenuItemAvailable(seller, menu[0].ID, false))
		if it.Available {
			t.Fatal("sold out did not stick")
		}
		other, _ := f.stall(t, "Other", "O", 999)
		_, err := f.svc.SetMenuItemAvailable(other, menu[0].ID, true)
		wantCode(t, err, canteen.CodeForbidden)
	})
}

func TestUpdateSellerPrefixAppliesNextDay(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Prefix", "A", 999)
	must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})) // today's counter exists
	up := must[*canteen.SellerUpdate](t)(f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, Prefix: ptr("b"), MaxNumber: ptr(99), PickupNote: ptr("window 3")}))
	if up.Notice == nil || !strings.Contains(*up.Notice, "next business day") {
		t.Fatalf("notice %v, want it to say the next business day", up.Notice)
	}
	if up.Seller.Prefix != "B" || *up.Seller.PickupNote != "window 3" {
		t.Fatalf("updated seller: %+v", up.Seller)
	}
	if got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})); got.Code != "A002" {
		t.Fatalf("today's next code %s, want A002 (old prefix and width)", got.Code)
	}
	f.clock.Add(24 * time.Hour)
	seller = f.as(t, model.AppSeller, "owner-Prefix")
	if got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})); got.Code != "B01" {
		t.Fatalf("next day's first code %s, want B01", got.Code)
	}
	_, err := f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, MaxNumber: ptr(5)})
	wantCode(t, err, canteen.CodeBadUserInput)
}

func TestRenewAuditAndAutoClose(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Renew", "R", 999) // paid for 30 days
	admin := f.as(t, model.AppSeller, "admin")
	_, err := f.svc.RenewSeller(seller, st.ID, 1)
	wantCode(t, err, canteen.CodeForbidden)
	renewed := must[*ent.Seller](t)(f.svc.RenewSeller(admin, st.ID, 2))
	if want := st.PaidUntil.AddDate(0, 2, 0); !renewed.PaidUntil.Equal(want) {
		t.Fatalf("paid until %v, want %v (extended from the current end)", renewed.PaidUntil, want)
	}
	f.clock.Add(200 * 24 * time.Hour) // long expired: the stall reads closed
	if f.svc.IsOpen(renewed) {
		t.Fatal("an expired stall still reads open")
	}
	admin = f.as(t, model.AppSeller, "admin")
	again := must[*ent.Seller](t)(f.svc.RenewSeller(admin, st.ID, 1))
	if want := f.clock.Now().AddDate(0, 1, 0); !again.PaidUntil.Equal(want.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("paid until %v, want %v (from now when expired)", again.PaidUntil, want)
	}
	log := must[[]*ent.AuditEntry](t)(f.svc.AuditLog(admin, nil))
	if len(log) != 3 || log[0].Action != "renewSeller" || log[0].TargetID != st.ID || log[2].Action != "createSeller" {
		t.Fatalf("audit log: %+v", log)
	}
	_, err = f.svc.AuditLog(seller, nil)
	wantCode(t, err, canteen.CodeForbidden)
}

func TestQueueWork(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Queue", "Q", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		mine := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		var handed []*ent.Ticket
		for i := 0; i < 3; i++ {
			handed = append(handed, must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})))
		}
		must[*ent.Ticket](t)(f.svc.Call(seller, handed[0].ID)) // CALLED: not cleared
		if n := must[int](t)(f.svc.ClearUnclaimed(seller, st.ID)); n != 2 {
			t.Fatalf("cleared %d, want the 2 unowned WAITING tickets", n)
		}
		q := must[[]*ent.Ticket](t)(f.svc.Queue(seller, st.ID, nil))
		if len(q) != 2 || q[0].ID != mine.ID || q[1].ID != handed[0].ID {
			t.Fatalf("queue after clear: %d tickets", len(q))
		}

		ns := must[*ent.Ticket](t)(f.svc.MarkNoShow(seller, handed[0].ID))
		if ns.Status != model.StatusNoShow || ns.ActiveNumber != nil {
			t.Fatalf("no-show: %s, active %v", ns.Status, ns.ActiveNumber)
		}
		_, err := f.svc.MarkNoShow(seller, mine.ID)
		wantCode(t, err, canteen.CodeInvalidTransition) // WAITING

		back := must[*ent.Ticket](t)(f.svc.Reopen(seller, handed[1].ID))
		if back.Status != model.StatusWaiting || back.Code != handed[1].Code {
			t.Fatalf("reopened %s %s, want WAITING %s", back.Status, back.Code, handed[1].Code)
		}
		_, err = f.svc.Reopen(seller, mine.ID)
		wantCode(t, err, canteen.CodeInvalidTransition)

		day := canteen.FormatDay(mine.BusinessDay)
		hist := must[[]*ent.Ticket](t)(f.svc.SellerTickets(seller, st.ID, day, nil))
		if len(hist) != 4 {
			t.Fatalf("history of %s: %d tickets, want 4", day, len(hist))
		}
	})
}

func TestReopenRefusesATakenNumber(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Small", "S", 9)
	var tickets []*ent.Ticket
	for i := 0; i < 9; i++ {
		tickets = append(tickets, must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})))
	}
	must[*ent.Ticket](t)(f.svc.Cancel(seller, tickets[0].ID))
	if got := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})); got.Number != 1 {
		t.Fatalf("wrapped to %d, want 1", got.Number)
	}
	_, err := f.svc.Reopen(seller, tickets[0].ID)
	wantCode(t, err, canteen.CodeInvalidTransition)
}

func TestAutomaticNoShow(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Auto", "A", 999)
	must[*canteen.SellerUpdate](t)(f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, NoShowAfterCalls: ptr(2), NoShowAfterMinutes: ptr(10)}))
	a := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	b := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Call(seller, a.ID))
	must[*ent.Ticket](t)(f.svc.Call(seller, a.ID)) // 2nd call
	if got := must[*ent.Ticket](t)(f.svc.Call(seller, a.ID)); got.Status != model.StatusNoShow {
		t.Fatalf("a recall after 2 calls gave %s, want NO_SHOW", got.Status)
	}
	must[*ent.Ticket](t)(f.svc.Call(seller, b.ID))
	f.clock.Add(11 * time.Minute)
	seller = f.as(t, model.AppSeller, "owner-Auto")
	must[*ent.Ticket](t)(f.svc.CallNext(seller, st.ID)) // sweeps b, calls the third
	if got := must[[]*ent.Ticket](t)(f.svc.SellerTickets(seller, st.ID, canteen.FormatDay(b.BusinessDay), nil))[1]; got.Status != model.StatusNoShow {
		t.Fatalf("10 minutes after its first call b is %s, want NO_SHOW", got.Status)
	}
}

func TestETAAverageWaitAndStats(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Pace", "P", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	var tickets []*ent.Ticket
	for i := 0; i < 5; i++ {
		tickets = append(tickets, must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})))
	}
	mine := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	if eta := must[*int](t)(f.svc.ETASeconds(alice, mine)); eta != nil {
		t.Fatalf("ETA %d without any calls, want unknown", *eta)
	}
	for i := 0; i < 3; i++ { // a call a minute
		f.clock.Add(time.Minute)
		called := must[*ent.Ticket](t)(f.svc.CallNext(seller, st.ID))
		if i == 0 {
			f.clock.Add(30 * time.Second)
			must[*ent.Ticket](t)(f.svc.Complete(seller, called.ID))
			f.clock.Add(-30 * time.Second)
		}
	}
	// Two WAITING tickets (tickets[3], [4]) ahead of alice: 3 × 60 s.
	if eta := must[*int](t)(f.svc.ETASeconds(alice, mine)); eta == nil || *eta != 180 {
		t.Fatalf("ETA %v, want 180", eta)
	}
	if avg := must[*int](t)(f.svc.AverageWaitSeconds(seller, st)); avg == nil || *avg != 120 {
		t.Fatalf("average wait %v, want 120 (60, 120, 180 s)", avg)
	}
	day := canteen.FormatDay(mine.BusinessDay)
	stats := must[[]*canteen.DayStats](t)(f.svc.SellerStats(seller, st.ID, day, day))
	if len(stats) != 1 {
		t.Fatalf("%d days of stats", len(stats))
	}
	ds := stats[0]
	if ds.Issued != 6 || ds.Completed != 1 || ds.Calls != 3 || *ds.MedianWaitSeconds != 120 || *ds.MedianPickupSeconds != 30 {
		t.Fatalf("stats %+v (median wait %v, pickup %v)", ds, *ds.MedianWaitSeconds, *ds.MedianPickupSeconds)
	}
	_, err := f.svc.SellerStats(seller, st.ID, "2026-01-01", "2026-12-31")
	wantCode(t, err, canteen.CodeBadUserInput)
}

// TestMenusReadAsEnt holds Menus, which scans its rows by hand, to what ent
// reads from the same rows: every field a MenuItem shows, the seller's
// order, names at their limit in CJK and emoji, no price and the highest
// one, stalls without a menu, a stall asked for twice, and none at all.
func TestMenusReadAsEnt(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		var ids []pulid.ID
		for i, items := range [][]*canteen.MenuItemInput{
			{
				{Name: strings.Repeat("牛", model.MaxMenuItemName-1) + "🍜", PriceCents: ptr(model.MaxPriceCents)},
				{Name: "茶", Available: ptr(false)},
				{Name: "🥟🥟", PriceCents: ptr(0)},
			},
			nil, // a stall without a menu
			{{Name: "Rice", PriceCents: ptr(100)}, {Name: "米饭 🍚", PriceCents: ptr(200), Available: ptr(false)}},
		} {
			seller, st := f.stall(t, fmt.Sprintf("Stall%d", i), "S", 999)
			if items != nil {
				if _, err := f.svc.SetMenu(seller, st.ID, items); err != nil {
					t.Fatal(err)
				}
			}
			ids = append(ids, st.ID)
		}
		// The seller's order is position, not insertion: turn the first menu around.
		if _, err := f.db.Client.ExecContext(t.Context(), "UPDATE `menu_items` SET `position` = 10 - `position` WHERE `seller_id` = ?", string(ids[0])); err != nil {
			t.Fatal(err)
		}
		ctx := f.as(t, model.AppCustomer, "reader")
		got := must[map[pulid.ID][]*ent.MenuItem](t)(f.svc.Menus(ctx, append(ids, ids[2], "SLNOSUCHSTALL0000000000000000")))
		if len(got) != len(ids)+1 {
			t.Fatalf("%d stalls in the answer, want %d", len(got), len(ids)+1)
		}
		show := func(items []*ent.MenuItem) string {
			var b strings.Builder
			for _, it := range items {
				price := "null"
				if it.PriceCents != nil {
					price = fmt.Sprint(*it.PriceCents)
				}
				fmt.Fprintf(&b, "%s %s %q %s %v; ", it.ID, it.SellerID, it.Name, price, it.Available)
			}
			return b.String()
		}
		for _, id := range append(ids, "SLNOSUCHSTALL0000000000000000") {
			want := must[[]*ent.MenuItem](t)(f.db.Client.MenuItem.Query().Where(menuitem.SellerID(id)).Order(ent.Asc(menuitem.FieldPosition)).All(t.Context()))
			if got[id] == nil {
				t.Fatalf("stall %s: nil menu, want an empty one", id)
			}
			if show(got[id]) != show(want) {
				t.Errorf("stall %s:\n got %s\nwant %s", id, show(got[id]), show(want))
			}
		}
		if n := len(got[ids[0]]); n != 3 || got[ids[0]][0].Name != "🥟🥟" {
			t.Errorf("first stall's menu %s, want the 3 items in position order", show(got[ids[0]]))
		}
		// Appending to one stall's menu must not write into the next one's.
		first := got[ids[0]]
		_ = append(first, &ent.MenuItem{Name: "extra"})
		if show(got[ids[2]]) != show(must[[]*ent.MenuItem](t)(f.db.Client.MenuItem.Query().Where(menuitem.SellerID(ids[2])).Order(ent.Asc(menuitem.FieldPosition)).All(t.Context()))) {
			t.Error("an append to one menu changed another")
		}
		if none := must[map[pulid.ID][]*ent.MenuItem](t)(f.svc.Menus(ctx, nil)); len(none) != 0 {
			t.Errorf("no stalls asked: %d menus", len(none))
		}
	})
}
