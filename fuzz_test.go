package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
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
