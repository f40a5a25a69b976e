package canteen_test

import (
	"strings"
	"testing"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestFetchStatements: a fetch at a stall whose counter is known runs only
// the statements that must hold the write lock, and none that reads the
// seller, the user or the counter row first. On MySQL that is one batch
// (counter UPDATE, ticket INSERT, COMMIT; a customer's adds the took
// UPDATE at its head); on SQLite, whose one writer serialises every write
// transaction, the counter UPDATE … RETURNING (the open and paid copy,
// and for a customer the cap, in its WHERE) and the ticket INSERT, where
// the general path read the seller, counted the cap, locked the counter
// and updated it after the INSERT. A customer's idempotency key is looked
// up before the transaction on SQLite only (MySQL's unique index answers
// a retry, then the key's lookup runs).
func TestFetchStatements(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		var stmts statements
		f := newHookedFixture(t, e, stmts.hook)
		svc, db := f.svc, f.db
		seller, st := f.stall(t, "Eta", "E", 999)
		customer := f.as(t, model.AppCustomer, "carol")
		must[*ent.Ticket](t)(svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})) // the counter is known

		note, key := "少辣🌶", "键🔑"
		for _, tc := range []struct {
			kind   string
			who    func() *ent.Ticket
			mysql  []string // each statement's start
			sqlite []string
		}{
			{"walk-up", func() *ent.Ticket {
				return must[*ent.Ticket](t)(svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID}))
			}, []string{"UPDATE `day_counters`"}, []string{"UPDATE `day_counters`", "INSERT INTO `tickets`"}},
			{"customer", func() *ent.Ticket {
				return must[*ent.Ticket](t)(svc.Fetch(customer, canteen.FetchInput{SellerID: st.ID, Note: &note, IdempotencyKey: &key}))
			}, []string{"UPDATE `users`"}, []string{"SELECT `tickets`", "UPDATE `day_counters`", "INSERT INTO `tickets`"}},
		} {
			var tk *ent.Ticket
			got := stmts.record(func() { tk = tc.who() })
			want := tc.sqlite
			if e.Name == "mysql" {
				want = tc.mysql
			}
			ok := len(got) == len(want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], want[i])
			}
			if !ok {
				t.Errorf("%s fetch ran %d statements, want %d starting %q:", tc.kind, len(got), len(want), want)
				for _, q := range got {
					t.Logf("  %.120s", q)
				}
			}
			if row, err := db.Client.Ticket.Get(t.Context(), tk.ID); err != nil || row.Code != tk.Code {
				t.Errorf("%s ticket %s stored as %v, %v", tc.kind, tk.Code, row, err)
			}
		}
	})
}
