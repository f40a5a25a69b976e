package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/seller"
	"callme/internal/model"
	"callme/internal/store"
	"callme/internal/store/storetest"
)

// TestRowsShareNothing: the rows of one query are scanned through one set
// of targets (ent/template/scanrow.tmpl), so each node must get its own
// copies: a list whose nillable columns go NULL, set, NULL from row to row
// answers every stall as reading it alone does, and no two stalls share a
// pointer.
func TestRowsShareNothing(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			db := storetest.Open(t, e, store.Options{})
			ctx := context.Background()
			paid := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			for i := range 12 {
				c := db.Client.Seller.Create().SetName(fmt.Sprintf("%02d 面馆 🍜", i)).SetMaxNumber(100 + i)
				if i%2 == 1 {
					c.SetPersonName(fmt.Sprintf("王师傅 %d 😀", i)).SetPaidUntil(paid.Add(time.Duration(i) * time.Hour))
				}
				if i%3 == 0 {
					u, err := db.Client.User.Create().SetApp(model.App("SELLER")).SetOpenid(fmt.Sprintf("o%d", i)).Save(ctx)
					if err != nil {
						t.Fatal(err)
					}
					c.SetOwnerID(u.ID).SetPickupNote(fmt.Sprintf("窗口 %d", i))
				}
				if _, err := c.Save(ctx); err != nil {
					t.Fatal(err)
				}
			}
			list, err := db.Client.Seller.Query().Order(ent.Asc(seller.FieldName)).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 12 {
				t.Fatalf("%d stalls listed", len(list))
			}
			seen := map[uintptr]string{} // address: the stall holding it
			for _, st := range list {
				alone, err := db.Client.Seller.Get(ctx, st.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := describe(st), describe(alone); got != want {
					t.Errorf("listed %s\n   alone %s", got, want)
				}
				for _, p := range []any{st.PersonName, st.PaidUntil, st.OwnerID, st.PickupNote} {
					v := reflect.ValueOf(p)
					if v.IsNil() {
						continue
					}
					if other, ok := seen[v.Pointer()]; ok {
						t.Errorf("%s and %s share %v", other, st.Name, v.Elem())
					}
					seen[v.Pointer()] = st.Name
				}
			}
		})
	}
}

// describe spells the columns of a stall, pointers followed.
func describe(st *ent.Seller) string {
	deref := func(p any) string {
		if v := reflect.ValueOf(p); !v.IsNil() {
			return fmt.Sprint(v.Elem())
		}
		return "<nil>"
	}
	return fmt.Sprintf("%s %q max=%d person=%q paid=%s owner=%s note=%q open=%v",
		st.ID, st.Name, st.MaxNumber, deref(st.PersonName), deref(st.PaidUntil), deref(st.OwnerID), deref(st.PickupNote), st.Open)
}
