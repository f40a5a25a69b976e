package main

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"callme/graph"
	"callme/internal/store/storetest"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestSellerFieldsReadTheSameListedAndAlone: every field of Seller, alone
// and through a listed stall's last call's own stall (the stall loader),
// answers on the stall list exactly what it answers for the same stall
// read alone (`seller(id:)`), for an admin (who lists unpaid stalls too)
// and an anonymous caller, on stalls whose every column differs from its
// default. A field added to Seller is covered by the schema walk.
func TestSellerFieldsReadTheSameListedAndAlone(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits, func(c *config) { c.PublicCache = 0 })
		ctx := context.Background()
		admin := s.login(t, "SELLER", "admin")
		for i, name := range []string{"Noodles", "Dumplings", "Closed", "Unpaid"} {
			seller, id := s.openStallWith(t, name, map[string]any{"prefix": string(rune('P' + i))})
			s.ok(t, seller, benchFetchDoc, map[string]any{"s": id}, nil)
			s.ok(t, seller, benchFetchDoc, map[string]any{"s": id}, nil)
			s.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": id}, nil)
			if _, err := s.app.db.Client.ExecContext(ctx, "UPDATE sellers SET name = ?, person_name = ?, pickup_note = ?, no_show_after_calls = ?, no_show_after_minutes = ?, max_number = ?, photo = ? WHERE id = ?",
				name+" 面馆 🍜", "王师傅"+strings.Repeat("😀", i), "三号窗口 window "+name, 2+i, 7+i, 500+i, "p/"+id+".jpg", id); err != nil {
				t.Fatal(err)
			}
			switch name {
			case "Closed":
				s.ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: false) { open } }`, map[string]any{"id": id}, nil)
			case "Unpaid": // still open, but its paid term ended
				if _, err := s.app.db.Client.ExecContext(ctx, "UPDATE sellers SET paid_until = ? WHERE id = ?", time.Now().Add(-time.Hour).UTC(), id); err != nil {
					t.Fatal(err)
				}
			}
		}

		sels := fieldSelections("Seller", "{ id }")
		// A listed stall's last call's stall comes through the stall loader.
		sels = append(sels, "name lastCalled { seller { id personName pickupNote maxNumber noShowAfterCalls open } }")
		if len(sels) < 15 {
			t.Fatalf("%d Seller fields: the schema walk is broken", len(sels))
		}

		for _, who := range []struct{ name, token string }{{"admin", admin}, {"anonymous", ""}} {
			for _, sel := range sels {
				var list struct {
					Sellers struct {
						Edges []struct{ Node map[string]json.RawMessage }
					}
				}
				s.ok(t, who.token, `{ sellers(first: 50) { edges { node { id `+sel+` } } } }`, nil, &list)
				if len(list.Sellers.Edges) < 2 {
					t.Fatalf("%s: %d stalls listed", who.name, len(list.Sellers.Edges))
				}
				for _, edge := range list.Sellers.Edges {
					var one struct{ Seller map[string]json.RawMessage }
					var id string
					_ = json.Unmarshal(edge.Node["id"], &id)
					s.ok(t, who.token, `query($id: ID!) { seller(id: $id) { id `+sel+` } }`, map[string]any{"id": id}, &one)
					if !reflect.DeepEqual(decodeFields(t, edge.Node), decodeFields(t, one.Seller)) {
						t.Errorf("%s, %q: the list answers %s, the stall read whole %s", who.name, sel, edge.Node, one.Seller)
					}
				}
			}
		}

		// The list reads only the columns its node fields need; these ways
		// of selecting a field must still reach them. list is what the
		// sellers field selects, alone what the stall read whole selects.
		for _, c := range []struct {
			name, list, alone, frags string
			vars                     map[string]any
		}{
			{"fragment spread", `edges { node { id ...F } }`, `personName pickupNote`, `fragment F on Seller { personName pickupNote }`, nil},
			{"nested inline fragments", `edges { node { id ... on Node { ... on Seller { maxNumber } } } }`, `maxNumber`, ``, nil},
			{"aliases", `edges { node { id a: noShowAfterMinutes b: name c: name } }`, `a: noShowAfterMinutes b: name c: name`, ``, nil},
			{"@include true", `edges { node { id personName @include(if: $x) pickupNote @skip(if: $x) } }`, `personName @include(if: $x) pickupNote @skip(if: $x)`, ``, map[string]any{"x": true}},
			{"@include false", `edges { node { id personName @include(if: $x) pickupNote @skip(if: $x) } }`, `personName @include(if: $x) pickupNote @skip(if: $x)`, ``, map[string]any{"x": false}},
			{"edge fragment", `edges { ...E }`, `noShowAfterCalls`, `fragment E on SellerEdge { node { id noShowAfterCalls } }`, nil},
			{"two edges selections", `edges { node { id name } } more: edges { again: node { id personName open } }`, `name personName open`, ``, nil},
		} {
			decl, aloneDecl := "", "($id: ID!)"
			if c.vars != nil {
				decl, aloneDecl = "($x: Boolean!)", "($id: ID!, $x: Boolean!)"
			}
			var list struct{ Sellers map[string]json.RawMessage }
			s.ok(t, admin, `query`+decl+` { sellers(first: 50) { `+c.list+` } } `+c.frags, c.vars, &list)
			listed := map[string]map[string]any{} // stall id: every field any of its nodes answered
			for _, edges := range list.Sellers {
				var es []map[string]map[string]json.RawMessage
				if err := json.Unmarshal(edges, &es); err != nil {
					t.Fatal(err)
				}
				for _, edge := range es {
					for _, node := range edge {
						fields := decodeFields(t, node)
						id, _ := fields["id"].(string)
						if listed[id] == nil {
							listed[id] = map[string]any{}
						}
						maps.Copy(listed[id], fields)
					}
				}
			}
			if len(listed) < 2 {
				t.Fatalf("%s: %d stalls listed", c.name, len(listed))
			}
			for id, got := range listed {
				vars := map[string]any{"id": id}
				maps.Copy(vars, c.vars)
				var one struct{ Seller map[string]json.RawMessage }
				s.ok(t, admin, `query`+aloneDecl+` { seller(id: $id) { id `+c.alone+` } }`, vars, &one)
				if want := decodeFields(t, one.Seller); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: the list answers %v, the stall read whole %v", c.name, got, want)
				}
			}
		}
	})
}

// fieldSelections selects each field of the schema's type typeName, one
// per selection, with sub for the fields of object type.
func fieldSelections(typeName, sub string) []string {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var sels []string
	for _, f := range schema.Types[typeName].Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		sel := f.Name
		if def := schema.Types[f.Type.Name()]; def != nil && def.Kind == ast.Object {
			sel += " " + sub
		}
		sels = append(sels, sel)
	}
	return sels
}

// decodeFields decodes a node's fields for comparison.
func decodeFields(t *testing.T, m map[string]json.RawMessage) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range m {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		out[k] = x
	}
	return out
}
