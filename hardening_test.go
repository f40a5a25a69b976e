package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"callme/internal/store/storetest"

	"github.com/coder/websocket"
)

// nested builds a query `levels` fields deep through seller/lastCalled edges.
func nested(levels int) string {
	q, closing := "{ sellers(first: 1) { edges { node { ", 3
	for i := 0; closing < levels-1; i++ {
		if i%2 == 0 {
			q += "lastCalled { "
		} else {
			q += "seller { "
		}
		closing++
	}
	return q + "id" + strings.Repeat(" }", closing) + " }"
}

func TestQueryLimits(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Limits.MaxComplexity = 500
		c.Limits.MaxTokens = 2000
	})
	for _, tc := range []struct {
		name  string
		query string
		want  string // "" for success
	}{
		{"12 levels", nested(12), ""},
		{"13 levels", nested(13), "BAD_USER_INPUT"},
		{"cheap list", `{ sellers(first: 5) { edges { node { id name } } } }`, ""},
		{"list costed by page size", `{ sellers(first: 100) { edges { node { id name menu { name } } } } }`, "BAD_USER_INPUT"},
		{"first over 100", `{ sellers(first: 101) { totalCount } }`, "BAD_USER_INPUT"},
		{"too many tokens", "{ " + strings.Repeat("__typename ", 2100) + "}", "GRAPHQL_PARSE_FAILED"},
		{"introspection is not depth limited", `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.query(t, "", tc.query, nil)
			if r.code() != tc.want {
				t.Fatalf("got %q %+v, want %q", r.code(), r.Errors, tc.want)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	big := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"with Content-Length", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader(big))}, // unknown length
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", tc.body)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d for a 2 MiB body, want 413", tc.name, res.StatusCode)
		}
	}
}

func TestWebSocketLimits(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Limits.MaxSubsPerSocket = 2
		c.Limits.InitTimeout = 200 * time.Millisecond
		c.Limits.MaxWSMessageBytes = 4096
	})
	_, stallID := s.openStall(t, "Sockets", "S")
	const q = `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`
	vars := map[string]any{"id": stallID}

	t.Run("subscriptions per socket", func(t *testing.T) {
		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("1", q, vars)
		ws.subscribe("2", q, vars)
		ws.subscribe("3", q, vars)
		if got := ws.errorCode("3"); got != "RATE_LIMITED" {
			t.Fatalf("third subscription: %q, want RATE_LIMITED", got)
		}
		ws.send(wsMessage{ID: "1", Type: "complete"})
		ws.subscribe("4", q, vars)
		ws.subscribe("5", q, vars)
		if got := ws.errorCode("5"); got != "RATE_LIMITED" {
			t.Fatalf("after completing one, the fourth fits and the fifth gets %q, want RATE_LIMITED", got)
		}
	})
	t.Run("duplicate id closes 4409", func(t *testing.T) {
		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("same", q, vars)
		ws.subscribe("same", q, vars)
		if code := closeCode(t, ws.conn); code != 4409 {
			t.Fatalf("close code %d, want 4409", code)
		}
	})
	t.Run("no connection_init closes 4408", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/query", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if code := closeCode(t, c); code != 4408 {
			t.Fatalf("close code %d, want 4408", code)
		}
	})
	t.Run("message size", func(t *testing.T) {
		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("big", q, map[string]any{"id": stallID, "pad": strings.Repeat("x", 8192)})
		if code := closeCode(t, ws.conn); code != int(websocket.StatusMessageTooBig) {
			t.Fatalf("close code %d, want %d", code, websocket.StatusMessageTooBig)
		}
	})
}

// closeCode reads until the server closes the socket and returns its code.
func closeCode(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			return int(websocket.CloseStatus(err))
		}
	}
}

func TestRateLimits(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Limits.IPLoginsPerSec, c.Limits.IPBurst = 1, 5
		c.Limits.SessionMutsPerSec, c.Limits.SessionBurst = 1, 2
		c.Limits.IPMutationsPerSec = 1000
	})
	alice := s.login(t, "CUSTOMER", "alice")
	for i := 0; i < 4; i++ { // 5 logins in all: the burst
		s.login(t, "CUSTOMER", fmt.Sprint("u", i))
	}
	r := s.query(t, "", `mutation { login(input: {app: CUSTOMER, code: "dev:one-too-many"}) { token } }`, nil)
	if r.code() != "RATE_LIMITED" || r.Errors[0].Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("6th login from one address: %+v, want RATE_LIMITED with retryAfterSeconds", r.Errors)
	}
	// Per session: a burst of 2, then refused; queries are not limited.
	mut := `mutation { claimSeller(inviteCode: "none") { id } }`
	for i := 0; i < 2; i++ {
		if r := s.query(t, alice, mut, nil); r.code() == "RATE_LIMITED" {
			t.Fatalf("mutation %d within the burst was limited", i+1)
		}
	}
	if r := s.query(t, alice, mut, nil); r.code() != "RATE_LIMITED" {
		t.Fatalf("3rd mutation of a session: %q, want RATE_LIMITED", r.code())
	}
	if r := s.query(t, alice, `{ me { id } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("query limited: %+v", r.Errors)
	}
}

func TestProductionHidesSuggestions(t *testing.T) {
	for _, prod := range []bool{false, true} {
		s := startServer(t, storetest.Engines()[0], func(c *config) {
			if prod {
				c.Production = true
				c.CustomerAppID, c.CustomerSecret = "wx1", "s1"
			}
		})
		r := s.query(t, "", `{ sellerz { totalCount } }`, nil)
		if len(r.Errors) == 0 {
			t.Fatal("unknown field accepted")
		}
		if got := strings.Contains(r.Errors[0].Message, "Did you mean"); got == prod {
			t.Errorf("production=%v: message %q", prod, r.Errors[0].Message)
		}
	}
}
