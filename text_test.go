package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/seller"
	"callme/ent/ticket"
	"callme/internal/pulid"
	"callme/internal/store/storetest"
)

// runesOf returns n characters (runes) cycling through alphabet.
func runesOf(n int, alphabet string) string {
	a := []rune(alphabet)
	out := make([]rune, n)
	for i := range out {
		out[i] = a[i%len(a)]
	}
	return string(out)
}

// family pads whole 👨‍👩‍👧 sequences with 面 to n runes. One family is 5
// runes (three people joined by two zero-width joiners): limits count runes,
// as the schema's "characters" say, not what a phone draws as one picture.
func family(n int) string {
	const f = "👨‍👩‍👧"
	return strings.Repeat(f, n/5) + strings.Repeat("面", n%5)
}

// TestTextFieldsHoldWhatTheSchemaPromises sends every user-written text field
// of the API at its limit in CJK and emoji through the real server: it must be
// stored and read back byte for byte. One character more, an empty required
// field or a control character must answer BAD_USER_INPUT and store nothing.
func TestTextFieldsHoldWhatTheSchemaPromises(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits, func(c *config) { c.MaxActiveTickets = 1000 })
		sellerTok, id := s.openStall(t, "Text", "T")
		admin := s.login(t, "SELLER", "admin")
		alice := s.login(t, "CUSTOMER", "alice")
		db := s.app.db.Client
		ctx := context.Background()
		v := func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		// rows counts what a refused request must not add: stalls, dishes and
		// tickets that belong to a customer.
		rows := func(t *testing.T) int {
			t.Helper()
			n1, err1 := db.Seller.Query().Count(ctx)
			n2, err2 := db.MenuItem.Query().Count(ctx)
			n3, err3 := db.Ticket.Query().Where(ticket.OwnerIDNotNil()).Count(ctx)
			if err1 != nil || err2 != nil || err3 != nil {
				t.Fatal(err1, err2, err3)
			}
			return n1 + n2 + n3
		}
		newestSeller := func(t *testing.T) *ent.Seller {
			t.Helper()
			st, err := db.Seller.Query().Order(ent.Desc(seller.FieldCreatedAt)).First(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		sellerField := func(t *testing.T, field string) string {
			t.Helper()
			var d struct{ Seller map[string]any }
			s.ok(t, sellerTok, `query($id: ID!) { seller(id: $id) { `+field+` } }`, v("id", id), &d)
			str, _ := d.Seller[field].(string)
			return str
		}
		var lastTicket string // the ticket the latest accepted fetch or claim returned
		ticketNote := func(t *testing.T) string {
			t.Helper()
			if lastTicket == "" {
				return ""
			}
			var d struct{ Node struct{ Note *string } }
			s.ok(t, alice, `query($id: ID!) { node(id: $id) { ... on Ticket { note } } }`, v("id", lastTicket), &d)
			return deref(d.Node.Note)
		}
		keep := func(r gqlResponse) gqlResponse {
			if len(r.Errors) == 0 {
				var d map[string]map[string]any
				_ = jsonUnmarshal(r.Data, &d)
				for _, m := range d {
					if tid, ok := m["id"].(string); ok {
						lastTicket = tid
					}
				}
			}
			return r
		}

		for _, f := range []struct {
			field    string
			min, max int
			// set sends value; stored reads what the database now holds for
			// the field (of the newest row, for fields that create rows).
			set    func(t *testing.T, value string) gqlResponse
			stored func(t *testing.T) string
		}{
			{"createSeller.name", 1, 40,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { name } } }`,
						v("in", v("name", x, "paidUntil", "2030-01-01T00:00:00Z")))
				},
				func(t *testing.T) string {
					var d struct {
						Sellers struct {
							Edges []struct{ Node struct{ Name string } }
						}
					}
					s.ok(t, admin, `{ sellers(first: 100) { edges { node { name } } } }`, nil, &d)
					edges := d.Sellers.Edges
					return edges[len(edges)-1].Node.Name // oldest first
				}},
			{"createSeller.phone", 0, 32,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } } }`,
						v("in", v("name", "电话", "phone", x)))
				},
				// phone is not part of the API's Seller: read the database.
				func(t *testing.T) string { return deref(newestSeller(t).Phone) }},
			{"updateSeller.name", 1, 40,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, sellerTok, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`,
						v("in", v("sellerId", id, "name", x)))
				},
				func(t *testing.T) string { return sellerField(t, "name") }},
			{"updateSeller.personName", 0, 40,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, sellerTok, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`,
						v("in", v("sellerId", id, "personName", x)))
				},
				func(t *testing.T) string { return sellerField(t, "personName") }},
			{"updateSeller.phone", 0, 32,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, sellerTok, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`,
						v("in", v("sellerId", id, "phone", x)))
				},
				func(t *testing.T) string {
					st, err := db.Seller.Get(ctx, pulid.ID(id))
					if err != nil {
						t.Fatal(err)
					}
					return deref(st.Phone)
				}},
			{"updateSeller.pickupNote", 0, 100,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, sellerTok, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`,
						v("in", v("sellerId", id, "pickupNote", x)))
				},
				func(t *testing.T) string { return sellerField(t, "pickupNote") }},
			{"setMenu.items.name", 1, 40,
				func(t *testing.T, x string) gqlResponse {
					return s.query(t, sellerTok, `mutation($id: ID!, $items: [MenuItemInput!]!) { setMenu(sellerId: $id, items: $items) { id } }`,
						v("id", id, "items", []any{v("name", "茶"), v("name", x, "priceCents", 1800)}))
				},
				func(t *testing.T) string {
					var d struct {
						Seller struct{ Menu []struct{ Name string } }
					}
					s.ok(t, "", `query($id: ID!) { seller(id: $id) { menu { name } } }`, v("id", id), &d)
					if len(d.Seller.Menu) < 2 {
						return ""
					}
					return d.Seller.Menu[1].Name
				}},
			{"fetch.note", 0, 100,
				func(t *testing.T, x string) gqlResponse {
					return keep(s.query(t, alice, `mutation($in: FetchInput!) { fetch(input: $in) { id } }`,
						v("in", v("sellerId", id, "note", x))))
				},
				ticketNote},
			{"fetch.idempotencyKey", 1, 64,
				func(t *testing.T, x string) gqlResponse {
					return keep(s.query(t, alice, `mutation($in: FetchInput!) { fetch(input: $in) { id } }`,
						v("in", v("sellerId", id, "idempotencyKey", x))))
				},
				// The key is never shown: read the database.
				func(t *testing.T) string {
					if lastTicket == "" {
						return ""
					}
					tk, err := db.Ticket.Get(ctx, pulid.ID(lastTicket))
					if err != nil {
						t.Fatal(err)
					}
					return deref(tk.IdempotencyKey)
				}},
			{"claim.note", 0, 100,
				func(t *testing.T, x string) gqlResponse {
					var handed struct {
						Fetch struct {
							Number    int
							ClaimCode string
						}
					}
					s.ok(t, sellerTok, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { number claimCode } }`, v("id", id), &handed)
					return keep(s.query(t, alice, `mutation($in: ClaimInput!) { claim(input: $in) { id } }`,
						v("in", v("sellerId", id, "number", handed.Fetch.Number, "claimCode", handed.Fetch.ClaimCode, "note", x))))
				},
				ticketNote},
		} {
			t.Run(f.field, func(t *testing.T) {
				for _, x := range []string{
					runesOf(f.max, "兰州拉面🍜"),
					runesOf(f.max, "🍜"), // 4 bytes each: the most bytes a character takes
					family(f.max),
					runesOf(f.max, "é"),
				} {
					if r := f.set(t, x); len(r.Errors) > 0 {
						t.Fatalf("%d characters (%d bytes) %q: %+v", f.max, len(x), x, r.Errors)
					}
					if got := f.stored(t); got != x {
						t.Fatalf("stored %q, want %q byte for byte", got, x)
					}
				}
				// Space around the text is not part of it, nor of the count.
				x := runesOf(f.max, "拉面🍜")
				if r := f.set(t, "  "+x+"\u3000 "); len(r.Errors) > 0 {
					t.Fatalf("%q with spaces around: %+v", x, r.Errors)
				}
				if got := f.stored(t); got != x {
					t.Fatalf("stored %q, want %q without the spaces", got, x)
				}

				// Bidi overrides and isolates are taken out wherever they
				// are (they make a board show text reversed: "Evil‮gnp.exe"),
				// and not counted; joiners inside emoji stay (family above).
				bidi := "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
				if r := f.set(t, "\u202e"+string([]rune(x)[:f.max/2])+bidi+string([]rune(x)[f.max/2:])+"\u2069"); len(r.Errors) > 0 {
					t.Fatalf("%q with bidi controls: %+v", x, r.Errors)
				}
				if got := f.stored(t); got != x {
					t.Fatalf("stored %q, want %q without the bidi controls", got, x)
				}
				// Text of invisible characters only is empty: it clears an
				// optional field and is refused for a required one (below).
				if f.min == 0 {
					if r := f.set(t, ""); len(r.Errors) > 0 {
						t.Fatalf("empty optional field: %+v", r.Errors)
					}
					empty := f.stored(t)
					if r := f.set(t, " \u200b\u200d\u2060\ufeff\u200c "); len(r.Errors) > 0 {
						t.Fatalf("invisible-only text in an optional field: %+v", r.Errors)
					}
					if got := f.stored(t); got != empty {
						t.Fatalf("invisible-only text stored as %q, want it empty (%q)", got, empty)
					}
				}

				bad := []string{
					runesOf(f.max+1, "兰州拉面🍜"),
					runesOf(f.max+1, "🍜"),
					runesOf(f.max+1, "a"),
					family(f.max + 1),
					"兰州\x00拉面",
					"兰州\n拉面",
					"兰州\t拉面",
					"兰州\u0085拉面", // C1 control (NEL)
					"兰州\u2028拉面", // line separator
				}
				if f.min > 0 {
					bad = append(bad, "", "   ", "\u3000",
						"\u202e", bidi, // nothing left once the bidi controls are out
						"\u200b", "\u200d", "\u2060\ufeff\u200c", " \u200b\u3000\u200b ", "\u3164\u115f", "\u2800", "\u00ad\u034f\ufe0f")
				}
				for _, x := range bad {
					before, n := f.stored(t), rows(t)
					r := f.set(t, x)
					if r.code() != "BAD_USER_INPUT" {
						t.Errorf("%q (%d characters): %q %+v, want BAD_USER_INPUT", x, len([]rune(x)), r.code(), r.Errors)
						continue
					}
					msg := r.Errors[0].Message
					if !strings.Contains(msg, f.field[strings.LastIndex(f.field, ".")+1:]) {
						t.Errorf("%q: message %q does not name the field", x, msg)
					}
					if got := f.stored(t); got != before {
						t.Errorf("%q was refused but the field changed from %q to %q", x, before, got)
					}
					if got := rows(t); got != n {
						t.Errorf("%q was refused but %d rows were added", x, got-n)
					}
				}
				// The message names the limit too.
				r := f.set(t, runesOf(f.max+1, "兰"))
				if msg := fmt.Sprint(r.Errors); !strings.Contains(msg, fmt.Sprint(f.max)) {
					t.Errorf("too long: message %q does not name the limit %d", msg, f.max)
				}
			})
		}
	})
}

// TestPricesAndPaidTermsStayInRange: a price must fit the schema's Int and a
// sane range, and a paid term a sane date; anything else is BAD_USER_INPUT
// and stores nothing (a year-1 paidUntil used to be stored and read back null).
func TestPricesAndPaidTermsStayInRange(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits)
		sellerTok, id := s.openStall(t, "Price", "P")
		admin := s.login(t, "SELLER", "admin")
		db := s.app.db.Client
		ctx := context.Background()

		setPrice := `mutation($id: ID!, $p: Int) { setMenu(sellerId: $id, items: [{name: "面", priceCents: $p}]) { menu { priceCents } } }`
		menuPrice := func(t *testing.T) string {
			t.Helper()
			var d struct {
				Seller struct{ Menu []struct{ PriceCents *int } }
			}
			s.ok(t, "", `query($id: ID!) { seller(id: $id) { menu { priceCents } } }`, map[string]any{"id": id}, &d)
			if len(d.Seller.Menu) != 1 || d.Seller.Menu[0].PriceCents == nil {
				return fmt.Sprint(d.Seller.Menu)
			}
			return fmt.Sprint(*d.Seller.Menu[0].PriceCents)
		}
		for _, tc := range []struct {
			price any
			ok    bool
		}{
			{0, true},
			{1800, true},
			{10_000_000, true},
			{-1, false},
			{10_000_001, false},
			{2147483647, false},
			{2147483648, false}, // beyond a GraphQL Int
			{int64(1) << 40, false},
			{int64(9007199254740993), false},
		} {
			before := menuPrice(t)
			r := s.query(t, sellerTok, setPrice, map[string]any{"id": id, "p": tc.price})
			switch {
			case tc.ok && len(r.Errors) > 0:
				t.Errorf("priceCents %v: %+v", tc.price, r.Errors)
			case tc.ok:
				if got := menuPrice(t); got != fmt.Sprint(tc.price) {
					t.Errorf("priceCents %v read back as %s", tc.price, got)
				}
			case r.code() != "BAD_USER_INPUT":
				t.Errorf("priceCents %v: %q %+v, want BAD_USER_INPUT", tc.price, r.code(), r.Errors)
			default:
				if got := menuPrice(t); got != before {
					t.Errorf("priceCents %v was refused but the menu changed from %s to %s", tc.price, before, got)
				}
			}
		}

		create := `mutation($at: Time) { createSeller(input: {name: "付费", paidUntil: $at}) { seller { paidUntil } } }`
		for _, tc := range []struct {
			at string
			ok bool
		}{
			{"2000-01-01T00:00:00Z", true}, // long past: an unpaid stall
			{"2030-06-01T12:00:00+08:00", true},
			{"2200-01-01T00:00:00Z", true},
			{"0001-01-01T00:00:00Z", false},
			{"1999-12-31T23:59:59Z", false},
			{"2000-01-01T07:59:59+08:00", false},
			{"2200-01-01T00:00:00.000001Z", false},
			{"9999-12-31T23:59:59Z", false},
			{"", false}, // gqlgen reads "" as the zero time
		} {
			n, err := db.Seller.Query().Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r := s.query(t, admin, create, map[string]any{"at": tc.at})
			if tc.ok {
				var d struct {
					CreateSeller struct {
						Seller struct{ PaidUntil *time.Time }
					}
				}
				if len(r.Errors) > 0 || jsonUnmarshal(r.Data, &d) != nil {
					t.Errorf("paidUntil %q: %+v", tc.at, r.Errors)
					continue
				}
				want, _ := time.Parse(time.RFC3339, tc.at)
				if got := d.CreateSeller.Seller.PaidUntil; got == nil || !got.Equal(want) {
					t.Errorf("paidUntil %q read back as %v", tc.at, got)
				}
				continue
			}
			if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "paidUntil") {
				t.Errorf("paidUntil %q: %q %+v, want BAD_USER_INPUT naming paidUntil", tc.at, r.code(), r.Errors)
			}
			if m, _ := db.Seller.Query().Count(ctx); m != n {
				t.Errorf("paidUntil %q was refused but %d stalls were created", tc.at, m-n)
			}
		}
	})
}
