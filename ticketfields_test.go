package main

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"callme/internal/model"
	"callme/internal/store/storetest"
)

// TestTicketFieldsReadTheSameListedAndAlone: every field of Ticket, alone,
// answers on each list of tickets (queue and sellerTickets as the seller,
// myTickets as a customer), which read only the columns their fields need,
// exactly what it answers for the same ticket read whole (`node(id:)`), by
// the same caller, on tickets in every state: waiting with a note at its
// limit in CJK and emoji, a walk-up with its claim code, one claimed, one
// called, one done and one cancelled. A field added to Ticket is covered by
// the schema walk; the second part selects fields in every way a document
// may (fragments, aliases, @include/@skip).
func TestTicketFieldsReadTheSameListedAndAlone(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		var count, on atomic.Int64
		s := startServer(t, e, noRateLimits, countingStatements(&count, &on))
		seller, stall := s.openStall(t, "Noodles", "N")
		alice := s.login(t, "CUSTOMER", "alice")
		bob := s.login(t, "CUSTOMER", "bob")
		type tk struct {
			ID        string
			Number    int
			ClaimCode *string
		}
		fetch := func(token string, vars map[string]any) tk {
			t.Helper()
			vars["s"] = stall
			var d struct{ Fetch tk }
			s.ok(t, token, `mutation($s: ID!, $note: String) { fetch(input: {sellerId: $s, note: $note}) { id number claimCode } }`, vars, &d)
			return d.Fetch
		}
		act := func(token, mutation, id string) {
			t.Helper()
			s.ok(t, token, `mutation($id: ID!) { `+mutation+`(ticketId: $id) { id } }`, map[string]any{"id": id}, nil)
		}
		note := strings.Repeat("葱", model.MaxTicketNote-2) + "🌶😀"
		if n := len([]rune(note)); n != model.MaxTicketNote {
			t.Fatalf("note of %d characters", n)
		}
		done := fetch(alice, map[string]any{"note": "先做这个"})
		called := fetch(alice, map[string]any{})
		fetch(alice, map[string]any{"note": note}) // waiting
		cancelled := fetch(bob, map[string]any{})
		walkUp := fetch(seller, map[string]any{"note": "窗口 3 🥢"})
		claimed := fetch(seller, map[string]any{})
		fetch(bob, map[string]any{"note": note}) // waiting
		s.ok(t, bob, `mutation($s: ID!, $n: Int!, $c: String!) { claim(input: {sellerId: $s, number: $n, claimCode: $c, note: "认领"}) { id } }`,
			map[string]any{"s": stall, "n": claimed.Number, "c": *claimed.ClaimCode}, nil)
		act(seller, "call", done.ID)
		act(seller, "complete", done.ID)
		act(seller, "call", called.ID)
		act(seller, "cancel", cancelled.ID)
		if walkUp.ClaimCode == nil {
			t.Fatal("a walk-up without a claim code")
		}
		var today struct {
			MyTickets []struct{ BusinessDay string }
		}
		s.ok(t, alice, `{ myTickets { businessDay } }`, nil, &today)
		if len(today.MyTickets) != 3 {
			t.Fatalf("alice holds %d tickets of today, want 3", len(today.MyTickets))
		}
		day := today.MyTickets[0].BusinessDay

		lists := []struct {
			name, token, field string
			min                int
		}{
			{"queue", seller, `queue(sellerId: "` + stall + `")`, 5},
			{"sellerTickets", seller, `sellerTickets(sellerId: "` + stall + `", day: "` + day + `")`, 7},
			{"myTickets of alice", alice, `myTickets`, 3},
			{"myTickets of bob", bob, `myTickets`, 3},
		}
		// listed runs a list's document and merges, per ticket, every field
		// any of its answers holds.
		listed := func(t *testing.T, token, doc string, vars map[string]any) map[string]map[string]any {
			t.Helper()
			var d map[string]json.RawMessage
			s.ok(t, token, doc, vars, &d)
			out := map[string]map[string]any{}
			for _, raw := range d {
				var ts []map[string]json.RawMessage
				if err := json.Unmarshal(raw, &ts); err != nil {
					t.Fatal(err)
				}
				for _, one := range ts {
					fields := decodeFields(t, one)
					id, _ := fields["id"].(string)
					if out[id] == nil {
						out[id] = map[string]any{}
					}
					maps.Copy(out[id], fields)
				}
			}
			return out
		}
		alone := func(t *testing.T, token, decl, sel, id string, vars map[string]any) map[string]any {
			t.Helper()
			v := map[string]any{"id": id}
			maps.Copy(v, vars)
			var one struct{ Node map[string]json.RawMessage }
			s.ok(t, token, `query($id: ID!`+decl+`) { node(id: $id) { ... on Ticket { id `+sel+` } } }`, v, &one)
			return decodeFields(t, one.Node)
		}

		sels := fieldSelections("Ticket", "{ id name prefix }")
		if len(sels) < 15 {
			t.Fatalf("%d Ticket fields: the schema walk is broken", len(sels))
		}
		sels = append(sels, "__typename", strings.Join(sels, " "))
		for _, l := range lists {
			for _, sel := range sels {
				got := listed(t, l.token, `{ `+l.field+` { id `+sel+` } }`, nil)
				if len(got) < l.min {
					t.Fatalf("%s: %d tickets listed, want %d", l.name, len(got), l.min)
				}
				for id, fields := range got {
					if want := alone(t, l.token, "", sel, id, nil); !reflect.DeepEqual(fields, want) {
						t.Errorf("%s, %q: the list answers %v, the ticket read whole %v", l.name, sel, fields, want)
					}
				}
			}
		}

		// Ways of selecting a field that must still reach its columns.
		for _, c := range []struct {
			name, list, alone, frags string
			vars                     map[string]any
		}{
			{"fragment spread", `id ...F`, `code note`, `fragment F on Ticket { code note }`, nil},
			{"nested inline fragments", `id ... on Node { ... on Ticket { number calledAt } }`, `number calledAt`, ``, nil},
			{"aliases", `id a: callCount b: code c: code d: doneAt`, `a: callCount b: code c: code d: doneAt`, ``, nil},
			{"@include true", `id claimCode @include(if: $x) createdAt @skip(if: $x)`, `claimCode @include(if: $x) createdAt @skip(if: $x)`, ``, map[string]any{"x": true}},
			{"@include false", `id claimCode @include(if: $x) createdAt @skip(if: $x)`, `claimCode @include(if: $x) createdAt @skip(if: $x)`, ``, map[string]any{"x": false}},
			{"fragment on Node", `id ...N`, `trackURL`, `fragment N on Node { ... on Ticket { trackURL } }`, nil},
		} {
			decl, listDecl := "", ""
			if c.vars != nil {
				decl, listDecl = ", $x: Boolean!", "($x: Boolean!)"
			}
			for _, l := range lists {
				got := listed(t, l.token, `query`+listDecl+` { `+l.field+` { `+c.list+` } } `+c.frags, c.vars)
				if len(got) < l.min {
					t.Fatalf("%s, %s: %d tickets listed", c.name, l.name, len(got))
				}
				for id, fields := range got {
					if want := alone(t, l.token, decl, c.alone, id, c.vars); !reflect.DeepEqual(fields, want) {
						t.Errorf("%s, %s: the list answers %v, the ticket read whole %v", c.name, l.name, fields, want)
					}
				}
			}
		}

		// Positions come in one statement for the whole list, however long.
		for _, l := range lists {
			without := counted(&count, &on, func() { s.ok(t, l.token, `{ `+l.field+` { id code } }`, nil, nil) })
			with := counted(&count, &on, func() { s.ok(t, l.token, `{ `+l.field+` { id code position } }`, nil, nil) })
			if with != without+1 {
				t.Errorf("%s: %d statements with positions, %d without: want one more", l.name, with, without)
			}
		}

		// The same list twice, under two aliases, each with its own fields.
		for _, l := range lists {
			for _, doc := range []string{
				`{ a: ` + l.field + ` { id } b: ` + l.field + ` { id note code claimCode trackURL } }`,
				`{ b: ` + l.field + ` { id note code claimCode trackURL } a: ` + l.field + ` { id } }`,
			} {
				for id, fields := range listed(t, l.token, doc, nil) {
					if want := alone(t, l.token, "", "note code claimCode trackURL", id, nil); !reflect.DeepEqual(fields, want) {
						t.Errorf("%s, %s: the list answers %v, the ticket read whole %v", l.name, doc, fields, want)
					}
				}
			}
		}
	})
}
