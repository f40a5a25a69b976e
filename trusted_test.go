package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"callme/graph/persisted"
	"callme/internal/store/storetest"
)

// shipped returns the text and hash of a manifest document by operation name.
func shipped(t testing.TB, name string) (doc, hash string) {
	t.Helper()
	m, err := persisted.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range m.Operations() {
		if op.Name == name {
			return op.Document, op.SHA256
		}
	}
	t.Fatalf("no shipped operation %s", name)
	return "", ""
}

func pq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

// post sends a GraphQL request body as JSON with an optional token.
func (s *testServer) post(t testing.TB, token string, body map[string]any) gqlResponse {
	t.Helper()
	return do(t, s.request(token, body))
}

// byHash runs a shipped operation by its hash alone and fails on errors.
func (s *testServer) byHash(t testing.TB, token, name string, vars map[string]any, v any) {
	t.Helper()
	_, hash := shipped(t, name)
	r := s.post(t, token, map[string]any{"variables": vars, "extensions": pq(hash)})
	if len(r.Errors) > 0 {
		t.Fatalf("%s by hash: %+v", name, r.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *testServer) loginByHash(t testing.TB, app, name string) string {
	t.Helper()
	var d struct{ Login struct{ Token string } }
	s.byHash(t, "", "Login", map[string]any{"input": map[string]any{"app": app, "code": "dev:" + name}}, &d)
	return d.Login.Token
}

// openStallByHash is openStall through shipped documents only (the admin's
// createSeller is free text, which admins may send).
func (s *testServer) openStallByHash(t *testing.T, name, prefix string) (token, sellerID string) {
	t.Helper()
	admin := s.loginByHash(t, "SELLER", "admin")
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } inviteCode } }`,
		map[string]any{"in": map[string]any{"name": name, "prefix": prefix, "paidUntil": time.Now().Add(720 * time.Hour).Format(time.RFC3339)}}, &created)
	token = s.loginByHash(t, "SELLER", "owner-"+name)
	s.byHash(t, token, "ClaimSeller", map[string]any{"inviteCode": created.CreateSeller.InviteCode}, nil)
	sellerID = created.CreateSeller.Seller.ID
	s.byHash(t, token, "SetOpen", map[string]any{"sellerId": sellerID, "open": true}, nil)
	return token, sellerID
}

func noData(r gqlResponse) bool { return len(r.Data) == 0 || string(r.Data) == "null" }

func trusted(c *config) { c.Documents = persisted.Trusted }

func TestDocumentsDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want persisted.Mode
	}{
		{nil, nil, persisted.Any},
		{[]string{"-production"}, nil, persisted.Trusted},
		{[]string{"-production", "-documents", "any"}, nil, persisted.Any},
		{nil, map[string]string{"CALLME_DOCUMENTS": "trusted"}, persisted.Trusted},
		{nil, map[string]string{"CALLME_PRODUCTION": "true"}, persisted.Trusted},
	} {
		cfg, err := parseConfig(append([]string{"callme"}, tc.args...), func(k string) string { return tc.env[k] }, new(bytes.Buffer))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Documents != tc.want {
			t.Errorf("%v %v: documents %q, want %q", tc.args, tc.env, cfg.Documents, tc.want)
		}
	}
	if _, err := parseConfig([]string{"callme", "-documents", "some"}, func(string) string { return "" }, new(bytes.Buffer)); err == nil {
		t.Error("-documents some: no error")
	}
}

// TestTrustedDocuments: in trusted mode only shipped documents run for
// anonymous callers, customers and sellers; admins may send any.
func TestTrustedDocuments(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			s := startServer(t, e, trusted)
			seller, sellerID := s.openStallByHash(t, "Noodles", "A")
			customer := s.loginByHash(t, "CUSTOMER", "alice")
			admin := s.loginByHash(t, "SELLER", "admin")
			meDoc, meHash := shipped(t, "Me")

			t.Run("free text is refused", func(t *testing.T) {
				for who, token := range map[string]string{"anonymous": "", "customer": customer, "seller": seller} {
					for _, doc := range []string{`{ me { id } }`, `{ __typename }`, `query { sellers { totalCount } }`, "not even GraphQL", meDoc + " "} {
						r := s.post(t, token, map[string]any{"query": doc})
						if r.code() != persisted.CodeRequired || !noData(r) {
							t.Errorf("%s %q: code %q, data %s; want %s and no data", who, doc, r.code(), r.Data, persisted.CodeRequired)
						}
					}
				}
				// Under the GraphQL-over-HTTP media type: a request error.
				b, _ := json.Marshal(map[string]any{"query": `{ me { id } }`})
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/graphql-response+json")
				r := do(t, req)
				if r.status != http.StatusBadRequest || r.Data != nil || r.code() != persisted.CodeRequired {
					t.Errorf("graphql-response+json: status %d, data %s, code %q; want 400, no data, %s", r.status, r.Data, r.code(), persisted.CodeRequired)
				}
			})

			t.Run("shipped documents run by hash over POST and GET, and as their exact text", func(t *testing.T) {
				var d struct{ Me struct{ Roles []string } }
				s.byHash(t, customer, "Me", nil, &d)
				if len(d.Me.Roles) == 0 || d.Me.Roles[0] != "CUSTOMER" {
					t.Errorf("Me by hash: %+v", d)
				}
				r := s.post(t, customer, map[string]any{"query": meDoc})
				if len(r.Errors) > 0 || noData(r) {
					t.Errorf("Me as text: %+v", r.Errors)
				}
				r = s.post(t, customer, map[string]any{"query": meDoc, "extensions": pq(meHash)})
				if len(r.Errors) > 0 || noData(r) {
					t.Errorf("Me as text with its hash: %+v", r.Errors)
				}
				_, stallsHash := shipped(t, "Stalls")
				ext, _ := json.Marshal(pq(stallsHash))
				r = s.get(t, "", url.Values{"extensions": {string(ext)}, "variables": {`{"first": 5}`}})
				if len(r.Errors) > 0 || !strings.Contains(string(r.Data), sellerID) {
					t.Errorf("Stalls by hash over GET: %s %+v", r.Data, r.Errors)
				}
				// Mutations never run over GET, shipped or not.
				_, takeHash := shipped(t, "TakeNumber")
				ext, _ = json.Marshal(pq(takeHash))
				r = s.get(t, customer, url.Values{"extensions": {string(ext)}, "variables": {fmt.Sprintf(`{"sellerId": %q}`, sellerID)}})
				if len(r.Errors) == 0 || !noData(r) {
					t.Errorf("TakeNumber over GET: status %d, %s", r.status, r.Data)
				}
			})

			t.Run("a hash with a different text is refused", func(t *testing.T) {
				r := s.post(t, customer, map[string]any{"query": `{ me { id roles } }`, "extensions": pq(meHash)})
				if r.code() != persisted.CodeHashMismatch || !noData(r) {
					t.Errorf("code %q, data %s; want %s", r.code(), r.Data, persisted.CodeHashMismatch)
				}
			})

			t.Run("unknown hash", func(t *testing.T) {
				for _, token := range []string{"", admin} {
					r := s.post(t, token, map[string]any{"extensions": pq(persisted.Hash(`{ me { id } }`))})
					if r.code() != persisted.CodeNotFound || !noData(r) {
						t.Errorf("code %q, data %s; want %s", r.code(), r.Data, persisted.CodeNotFound)
					}
				}
			})

			t.Run("admins send any document", func(t *testing.T) {
				var d struct{ Me struct{ Roles []string } }
				s.ok(t, admin, `{ me { roles } }`, nil, &d)
				if !strings.Contains(fmt.Sprint(d.Me.Roles), "ADMIN") {
					t.Errorf("admin's free text: %+v", d)
				}
				// Free text with its hash: runs, but is not registered.
				doc := `{ me { id } }`
				if r := s.post(t, admin, map[string]any{"query": doc, "extensions": pq(persisted.Hash(doc))}); len(r.Errors) > 0 {
					t.Errorf("admin's free text with hash: %+v", r.Errors)
				}
				if r := s.post(t, admin, map[string]any{"extensions": pq(persisted.Hash(doc))}); r.code() != persisted.CodeNotFound {
					t.Errorf("trusted mode registered an admin's document: code %q", r.code())
				}
			})

			t.Run("websocket", func(t *testing.T) {
				_, hash := shipped(t, "CalledNumbers")
				c := s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": customer})
				p, _ := json.Marshal(map[string]any{"variables": map[string]any{"sellerId": sellerID}, "extensions": pq(hash)})
				c.send(wsMessage{ID: "1", Type: "subscribe", Payload: p})
				c.subscribe("2", `subscription($s: ID!) { calledNumbers(sellerId: $s) { seq } }`, map[string]any{"s": sellerID})
				if code := c.errorCode("2"); code != persisted.CodeRequired {
					t.Errorf("free text subscription: code %q, want %s", code, persisted.CodeRequired)
				}
				// The call board: anonymous, its own documents.
				_, boardHash := shipped(t, "BoardCalls")
				board := s.dialWS(t, "graphql-transport-ws", nil)
				p, _ = json.Marshal(map[string]any{"variables": map[string]any{"sellerId": sellerID, "after": 0}, "extensions": pq(boardHash)})
				board.send(wsMessage{ID: "b", Type: "subscribe", Payload: p})
				var stall struct{ Seller struct{ Name string } }
				s.byHash(t, "", "Board", map[string]any{"id": sellerID}, &stall)
				if stall.Seller.Name != "Noodles" {
					t.Errorf("Board by hash: %+v", stall)
				}

				var fetched struct{ Fetch struct{ Code string } }
				s.byHash(t, customer, "TakeNumber", map[string]any{"sellerId": sellerID}, &fetched)
				s.byHash(t, seller, "CallNext", map[string]any{"sellerId": sellerID}, nil)
				var ev struct{ CalledNumbers struct{ Code string } }
				c.next("1", &ev)
				if ev.CalledNumbers.Code != fetched.Fetch.Code {
					t.Errorf("called %q, want %q", ev.CalledNumbers.Code, fetched.Fetch.Code)
				}
				ev.CalledNumbers.Code = ""
				board.next("b", &ev)
				if ev.CalledNumbers.Code != fetched.Fetch.Code {
					t.Errorf("the board heard %q, want %q", ev.CalledNumbers.Code, fetched.Fetch.Code)
				}

				// An admin's socket may send any document.
				a := s.dialWS(t, "graphql-transport-ws", map[string]any{"authToken": admin})
				a.subscribe("1", `query { me { roles } }`, nil)
				var me struct{ Me struct{ Roles []string } }
				a.next("1", &me)
				if !strings.Contains(fmt.Sprint(me.Me.Roles), "ADMIN") {
					t.Errorf("admin on socket: %+v", me)
				}
			})
		})
	}
}

// TestAnyDocuments: the embedded default runs free text and registers
// documents by hash (APQ) in a bounded cache; mismatched hashes are refused.
func TestAnyDocuments(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	customer := s.login(t, "CUSTOMER", "bob")

	var d struct{ Me struct{ Roles []string } }
	s.ok(t, customer, `{ me { roles } }`, nil, &d) // free text
	s.byHash(t, customer, "Me", nil, nil)          // shipped, by hash

	doc := `query Mine { me { id } }`
	if r := s.post(t, customer, map[string]any{"extensions": pq(persisted.Hash(doc))}); r.code() != persisted.CodeNotFound || !noData(r) {
		t.Fatalf("unregistered hash: code %q, want %s", r.code(), persisted.CodeNotFound)
	}
	if r := s.post(t, customer, map[string]any{"query": doc, "extensions": pq(persisted.Hash(doc))}); len(r.Errors) > 0 {
		t.Fatalf("registering: %+v", r.Errors)
	}
	if r := s.post(t, customer, map[string]any{"extensions": pq(persisted.Hash(doc))}); len(r.Errors) > 0 || noData(r) {
		t.Fatalf("registered hash: %+v", r.Errors)
	}
	if r := s.post(t, customer, map[string]any{"query": `{ me { roles } }`, "extensions": pq(persisted.Hash(doc))}); r.code() != persisted.CodeHashMismatch {
		t.Errorf("hash with another text: code %q, want %s", r.code(), persisted.CodeHashMismatch)
	}

	// Bounded: 100 more registrations push the first one out.
	for i := range 100 {
		other := fmt.Sprintf(`query Q%d { me { id } }`, i)
		if r := s.post(t, "", map[string]any{"query": other, "extensions": pq(persisted.Hash(other))}); len(r.Errors) > 0 {
			t.Fatalf("registering %d: %+v", i, r.Errors)
		}
	}
	if r := s.post(t, customer, map[string]any{"extensions": pq(persisted.Hash(doc))}); r.code() != persisted.CodeNotFound {
		t.Errorf("after 100 other registrations the first is still kept (code %q): the cache is not bounded", r.code())
	}
	// Large documents run but are not kept.
	big := `query Big { me { id } }` + strings.Repeat(" ", 17<<10)
	if r := s.post(t, customer, map[string]any{"query": big, "extensions": pq(persisted.Hash(big))}); len(r.Errors) > 0 {
		t.Fatalf("big document: %+v", r.Errors)
	}
	if r := s.post(t, customer, map[string]any{"extensions": pq(persisted.Hash(big))}); r.code() != persisted.CodeNotFound {
		t.Errorf("a 17 KiB document was registered (code %q)", r.code())
	}
}

// get sends a GraphQL GET request.
func (s *testServer) get(t testing.TB, token string, q url.Values) gqlResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/query?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}
