package canteen_test

import (
	"strings"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestTextInputRefusesWhatJSONCannotCarry sends invalid UTF-8 to every text
// input of the domain. GraphQL over JSON replaces such bytes before they
// arrive, but the domain must not rely on its callers for that.
func TestTextInputRefusesWhatJSONCannotCarry(t *testing.T) {
	e := storetest.Engines()[0]
	f := newFixture(t, e)
	seller, st := f.stall(t, "Bytes", "B", 999)
	admin := f.as(t, model.AppSeller, "admin")
	alice := f.as(t, model.AppCustomer, "alice")
	handed := must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
	for _, bad := range []string{"\xff", "兰州\xe6\x8b", "a\xed\xa0\x80b" /* a surrogate */} {
		b := bad
		for name, call := range map[string]func() error{
			"createSeller.name": func() error { _, err := f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: b}); return err },
			"createSeller.phone": func() error {
				_, err := f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: "x", Phone: &b})
				return err
			},
			"createSeller.prefix": func() error {
				_, err := f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: "x", Prefix: &b})
				return err
			},
			"updateSeller.name": func() error {
				_, err := f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, Name: &b})
				return err
			},
			"updateSeller.person": func() error {
				_, err := f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, PersonName: &b})
				return err
			},
			"updateSeller.phone": func() error {
				_, err := f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, Phone: &b})
				return err
			},
			"updateSeller.pickup": func() error {
				_, err := f.svc.UpdateSeller(seller, canteen.UpdateSellerInput{SellerID: st.ID, PickupNote: &b})
				return err
			},
			"setMenu.name": func() error { _, err := f.svc.SetMenu(seller, st.ID, []*canteen.MenuItemInput{{Name: b}}); return err },
			"fetch.note":   func() error { _, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID, Note: &b}); return err },
			"fetch.idempotencyKey": func() error {
				_, err := f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID, IdempotencyKey: &b})
				return err
			},
			"claim.note": func() error {
				_, err := f.svc.Claim(alice, canteen.ClaimInput{SellerID: st.ID, Number: handed.Number, Note: &b})
				return err
			},
		} {
			err := call()
			wantCode(t, err, canteen.CodeBadUserInput)
			if !strings.Contains(err.Error(), "UTF-8") {
				t.Errorf("%s %q: %v, want a message about UTF-8", name, b, err)
			}
		}
	}
}

// TestPaidUntilRange checks the bounds of a paid term exactly, and that an
// accepted one is stored in UTC at microsecond precision.
func TestPaidUntilRange(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	admin := f.as(t, model.AppSeller, "admin")
	lo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{lo, true},
		{hi, true},
		{lo.Add(-time.Nanosecond), false},
		{hi.Add(time.Nanosecond), false},
		{time.Time{}, false},
		{time.Date(2030, 1, 1, 8, 0, 0, 1500, mustLoc("Asia/Shanghai")), true},
	} {
		at := tc.at
		inv, err := f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: "term", PaidUntil: &at})
		if !tc.ok {
			wantCode(t, err, canteen.CodeBadUserInput)
			continue
		}
		if err != nil {
			t.Fatalf("paidUntil %v: %v", at, err)
		}
		if got, want := *inv.Seller.PaidUntil, at.UTC().Truncate(time.Microsecond); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("paidUntil %v stored as %v, want %v", at, got, want)
		}
	}
}
