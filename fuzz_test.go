package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"callme/internal/store/storetest"
)

// FuzzGraphQL throws arbitrary documents, variables and operation names at
// the real endpoint: the answer is never a 5xx, never a panic, and always
// JSON. Seeds: testdata/fuzz/FuzzGraphQL and the f.Add calls below.
func FuzzGraphQL(f *testing.F) {
	for _, seed := range [][3]string{
		{`{ me { id roles } }`, `{}`, ``},
		{`query Q($id: ID!) { seller(id: $id) { name menu { name } lastCalled { code note } } }`, `{"id":"SL0"}`, `Q`},
		{`mutation { fetch(input: {sellerId: "x", note: "n"}) { id } }`, `null`, ``},
		{`{ sellers(first: -1, after: "!!") { edges { cursor } } }`, `{"a":[1,2]}`, ``},
		{`subscription { calledNumbers(sellerId: "x") { seq } }`, `{}`, ``},
		{`{ node(id: "TK") { ... on Ticket { note } } }`, `{}`, `nope`},
		{`fragment F on Query { ...F } { ...F }`, `{}`, ``},
		// The fan-out document shape (a board's calls with the ticket and its
		// stall) and the hostile shapes the budgets refuse: a doubling
		// fragment chain, aliases past the root-field cap, nested lists.
		{`subscription B($id: ID!, $after: Int) { calledNumbers(sellerId: $id, after: $after) { seq code announcement calledAt ticket { id number status callCount seller { name lastCalled { code seller { menu { name } } } } } } }`, `{"id":"SL0","after":0}`, `B`},
		{fragmentChain(25), `{}`, ``},
		{`{ ` + aliases(30, "sellers(first: 1) { totalCount }") + ` }`, `{}`, ``},
		{`{ sellers(first: 100) { edges { node { menu { name } lastCalled { seller { menu { name } lastCalled { code } } } } } } }`, `{}`, ``},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	s := startServer(f, storetest.Engines()[0]) // shared by every input
	token := s.login(f, "CUSTOMER", "fuzzer")
	f.Fuzz(func(t *testing.T, query, variables, operationName string) {
		body, _ := json.Marshal(map[string]any{
			"query":         query,
			"variables":     json.RawMessage(validJSONOr(variables, "null")),
			"operationName": operationName,
		})
		for _, tok := range []string{"", token} {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Fatalf("status %d for %q %q: %s", res.StatusCode, query, variables, b)
			}
			if !json.Valid(b) {
				t.Fatalf("not JSON for %q: %s", query, b)
			}
		}
	})
}

func validJSONOr(s, fallback string) string {
	if json.Valid([]byte(s)) {
		return s
	}
	return fallback
}

// fragmentChain is query { ...F0 } where each Fi spreads F(i+1) twice:
// 2^n fields once expanded, from a document of about 40·n bytes.
func fragmentChain(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { me { id } }", n)
	return b.String()
}
