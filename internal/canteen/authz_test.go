package canteen_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestAuthorization walks the operations on a stall and its tickets with
// every kind of caller.
func TestAuthorization(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Curry", "C", 999)
	otherSeller, _ := f.stall(t, "Salad", "S", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	bob := f.as(t, model.AppCustomer, "bob")
	admin := f.as(t, model.AppSeller, "admin")
	unbound := f.as(t, model.AppSeller, "nobody")
	anon := context.Background()

	ticket := func() *ent.Ticket {
		return must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	}
	// Run with ok=true to expect success.
	type op struct {
		name string
		do   func(ctx context.Context) error
	}
	ops := []op{
		{"call", func(ctx context.Context) error { _, err := f.svc.Call(ctx, ticket().ID); return err }},
		{"callNext", func(ctx context.Context) error { ticket(); _, err := f.svc.CallNext(ctx, st.ID); return err }},
		{"complete", func(ctx context.Context) error {
			tk := ticket()
			must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
			_, err := f.svc.Complete(ctx, tk.ID)
			return err
		}},
		{"cancel", func(ctx context.Context) error { _, err := f.svc.Cancel(ctx, ticket().ID); return err }},
		{"queue", func(ctx context.Context) error { _, err := f.svc.Queue(ctx, st.ID, nil); return err }},
		{"setOpen", func(ctx context.Context) error { _, err := f.svc.SetOpen(ctx, st.ID, true); return err }},
		{"sellerFetch", func(ctx context.Context) error {
			if canteen.ActorFrom(ctx) != nil && canteen.ActorFrom(ctx).App == model.AppCustomer {
				return canteen.Errorf(canteen.CodeForbidden, "n/a: customers always fetch for themselves")
			}
			_, err := f.svc.Fetch(ctx, canteen.FetchInput{SellerID: st.ID})
			return err
		}},
		{"createSeller", func(ctx context.Context) error {
			_, err := f.svc.CreateSeller(ctx, canteen.CreateSellerInput{Name: "X"})
			return err
		}},
		{"ticketUpdated", func(ctx context.Context) error {
			c, cancel := context.WithCancel(ctx)
			defer cancel()
			_, err := f.svc.TicketUpdated(c, ticket().ID)
			return err
		}},
		{"nodeTicket", func(ctx context.Context) error { _, err := f.svc.Node(ctx, ticket().ID); return err }},
	}
	callers := []struct {
		name string
		ctx  context.Context
		// allowed lists the ops this caller may do; others must fail with want.
		allowed map[string]bool
		want    canteen.Code
	}{
		{"seller", seller, set("call", "callNext", "complete", "cancel", "queue", "setOpen", "sellerFetch", "ticketUpdated", "nodeTicket"), ""},
		{"admin", admin, set("call", "callNext", "complete", "cancel", "queue", "setOpen", "sellerFetch", "createSeller", "ticketUpdated", "nodeTicket"), ""},
		{"owner", alice, set("complete", "cancel", "ticketUpdated", "nodeTicket"), canteen.CodeForbidden},
		{"other customer", bob, set(), canteen.CodeForbidden},
		{"other seller", otherSeller, set(), canteen.CodeForbidden},
		{"seller app, no stall", unbound, set(), canteen.CodeForbidden},
		{"anonymous", anon, set(), canteen.CodeUnauthenticated},
	}
	for _, c := range callers {
		for _, o := range ops {
			t.Run(c.name+"/"+o.name, func(t *testing.T) {
				// Fresh customer quota for each case.
				alice = f.as(t, model.AppCustomer, "alice")
				cancelAll(t, f, alice)
				err := o.do(c.ctx)
				if c.allowed[o.name] {
					if err != nil {
						t.Fatalf("want allowed, got %v", err)
					}
					return
				}
				want := c.want
				if want == "" {
					want = canteen.CodeForbidden
				}
				if c.name == "anonymous" && o.name == "nodeTicket" {
					want = canteen.CodeForbidden // node never demands a session; it hides
				}
				wantCode(t, err, want)
			})
		}
	}
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func cancelAll(t *testing.T, f *fixture, ctx context.Context) {
	t.Helper()
	for _, tk := range must[[]*ent.Ticket](t)(f.svc.MyTickets(ctx, nil)) {
		if tk.Status.Active() {
			must[*ent.Ticket](t)(f.svc.Cancel(ctx, tk.ID))
		}
	}
}

func TestClaim(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Kebab", "K", 999)
		alice := f.as(t, model.AppCustomer, "alice")
		bob := f.as(t, model.AppCustomer, "bob")
		handed := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
		code := f.svc.ClaimCode(seller, handed)
		if code == nil || len(*code) != 6 {
			t.Fatalf("a handed-out ticket's claim code reads %v to its seller", code)
		}
		if c := f.svc.ClaimCode(alice, handed); c != nil {
			t.Fatal("a customer reads a claim code")
		}
		wrong := fmt.Sprintf("%06d", (atoi(*code)+1)%1_000_000)
		note := "no onions"
		for _, tc := range []struct {
			name string
			ctx  context.Context
			in   canteen.ClaimInput
			want canteen.Code
		}{
			{"no code", alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number}, canteen.CodeBadUserInput},
			{"malformed code", alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: ptr("12345a")}, canteen.CodeBadUserInput},
			{"wrong code", alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: &wrong}, canteen.CodeNotFound},
			{"no such number", alice, canteen.ClaimInput{SellerID: st.ID, Number: 42, ClaimCode: code}, canteen.CodeNotFound},
			{"number 0", alice, canteen.ClaimInput{SellerID: st.ID, Number: 0, ClaimCode: code}, canteen.CodeBadUserInput},
			{"long note", alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: code, Note: ptr(string(make([]rune, 101)))}, canteen.CodeBadUserInput},
			{"seller app", seller, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: code}, canteen.CodeForbidden},
		} {
			_, err := f.svc.Claim(tc.ctx, tc.in)
			if err == nil {
				t.Fatalf("%s: claimed", tc.name)
			}
			wantCode(t, err, tc.want)
		}
		got := must[*ent.Ticket](t)(f.svc.Claim(alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: code, Note: &note}))
		if got.ID != handed.ID || got.OwnerID == nil || got.Note == nil || *got.Note != note {
			t.Fatalf("claim gave %+v", got)
		}
		again := must[*ent.Ticket](t)(f.svc.Claim(alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: code}))
		if again.ID != handed.ID {
			t.Fatal("claiming one's own ticket again must return it")
		}
		_, err := f.svc.Claim(bob, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: code})
		wantCode(t, err, canteen.CodeTicketTaken)
		mine := must[[]*ent.Ticket](t)(f.svc.MyTickets(alice, nil))
		if len(mine) != 1 || mine[0].ID != handed.ID {
			t.Fatalf("alice's tickets: %d, want the claimed one", len(mine))
		}

		// The claimer's cancel gives the number back, with its code.
		back := must[*ent.Ticket](t)(f.svc.Cancel(alice, handed.ID))
		if back.Status != model.StatusWaiting || back.OwnerID != nil || back.Note != nil || back.ActiveNumber == nil {
			t.Fatalf("a claimer's cancel left %+v, want the number WAITING, unowned, without the note", back)
		}
		if len(must[[]*ent.Ticket](t)(f.svc.MyTickets(alice, nil))) != 0 {
			t.Fatal("alice still holds the number she gave back")
		}
		bobs := must[*ent.Ticket](t)(f.svc.Claim(bob, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, ClaimCode: code}))
		if bobs.ID != handed.ID {
			t.Fatal("the slip's holder cannot claim a number given back")
		}
		// A customer's own fetched ticket is cancelled as before.
		own := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
		if f.svc.ClaimCode(seller, own) != nil {
			t.Fatal("a customer's own ticket has a claim code")
		}
		if c := must[*ent.Ticket](t)(f.svc.Cancel(alice, own.ID)); c.Status != model.StatusCancelled {
			t.Fatalf("cancelling one's own ticket gave %s", c.Status)
		}
	})
}

// TestClaimCodesStopNumberTheft: a customer without the slips cannot take
// the stall's handed-out numbers away from their holders (defect 4: one
// account claimed and cancelled all 12 paper numbers of a stall).
func TestClaimCodesStopNumberTheft(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	seller, st := f.stall(t, "Kebab", "K", 999)
	thief := f.as(t, model.AppCustomer, "thief")
	var handed []*ent.Ticket
	for i := 0; i < 12; i++ {
		handed = append(handed, must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})))
	}
	// Guessing spends the thief's budget: 10 attempts, then one a minute.
	limited := false
	for i, tk := range handed {
		guess := fmt.Sprintf("%06d", i)
		_, err := f.svc.Claim(thief, canteen.ClaimInput{SellerID: st.ID, Number: tk.Number, ClaimCode: &guess})
		var de *canteen.Error
		if !errors.As(err, &de) {
			t.Fatalf("guess %d: %v", i, err)
		}
		switch de.Code {
		case canteen.CodeNotFound:
		case canteen.CodeRateLimited:
			limited = true
		default:
			if err == nil || de.Code == "" {
				t.Fatalf("guess %d claimed number %d", i, tk.Number)
			}
		}
	}
	if !limited {
		t.Error("12 wrong claims in a row were never rate limited")
	}
	// Every holder still claims their own number.
	for i, tk := range handed {
		holder := f.as(t, model.AppCustomer, fmt.Sprintf("holder%d", i))
		if _, err := f.svc.Claim(holder, canteen.ClaimInput{SellerID: st.ID, Number: tk.Number, ClaimCode: f.svc.ClaimCode(seller, tk)}); err != nil {
			t.Fatalf("holder of %s: %v", tk.Code, err)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestClaimSeller(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	admin := f.as(t, model.AppSeller, "admin")
	inv := must[*canteen.SellerInvite](t)(f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: "Fish"}))
	customer := f.as(t, model.AppCustomer, "carol")
	_, err := f.svc.ClaimSeller(customer, inv.InviteCode)
	wantCode(t, err, canteen.CodeForbidden)
	_, err = f.svc.ClaimSeller(f.as(t, model.AppSeller, "dave"), "ZZZZ-ZZZZ-ZZZZ")
	wantCode(t, err, canteen.CodeNotFound)

	dave := f.as(t, model.AppSeller, "dave")
	// Case and dashes do not matter to people typing the code.
	typed := []byte(inv.InviteCode)
	for i := range typed {
		if typed[i] >= 'A' && typed[i] <= 'Z' {
			typed[i] += 'a' - 'A'
		}
	}
	st := must[*ent.Seller](t)(f.svc.ClaimSeller(dave, string(typed)))
	if st.OwnerID == nil {
		t.Fatal("claimed stall has no owner")
	}
	if got := roleString(canteen.ActorFrom(dave).Roles()); got != "SELLER" {
		t.Fatalf("same session after claim: roles %q, want SELLER", got)
	}
	_, err = f.svc.ClaimSeller(f.as(t, model.AppSeller, "erin"), inv.InviteCode)
	wantCode(t, err, canteen.CodeNotFound) // used
	inv2 := must[*canteen.SellerInvite](t)(f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: "Fish 2"}))
	_, err = f.svc.ClaimSeller(f.as(t, model.AppSeller, "dave"), inv2.InviteCode)
	wantCode(t, err, canteen.CodeForbidden) // one stall per account

	for _, in := range []canteen.CreateSellerInput{
		{Name: ""},
		{Name: string(make([]rune, 41))},
		{Name: "ok", Prefix: ptr("TOOLONG")},
		{Name: "ok", Prefix: ptr("A-")},
		{Name: "ok", Prefix: ptr("B2")},
		{Name: "ok", MaxNumber: ptr(8)},
		{Name: "ok", MaxNumber: ptr(10000)},
	} {
		_, err := f.svc.CreateSeller(admin, in)
		wantCode(t, err, canteen.CodeBadUserInput)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSellerVisibility(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	admin := f.as(t, model.AppSeller, "admin")
	_, open := f.stall(t, "Open", "O", 999)
	sellerClosed, closed := f.stall(t, "Closed", "C", 999)
	must[*ent.Seller](t)(f.svc.SetOpen(sellerClosed, closed.ID, false))
	f.clock.Add(time.Second)
	unpaid := must[*canteen.SellerInvite](t)(f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: "Unpaid"})).Seller

	names := func(ctx context.Context, openOnly bool) []string {
		c := must[*canteen.SellerPage](t)(f.svc.Sellers(ctx, canteen.SellerQuery{OpenOnly: openOnly}))
		var out []string
		for _, st := range c.Sellers {
			out = append(out, st.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		openOnly bool
		want     string
	}{
		{"anonymous", context.Background(), false, "Open,Closed"},
		{"anonymous open only", context.Background(), true, "Open"},
		{"admin", admin, false, "Open,Closed,Unpaid"},
		{"admin open only", admin, true, "Open"},
	} {
		if got := joinStrings(names(tc.ctx, tc.openOnly)); got != tc.want {
			t.Errorf("%s: sellers %q, want %q", tc.name, got, tc.want)
		}
	}
	if st := must[*ent.Seller](t)(f.svc.Seller(context.Background(), unpaid.ID)); st != nil {
		t.Error("anonymous caller sees an unpaid stall")
	}
	if st := must[*ent.Seller](t)(f.svc.Seller(context.Background(), open.ID)); st == nil {
		t.Error("anonymous caller cannot see an open stall")
	}
	// Pagination: first 1, then the rest after it.
	one := 1
	page := must[*canteen.SellerPage](t)(f.svc.Sellers(admin, canteen.SellerQuery{First: &one, Count: true}))
	if len(page.Sellers) != 1 || !page.HasNext || page.Total != 3 {
		t.Fatalf("page 1: %d sellers, next %v, total %d", len(page.Sellers), page.HasNext, page.Total)
	}
	last := page.Sellers[0]
	rest := must[*canteen.SellerPage](t)(f.svc.Sellers(admin, canteen.SellerQuery{After: &canteen.SellerCursor{CreatedAt: last.CreatedAt, ID: last.ID}}))
	if len(rest.Sellers) != 2 || rest.Sellers[0].Name != "Closed" || rest.HasNext {
		t.Fatalf("page 2 has %d sellers", len(rest.Sellers))
	}
	tooMany := 101
	_, err := f.svc.Sellers(admin, canteen.SellerQuery{First: &tooMany})
	wantCode(t, err, canteen.CodeBadUserInput)
}

// An expired stall reads open: false, so openOnly leaves it out, for an
// admin too (admins otherwise list unpaid stalls).
func TestOpenOnlyLeavesOutExpiredStalls(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	f.stall(t, "Expired", "E", 999) // open, paid for 30 days
	f.clock.Add(31 * 24 * time.Hour)
	f.stall(t, "Paid", "P", 999)
	admin := f.as(t, model.AppSeller, "admin")
	page := must[*canteen.SellerPage](t)(f.svc.Sellers(admin, canteen.SellerQuery{OpenOnly: true, Count: true}))
	var names []string
	for _, st := range page.Sellers {
		names = append(names, st.Name)
	}
	if got := joinStrings(names); got != "Paid" || page.Total != 1 {
		t.Errorf("admin openOnly: %q (total %d), want \"Paid\" (1)", got, page.Total)
	}
}

// TestExpiredStallStaysVisibleToItsCustomers: a stall whose term ran out
// hides from the public, not from a customer holding a ticket there (their
// ticket shows the stall, so seller(id) and node(id) must too).
func TestExpiredStallStaysVisibleToItsCustomers(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	_, st := f.stall(t, "Expiring", "E", 999)
	holder := f.as(t, model.AppCustomer, "holder")
	passerby := f.as(t, model.AppCustomer, "passerby")
	must[*ent.Ticket](t)(f.svc.Fetch(holder, canteen.FetchInput{SellerID: st.ID}))
	f.clock.Add(31 * 24 * time.Hour)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"holder", holder, true},
		{"passerby", passerby, false},
		{"anonymous", context.Background(), false},
	} {
		got := must[*ent.Seller](t)(f.svc.Seller(tc.ctx, st.ID)) != nil
		node := must[ent.Noder](t)(f.svc.Node(tc.ctx, st.ID)) != nil
		if got != tc.want || node != tc.want {
			t.Errorf("%s sees the expired stall: seller(id) %v, node(id) %v; want %v", tc.name, got, node, tc.want)
		}
	}
}

func joinStrings(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
