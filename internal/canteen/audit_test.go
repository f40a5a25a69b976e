package canteen_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"sort"
	"strings"
	"testing"

	"callme/ent"
	"callme/ent/auditentry"
	"callme/internal/canteen"
	"callme/internal/media"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/store/storetest"
)

func pngPhoto(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for x := 0; x < 4; x++ {
		for y := 0; y < 3; y++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func withPhotos(t *testing.T) func(*canteen.Config) {
	store, err := media.NewDiskStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return func(c *canteen.Config) { c.Media.Photos = store }
}

// stallWork runs every stall action the README says an admin's use on
// someone else's stall is audited for, as the caller who.
func stallWork(t *testing.T, f *fixture, who context.Context, st *ent.Seller) {
	t.Helper()
	seller := f.as(t, model.AppSeller, "owner-"+st.Name)
	must[*ent.Seller](t)(f.svc.SetMenu(seller, st.ID, []*canteen.MenuItemInput{{Name: "Noodles"}}))
	items := must[map[pulid.ID][]*ent.MenuItem](t)(f.svc.Menus(context.Background(), []pulid.ID{st.ID}))[st.ID]
	alice := f.as(t, model.AppCustomer, "alice-"+st.Name)
	bob := f.as(t, model.AppCustomer, "bob-"+st.Name)
	t1 := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	t2 := must[*ent.Ticket](t)(f.svc.Fetch(bob, canteen.FetchInput{SellerID: st.ID}))
	must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})) // handed out, never claimed

	if got := must[*ent.Ticket](t)(f.svc.CallNext(who, st.ID)); got == nil || got.ID != t1.ID {
		t.Fatalf("callNext called %v, want alice's ticket", got)
	}
	must[*ent.Ticket](t)(f.svc.Complete(who, t1.ID))
	must[*ent.Ticket](t)(f.svc.Call(who, t2.ID))
	must[*ent.Ticket](t)(f.svc.MarkNoShow(who, t2.ID))
	must[*ent.Ticket](t)(f.svc.Reopen(who, t2.ID))
	must[*ent.Ticket](t)(f.svc.Cancel(who, t2.ID))
	if n := must[int](t)(f.svc.ClearUnclaimed(who, st.ID)); n != 1 {
		t.Fatalf("cleared %d, want 1", n)
	}
	must[*ent.MenuItem](t)(f.svc.SetMenuItemAvailable(who, items[0].ID, false))
	must[*ent.Seller](t)(f.svc.UploadSellerPhoto(who, st.ID, bytes.NewReader(pngPhoto(t, color.White))))
	must[*ent.Seller](t)(f.svc.SetOpen(who, st.ID, false))
}

func auditActions(t *testing.T, f *fixture, target pulid.ID) []string {
	t.Helper()
	list := must[[]*ent.AuditEntry](t)(f.db.Client.AuditEntry.Query().Where(auditentry.TargetID(target)).All(context.Background()))
	var out []string
	for _, e := range list {
		out = append(out, e.Action)
	}
	sort.Strings(out)
	return out
}

// TestAdminActionsOnOthersStallsAreAudited: every change an admin makes to a
// stall that is not theirs leaves an audit entry (README: "Admin actions on
// others' stalls are kept in auditLog"); the seller's own work, and a
// customer's own cancel, leave none, so the log stays readable.
func TestAdminActionsOnOthersStallsAreAudited(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e, withPhotos(t))
		admin := f.as(t, model.AppSeller, "admin")

		_, mine := f.stall(t, "Own", "O", 999)
		created := auditActions(t, f, mine.ID)
		if strings.Join(created, ",") != "createSeller" {
			t.Errorf("after createSeller the log holds %v, want [createSeller]", created)
		}
		carol := f.as(t, model.AppCustomer, "carol")
		tk := must[*ent.Ticket](t)(f.svc.Fetch(carol, canteen.FetchInput{SellerID: mine.ID}))
		must[*ent.Ticket](t)(f.svc.Cancel(carol, tk.ID))
		stallWork(t, f, f.as(t, model.AppSeller, "owner-Own"), mine)
		if got := auditActions(t, f, mine.ID); len(got) != len(created) {
			t.Errorf("the seller's own work and a customer's cancel added audit entries: %v", got[len(created):])
		}

		_, theirs := f.stall(t, "Theirs", "T", 999)
		stallWork(t, f, admin, theirs)
		// (stallWork's setMenu is the seller's own: not audited.)
		want := []string{"call", "callNext", "cancel", "clearUnclaimed", "complete", "createSeller",
			"markNoShow", "reopen", "setMenuItemAvailable", "setOpen", "uploadSellerPhoto"}
		if got := auditActions(t, f, theirs.ID); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("admin actions on another's stall audited as\n%v\nwant\n%v", got, want)
		}
	})
}
