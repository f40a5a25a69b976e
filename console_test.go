package main

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/store/storetest"
)

type consoleLogin struct{ QRText, Secret, ExpiresAt string }

func (s *testServer) startConsoleLogin(t *testing.T) consoleLogin {
	t.Helper()
	var d struct{ StartConsoleLogin consoleLogin }
	s.ok(t, "", `mutation { startConsoleLogin { qrText secret expiresAt } }`, nil, &d)
	return d.StartConsoleLogin
}

const (
	approveDoc = `mutation($q: String!) { approveConsoleLogin(qrText: $q) }`
	consoleDoc = `subscription($s: String!) { consoleLoginApproved(secret: $s) { token expiresAt user { id roles } } }`
)

// consoleSession reads the session a console's subscription receives, and
// the complete after it.
func consoleSession(t *testing.T, ws *wsClient, id string) (token string, roles []string) {
	t.Helper()
	var d struct {
		ConsoleLoginApproved struct {
			Token string
			User  struct{ Roles []string }
		}
	}
	ws.next(id, &d)
	if m := ws.read(); m.Type != "complete" || m.ID != id {
		t.Fatalf("after the session: %s %s, want complete", m.Type, m.Payload)
	}
	return d.ConsoleLoginApproved.Token, d.ConsoleLoginApproved.User.Roles
}

// TestConsoleScanToLogIn is the whole flow as production runs it (WeChat
// login through the fake, dev login off), over HTTP and a real WebSocket:
// the console starts, listens with its secret, the seller's phone approves,
// the console gets a session that runs the stall, and logs out.
func TestConsoleScanToLogIn(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		env := startCsec(t, e, "")
		cl := env.startConsoleLogin(t)
		if exp, err := time.Parse(time.RFC3339, cl.ExpiresAt); err != nil || time.Until(exp) > 2*time.Minute || time.Until(exp) < time.Minute {
			t.Fatalf("expiresAt %q, want in 2 minutes", cl.ExpiresAt)
		}
		console := env.dialWS(t, "graphql-transport-ws", nil)
		console.subscribe("login", consoleDoc, map[string]any{"s": cl.Secret})

		for _, tc := range []struct{ name, token, want string }{
			{"anonymous", "", "UNAUTHENTICATED"},
			{"customer", env.customer, "FORBIDDEN"},
		} {
			if got := env.query(t, tc.token, approveDoc, map[string]any{"q": cl.QRText}).code(); got != tc.want {
				t.Errorf("approval by %s: %q, want %s", tc.name, got, tc.want)
			}
		}
		var ok struct{ ApproveConsoleLogin bool }
		env.ok(t, env.seller, approveDoc, map[string]any{"q": cl.QRText}, &ok)
		if !ok.ApproveConsoleLogin {
			t.Fatal("approveConsoleLogin answered false")
		}
		token, roles := consoleSession(t, console, "login")
		if token == "" || token == env.seller || !slices.Contains(roles, "SELLER") {
			t.Fatalf("console session %q with roles %v: want a new token with SELLER", token, roles)
		}
		// It runs the stall as the seller does.
		env.ok(t, token, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": env.stall}, nil)
		var called struct{ CallNext struct{ Code string } }
		env.ok(t, token, `mutation($id: ID!) { callNext(sellerId: $id) { code } }`, map[string]any{"id": env.stall}, &called)
		if called.CallNext.Code == "" {
			t.Fatal("the console's callNext called nothing")
		}
		// Single use.
		if got := env.query(t, env.seller, approveDoc, map[string]any{"q": cl.QRText}).code(); got != "NOT_FOUND" {
			t.Errorf("a second approval: %q, want NOT_FOUND", got)
		}
		again := env.dialWS(t, "graphql-transport-ws", nil)
		again.subscribe("x", consoleDoc, map[string]any{"s": cl.Secret})
		if got := again.errorCode("x"); got != "NOT_FOUND" {
			t.Errorf("listening again with a used secret: %q, want NOT_FOUND", got)
		}
		wrong := env.dialWS(t, "graphql-transport-ws", nil)
		wrong.subscribe("x", consoleDoc, map[string]any{"s": env.startConsoleLogin(t).QRText})
		if got := wrong.errorCode("x"); got != "NOT_FOUND" {
			t.Errorf("listening with the QR text instead of the secret: %q, want NOT_FOUND", got)
		}
		// The admin sees it in the audit log, with the approving session
		// and the phone's address (never the session's token).
		var audit struct {
			AuditLog []struct{ Action, Detail string }
		}
		env.ok(t, env.admin, `{ auditLog { action detail } }`, nil, &audit)
		if len(audit.AuditLog) == 0 || audit.AuditLog[0].Action != "approveConsoleLogin" {
			t.Errorf("audit log %+v, want the console login first", audit.AuditLog)
		} else if d := audit.AuditLog[0].Detail; !strings.Contains(d, "approved by session ") || !strings.Contains(d, " from 127.0.0.1") || strings.Contains(d, env.seller) {
			t.Errorf("the console login's detail %q, want the approving session and 127.0.0.1, not the token", d)
		}
		// Logout ends the console's session only.
		env.ok(t, token, `mutation { logout }`, nil, nil)
		if got := env.query(t, token, `mutation($id: ID!) { callNext(sellerId: $id) { code } }`, map[string]any{"id": env.stall}).code(); got != "UNAUTHENTICATED" {
			t.Errorf("the console after logout: %q, want UNAUTHENTICATED", got)
		}
		env.ok(t, env.seller, `query($id: ID!) { queue(sellerId: $id) { id } }`, map[string]any{"id": env.stall}, nil)
	})
}

// TestConsoleLoginExpiresUnapproved: the console's wait ends with NOT_FOUND
// when its challenge expires; approving it then is too late.
func TestConsoleLoginExpiresUnapproved(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) { c.consoleLoginTTL = 500 * time.Millisecond })
	seller, _ := s.openStall(t, "Late", "L")
	cl := s.startConsoleLogin(t)
	ws := s.dialWS(t, "graphql-transport-ws", nil)
	ws.subscribe("login", consoleDoc, map[string]any{"s": cl.Secret})
	if got := ws.errorCode("login"); got != "NOT_FOUND" {
		t.Fatalf("an expired wait ends with %q, want NOT_FOUND", got)
	}
	if got := s.query(t, seller, approveDoc, map[string]any{"q": cl.QRText}).code(); got != "NOT_FOUND" {
		t.Fatalf("approving an expired login: %q, want NOT_FOUND", got)
	}
}

// TestConsoleLoginStartIsRateLimited: ten starts a minute per address, then
// RATE_LIMITED with the wait.
func TestConsoleLoginStartIsRateLimited(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	for range 10 {
		s.startConsoleLogin(t)
	}
	r := s.query(t, "", `mutation { startConsoleLogin { qrText } }`, nil)
	if r.code() != "RATE_LIMITED" || r.Errors[0].Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("the 11th start: %+v, want RATE_LIMITED with retryAfterSeconds", r.Errors)
	}
}

// TestConsoleLoginAcrossInstances: the console listens on one instance, the
// phone approves on the other; then 30 approvals of one challenge race
// across both instances and exactly one wins.
func TestConsoleLoginAcrossInstances(t *testing.T) {
	s := twoInstances(t, func(int) string { return redisURL(t) })
	a, b := s[0], s[1]
	seller, stallID := a.openStall(t, "Twin", "W")

	cl := a.startConsoleLogin(t)
	console := a.dialWS(t, "graphql-transport-ws", nil)
	console.subscribe("login", consoleDoc, map[string]any{"s": cl.Secret})
	b.ok(t, seller, approveDoc, map[string]any{"q": cl.QRText}, nil)
	token, _ := consoleSession(t, console, "login")
	b.ok(t, token, `query($id: ID!) { queue(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)

	cl = b.startConsoleLogin(t)
	console = b.dialWS(t, "graphql-transport-ws", nil)
	console.subscribe("login", consoleDoc, map[string]any{"s": cl.Secret})
	admin := a.login(t, "SELLER", "admin")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	start := make(chan struct{})
	for i := range 30 {
		srv, who := a, seller
		if i%2 == 1 {
			srv, who = b, admin
		}
		wg.Go(func() {
			<-start
			r := srv.query(t, who, approveDoc, map[string]any{"q": cl.QRText})
			var d struct{ ApproveConsoleLogin bool }
			_ = json.Unmarshal(r.Data, &d)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.code() == "" && d.ApproveConsoleLogin:
				codes["approved"]++
			default:
				codes[r.code()]++
			}
		})
	}
	close(start)
	wg.Wait()
	if codes["approved"] != 1 || codes["NOT_FOUND"] != 29 {
		t.Fatalf("30 approvals across two instances: %v; want 1 approved, 29 NOT_FOUND", codes)
	}
	token, roles := consoleSession(t, console, "login")
	if token == "" || len(roles) == 0 {
		t.Fatalf("session %q roles %v", token, roles)
	}
	a.ok(t, token, `query($id: ID!) { queue(sellerId: $id) { id } }`, map[string]any{"id": stallID}, nil)
}
