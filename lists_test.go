package main

import (
	"encoding/json"
	"testing"

	"callme/internal/store/storetest"
)

// TestListsReadNotesLikeNode: a customer's note reads the same in every list
// that returns the ticket as through node(id), for its owner and its seller
// (defect 5: lists loaded only the columns GraphQL asked for, so the note's
// visibility check, which reads owner and stall, saw neither).
func TestListsReadNotesLikeNode(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e)
		seller, stall := s.openStall(t, "Noodles", "A")
		student := s.login(t, "CUSTOMER", "student")
		var f struct{ Fetch struct{ ID string } }
		s.ok(t, student, `mutation($s: ID!) { fetch(input: {sellerId: $s, note: "不要香菜 🌶️"}) { id } }`, map[string]any{"s": stall}, &f)

		day := ""
		var bd struct{ Node struct{ BusinessDay string } }
		s.ok(t, seller, `query($id: ID!) { node(id: $id) { ... on Ticket { businessDay } } }`, map[string]any{"id": f.Fetch.ID}, &bd)
		day = bd.Node.BusinessDay

		for _, tc := range []struct {
			name, token, query string
		}{
			{"node as owner", student, `query($t: ID!) { x: node(id: $t) { ... on Ticket { note } } }`},
			{"myTickets", student, `{ x: myTickets { note } }`},
			{"node as seller", seller, `query($t: ID!) { x: node(id: $t) { ... on Ticket { note } } }`},
			{"queue", seller, `query($s: ID!) { x: queue(sellerId: $s) { note } }`},
			{"sellerTickets", seller, `query($s: ID!, $d: String!) { x: sellerTickets(sellerId: $s, day: $d) { code note } }`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var d struct{ X json.RawMessage }
				s.ok(t, tc.token, tc.query, map[string]any{"s": stall, "t": f.Fetch.ID, "d": day}, &d)
				var notes []struct{ Note *string }
				if err := json.Unmarshal(d.X, &notes); err != nil {
					var one struct{ Note *string }
					if err := json.Unmarshal(d.X, &one); err != nil {
						t.Fatal(err)
					}
					notes = append(notes, one)
				}
				if len(notes) != 1 || notes[0].Note == nil || *notes[0].Note != "不要香菜 🌶️" {
					t.Errorf("%s: note reads %s, want the customer's note", tc.name, d.X)
				}
			})
		}
	})
}

// TestLastCalledInMixedOperation: a stall's lastCalled reads the same when a
// stall list shares the operation (defect 6: the page loader answered from
// the list's partially loaded stalls, whose call_seq it had not selected).
func TestLastCalledInMixedOperation(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e)
		seller, stall := s.openStall(t, "Noodles", "A")
		s.openStall(t, "Rice", "B")
		student := s.login(t, "CUSTOMER", "student")
		s.ok(t, student, `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": stall}, nil)
		s.ok(t, seller, `mutation($s: ID!) { callNext(sellerId: $s) { code } }`, map[string]any{"s": stall}, nil)

		for _, q := range []string{
			`query($s: ID!) { one: seller(id: $s) { lastCalled { code } } }`,
			`query($s: ID!) { sellers { edges { node { id name } } } one: seller(id: $s) { lastCalled { code } } }`,
			`query($s: ID!) { one: seller(id: $s) { lastCalled { code } } sellers { edges { node { id lastCalled { code } } } } }`,
		} {
			for i := 0; i < 5; i++ { // the defect showed in most runs, not all
				var d struct {
					One struct{ LastCalled *struct{ Code string } }
				}
				s.ok(t, "", q, map[string]any{"s": stall}, &d)
				if d.One.LastCalled == nil || d.One.LastCalled.Code != "A001" {
					t.Fatalf("%s\nlastCalled = %+v, want A001", q, d.One.LastCalled)
				}
			}
		}
	})
}

// TestSellersPagination walks the stall list page by page through its
// cursors: every stall once, in creation order, with totalCount only as asked.
func TestSellersPagination(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e)
		var want []string
		for _, name := range []string{"Noodles", "Malatang", "Rice", "Tea", "Dumplings"} {
			_, id := s.openStall(t, name, "A")
			want = append(want, id)
		}
		type page struct {
			Sellers struct {
				Edges []struct {
					Node   struct{ ID string }
					Cursor string
				}
				PageInfo struct {
					HasNextPage, HasPreviousPage bool
					EndCursor                    *string
				}
				TotalCount int
			}
		}
		var got []string
		var after *string
		for i := 0; ; i++ {
			var p page
			s.ok(t, "", `query($a: String) { sellers(first: 2, after: $a) { edges { node { id } cursor } pageInfo { hasNextPage hasPreviousPage endCursor } totalCount } }`,
				map[string]any{"a": after}, &p)
			if p.Sellers.TotalCount != len(want) {
				t.Fatalf("page %d: totalCount %d, want %d", i, p.Sellers.TotalCount, len(want))
			}
			if p.Sellers.PageInfo.HasPreviousPage != (after != nil) {
				t.Errorf("page %d: hasPreviousPage %v", i, p.Sellers.PageInfo.HasPreviousPage)
			}
			for _, e := range p.Sellers.Edges {
				got = append(got, e.Node.ID)
			}
			if !p.Sellers.PageInfo.HasNextPage {
				break
			}
			if i > len(want) {
				t.Fatal("pagination does not end")
			}
			after = p.Sellers.PageInfo.EndCursor
		}
		if len(got) != len(want) {
			t.Fatalf("walked %d stalls, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("stall %d is %s, want %s (creation order)", i, got[i], want[i])
			}
		}
		for _, bad := range []string{"garbage", "", "gqFp"} {
			r := s.query(t, "", `query($a: String) { sellers(after: $a) { totalCount } }`, map[string]any{"a": bad})
			if bad == "" {
				if len(r.Errors) != 0 {
					t.Errorf("empty after: %+v", r.Errors)
				}
				continue
			}
			if r.code() != "BAD_USER_INPUT" {
				t.Errorf("after %q: %+v, want BAD_USER_INPUT", bad, r.Errors)
			}
		}
	})
}
