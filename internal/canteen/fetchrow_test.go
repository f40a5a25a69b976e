package canteen_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestFetchAnswersTheTicketAsStored: the ticket a fetch answers is the row
// it wrote, field by field. On MySQL the fast path builds the answer in Go
// and the row in SQL (number, issue sequence and code from LAST_INSERT_ID,
// the code padded by LPAD), so every code width, wrap, a customer's and a
// walk-up ticket, and a note and idempotency key at their limits in CJK and
// emoji are checked on both engines.
func TestFetchAnswersTheTicketAsStored(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e, func(c *canteen.Config) { c.MaxActiveTickets = 100 })
		note := strings.Repeat("辣", model.MaxTicketNote-1) + "🌶"
		for i, tc := range []struct {
			prefix    string
			maxNumber int
			fetches   int // the last ones wrap past maxNumber
		}{
			{"A", 9, 11},
			{"", 99, 3},
			{"KFCX", 9999, 2},
			{"B", 100, 3},
		} {
			seller, st := f.stall(t, fmt.Sprintf("Stall%d", i), tc.prefix, tc.maxNumber)
			student := f.as(t, model.AppCustomer, fmt.Sprintf("student-%d", i))
			for n := range tc.fetches {
				in := canteen.FetchInput{SellerID: st.ID}
				who, kind := seller, "walk-up"
				if n%2 == 1 {
					who, kind = student, "customer"
					d := fmt.Sprint(n) // keys differ per fetch, each at the limit
					k := strings.Repeat("键", model.MaxIdempotencyKey-1-len(d)) + d + "🔑"
					in.Note, in.IdempotencyKey = &note, &k
				}
				got := must[*ent.Ticket](t)(f.svc.Fetch(who, in))
				row, err := f.db.Client.Ticket.Get(t.Context(), got.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ticketDiff(got, row) {
					t.Errorf("%s fetch %d at %q/%d: answered %s", kind, n+1, tc.prefix, tc.maxNumber, d)
				}
				if want := canteen.FormatCode(tc.prefix, got.Number, tc.maxNumber); row.Code != want {
					t.Errorf("stored code %q, want %q", row.Code, want)
				}
				// Tickets cancelled at once, so numbers wrap rather than run out.
				if _, err := f.svc.Cancel(seller, got.ID); err != nil {
					t.Fatal(err)
				}
				f.clock.Add(time.Second)
			}
		}
	})
}

// ticketDiff lists the exported fields of two tickets that differ, times
// compared as instants (the database answers them in UTC).
func ticketDiff(a, b *ent.Ticket) []string {
	var out []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if !f.IsExported() || f.Name == "Edges" {
			continue
		}
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		same := reflect.DeepEqual(x, y)
		switch x := x.(type) {
		case time.Time:
			same = x.Equal(y.(time.Time))
		case *time.Time:
			y := y.(*time.Time)
			same = (x == nil) == (y == nil) && (x == nil || x.Equal(*y))
		}
		if !same {
			out = append(out, fmt.Sprintf("%s %s, stored %s", f.Name, show(va.Field(i)), show(vb.Field(i))))
		}
	}
	return out
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "nil"
		}
		v = v.Elem()
	}
	return fmt.Sprintf("%v", v.Interface())
}

// TestFetchCancelledWhileWaitingAnswersWhatHappened: a fetch whose request
// ends while it waits for the stall's counter row answers what the
// database did: its ticket if it was issued, an error only if none was.
// (The one-round-trip batch holds COMMIT: it answered the context's error
// and committed the ticket once the lock was free.)
func TestFetchCancelledWhileWaitingAnswersWhatHappened(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		if e.Name != "mysql" {
			t.Skip("SQLite has one writer: a fetch waits for it before its transaction starts")
		}
		f := newFixture(t, e)
		seller, st := f.stall(t, "Waiting", "W", 999)
		must[*ent.Ticket](t)(f.svc.Fetch(seller, canteen.FetchInput{SellerID: st.ID})) // the day's counter row
		for _, who := range []context.Context{seller, f.as(t, model.AppCustomer, "patient")} {
			holder, err := f.db.Client.Tx(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := holder.ExecContext(context.Background(), "SELECT 1 FROM `day_counters` WHERE `seller_id` = ? FOR UPDATE", st.ID); err != nil {
				t.Fatal(err)
			}
			before := f.db.Client.Ticket.Query().CountX(context.Background())
			ctx, cancel := context.WithTimeout(who, 300*time.Millisecond)
			type result struct {
				t   *ent.Ticket
				err error
			}
			done := make(chan result, 1)
			go func() {
				tk, err := f.svc.Fetch(ctx, canteen.FetchInput{SellerID: st.ID})
				done <- result{tk, err}
			}()
			time.Sleep(time.Second) // past the request's end
			if err := holder.Commit(); err != nil {
				t.Fatal(err)
			}
			r := <-done
			cancel()
			issued := f.db.Client.Ticket.Query().CountX(context.Background()) - before
			if (r.err == nil) != (issued == 1) || issued > 1 {
				t.Errorf("fetch answered %v; %d tickets issued", r.err, issued)
			}
		}
	})
}
