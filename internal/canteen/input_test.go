package canteen_test

import (
	"strings"
	"testing"

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
