package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"callme/graph/persisted"
	"callme/internal/store/storetest"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestQueryPlansAnswerAsGqlgen sends the same queries, as every kind of
// caller, to two instances on one database and one clock: one runs queries
// by plan (graph/plan.go), the other on gqlgen's executor alone. Every
// answer must be the same bytes, status included. The documents are every
// query the clients ship, the benchmark's, hostile shapes (aliases, repeated
// fields, fragments, __typename everywhere, directives) and, for every root
// query field, one document selecting every field below it three levels
// deep. The planned instance must have run each shipped query by plan for
// some caller (the rest fall back to gqlgen on an error, which is compared
// too), so the comparison cannot pass by never planning.
func TestQueryPlansAnswerAsGqlgen(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		clock := newWalkClock()
		dsn := e.DSN(t)
		shared := storetest.Engine{Name: e.Name, DSN: func(testing.TB) string { return dsn }}
		settings := func(plans bool) func(*config) {
			return func(c *config) {
				c.now, c.RecallGap, c.MaxActiveTickets, c.PublicCache, c.QueryPlans = clock.now, 0, 1000, 0, plans
				c.Limits.MaxComplexity, c.Limits.MaxTokens = 1<<30, 1<<30
				c.Limits.MaxRootFields, c.Limits.MaxFields = 1000, 1<<20
			}
		}
		planned := startServer(t, shared, noRateLimits, settings(true))
		w := newWalkWorld(t, planned, clock)
		w.refresh()
		gq := startServer(t, shared, noRateLimits, settings(false))
		sc := newWalkSchema(t)

		type doc struct{ name, text string }
		var docs []doc
		shipped := map[string]bool{}
		m, err := persisted.Shipped()
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range m.Operations() {
			if op.Kind == "query" {
				docs = append(docs, doc{op.Component + "/" + op.Name, op.Document})
				shipped[op.Component+"/"+op.Name] = true
			}
		}
		stall := `"` + w.stallA + `"`
		docs = append(docs,
			doc{"bench/sellers", `query($n: Int) { sellers(first: $n) { edges { node { id name prefix open menu { id name priceCents available } } } } }`},
			doc{"bench/queue", `query($s: ID!) { queue(sellerId: $s) { id number code status note createdAt seller { id name prefix } } }`},
			doc{"bench/waiting", `query($n: Int) { sellers(first: $n) { edges { node { id name waitingCount } } } }`},
			doc{"aliases", `{ a: sellers(first: 2) { edges { node { id x: name name n: name menu { id } m: menu { name } menu { priceCents } } } totalCount pageInfo { hasNextPage endCursor } } }`},
			doc{"two roots", `{ a: sellers(first: 2) { edges { node { id name } } } b: sellers(first: 1) { totalCount pageInfo { hasNextPage endCursor } } }`},
			doc{"fragments", `query { __typename sellers { __typename ...S edges { __typename ... on SellerEdge { cursor node { ...S2 } } } } } fragment S on SellerConnection { totalCount pageInfo { __typename startCursor } } fragment S2 on Seller { __typename id ... on Seller { name menu { __typename ...M } } ...S3 } fragment S3 on Seller { prefix open lastCalled { __typename code } } fragment M on MenuItem { id available }`},
			doc{"null", `{ seller(id: "SE00000000000000000000000000") { id } }`},
			doc{"nulls", `{ a: seller(id: ` + stall + `) { id lastCalled { id code seller { id name } } photoURL pickupNote } }`},
			doc{"directives", `query($y: Boolean = true) { sellers { edges { node { id name @include(if: $y) menu @skip(if: $y) { id } } } } }`},
			doc{"node", `{ node(id: ` + stall + `) { id ... on Seller { name } } }`},
			// Text json.Marshal escapes, apart: <, > and & in names and
			// notes, U+2028 and U+2029 in a person's name (newWalkWorld).
			doc{"html", `{ sellers { edges { node { name pickupNote } } } }`},
			doc{"line separators", `{ sellers { edges { node { personName } } } }`},
		)
		for _, root := range sc.Query.Fields {
			if sel := planDocSelection(sc, root.Type.Name(), 3); sel != "" && !strings.HasPrefix(root.Name, "__") {
				docs = append(docs, doc{"every/" + root.Name, planDocRoot(root, sel)})
			}
		}

		plannedOnce := map[string]bool{}
		compared := 0
		for _, d := range docs {
			q, gerr := gqlparser.LoadQuery(sc.Schema, d.text)
			if gerr != nil {
				t.Fatalf("%s: %v", d.name, gerr)
			}
			sets := planDocVariables(t, w, sc, q)
			if len(sets) == 0 {
				t.Errorf("%s: no values for its variables", d.name)
			}
			for _, vars := range sets {
				for _, caller := range walkCallers {
					before := planCount(t, planned, "planned")
					a := rawQuery(t, planned, w.tokens[caller], d.text, vars)
					if planCount(t, planned, "planned") > before {
						plannedOnce[d.name] = true
					}
					b := rawQuery(t, gq, w.tokens[caller], d.text, vars)
					compared++
					if !bytes.Equal(a, b) && (errorCount(t, a) < 2 || !bytes.Equal(sameOrder(t, a), sameOrder(t, b))) {
						t.Errorf("%s as %s with %v:\nplanned: %s\ngqlgen:  %s", d.name, caller, vars, a, b)
					}
				}
			}
		}
		// Documents that cannot be planned, and why.
		unplannable := map[string]string{
			"console/ConsoleSlip":  "node(id) returns the Node interface",
			"console/ConsoleDay":   "three root fields",
			"console/ConsoleAudit": "auditLog is not a plannable root field",
			"console/ConsoleStats": "sellerStats is not a plannable root field",
			"every/auditLog":       "not a plannable root field",
			"every/contentReviews": "not a plannable root field",
			"every/sellerQRCode":   "not a plannable root field",
			"every/sellerStats":    "not a plannable root field",
			"two roots":            "two root fields",
			"directives":           "@include and @skip",
			"node":                 "the Node interface",
		}
		var missed []string
		for _, d := range docs {
			if why, ok := unplannable[d.name]; ok {
				if plannedOnce[d.name] {
					t.Errorf("%s ran by plan, but %s", d.name, why)
				}
				continue
			}
			if !plannedOnce[d.name] && (shipped[d.name] || !strings.HasPrefix(d.name, "every/")) {
				missed = append(missed, d.name)
			}
		}
		sort.Strings(missed)
		if len(missed) > 0 {
			t.Errorf("never ran by plan for any caller: %s", strings.Join(missed, ", "))
		}
		t.Logf("%d answers compared over %d documents; planned: %d, fell back: %d, unplanned: %d", compared, len(docs),
			planCount(t, planned, "planned"), planCount(t, planned, "fallback"), planCount(t, planned, "unplanned"))
	})
}

// planDocSelection selects every field of an object type that takes no
// required argument, depth levels of objects deep; interfaces and unions
// are left out (they are never planned).
func planDocSelection(sc *walkSchema, typ string, depth int) string {
	d := sc.Types[typ]
	if d == nil || d.Kind != ast.Object || depth == 0 {
		return ""
	}
	var parts []string
	for _, f := range d.Fields {
		if strings.HasPrefix(f.Name, "__") || requiredArgs(f) {
			continue
		}
		switch sc.Types[f.Type.Name()].Kind {
		case ast.Scalar, ast.Enum:
			parts = append(parts, f.Name)
		case ast.Object:
			if sub := planDocSelection(sc, f.Type.Name(), depth-1); sub != "" {
				parts = append(parts, f.Name+" "+sub)
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "{ __typename " + strings.Join(parts, " ") + " }"
}

// planDocRoot is a query of one root field with its arguments as variables.
func planDocRoot(f *ast.FieldDefinition, sel string) string {
	var defs, args []string
	for _, a := range f.Arguments {
		defs = append(defs, "$"+a.Name+": "+a.Type.String())
		args = append(args, a.Name+": $"+a.Name)
	}
	var b strings.Builder
	b.WriteString("query")
	if len(defs) > 0 {
		b.WriteString("(" + strings.Join(defs, ", ") + ")")
	}
	b.WriteString(" { " + f.Name)
	if len(args) > 0 {
		b.WriteString("(" + strings.Join(args, ", ") + ")")
	}
	b.WriteString(" " + sel + " }")
	return b.String()
}

// planDocVariables gives sets of variables for a document: each candidate of
// the first variable that has several (stalls, tickets, …), the first
// candidate of the others. None when a required variable has no candidate.
func planDocVariables(t *testing.T, w *walkWorld, sc *walkSchema, q *ast.QueryDocument) []map[string]any {
	t.Helper()
	sets := []map[string]any{{}}
	for _, op := range q.Operations {
		for _, v := range op.VariableDefinitions {
			c := w.fill(sc, v.Variable, v.Type, "", nil)
			if v.Variable == "id" || v.Variable == "s" { // seller(id: $id), the benchmark's queue(sellerId: $s)
				c = nil
				for _, id := range w.ids("Seller") {
					c = append(c, id)
				}
			}
			if len(c) == 0 {
				if v.Type.NonNull && v.DefaultValue == nil {
					return nil
				}
				continue
			}
			if len(sets) == 1 && len(c) > 1 {
				base := sets[0]
				sets = nil
				for _, x := range c {
					s := map[string]any{v.Variable: x}
					for k, y := range base {
						s[k] = y
					}
					sets = append(sets, s)
				}
				continue
			}
			for _, s := range sets {
				s[v.Variable] = c[0]
			}
		}
	}
	return sets
}

// rawQuery posts a query and returns the status code, the Content-Type and
// the body.
func rawQuery(t *testing.T, s *testServer, token, query string, vars map[string]any) []byte {
	t.Helper()
	res, err := http.DefaultClient.Do(s.request(token, map[string]any{"query": query, "variables": vars}))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(strconv.Itoa(res.StatusCode)+" "+res.Header.Get("Content-Type")+"\n"), raw...)
}

// errorCount is the number of errors of an answer from rawQuery.
func errorCount(t *testing.T, resp []byte) int {
	_, body, _ := bytes.Cut(resp, []byte("\n"))
	var r struct{ Errors []json.RawMessage }
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v", resp, err)
	}
	return len(r.Errors)
}

// sameOrder puts an answer's errors in one order, for answers with two or
// more: gqlgen resolves root fields concurrently, so their errors come in
// either order on gqlgen alone. Answers are otherwise compared as sent.
func sameOrder(t *testing.T, resp []byte) []byte {
	status, body, _ := bytes.Cut(resp, []byte("\n"))
	var r struct {
		Errors     []json.RawMessage `json:"errors"`
		Data       json.RawMessage   `json:"data"`
		Extensions json.RawMessage   `json:"extensions"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v", resp, err)
	}
	sort.Slice(r.Errors, func(i, j int) bool { return bytes.Compare(r.Errors[i], r.Errors[j]) < 0 })
	out, _ := json.Marshal(r)
	return append(append(status, '\n'), out...)
}

var planCountLine = regexp.MustCompile(`(?m)^callme_query_plans_total\{outcome="(\w+)"\} (\d+)$`)

// planCount reads callme_query_plans_total{outcome} from /metrics.
func planCount(t *testing.T, s *testServer, outcome string) int {
	t.Helper()
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, m := range planCountLine.FindAllStringSubmatch(string(raw), -1) {
		if m[1] == outcome {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	t.Fatalf("/metrics has no callme_query_plans_total{outcome=%q}", outcome)
	return 0
}
