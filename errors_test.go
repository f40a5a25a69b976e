package main

import (
	"regexp"
	"strings"
	"testing"

	"callme/internal/model"
	"callme/internal/store/storetest"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

// leak matches what must never reach a client: SQL, Go internals, paths.
var leak = regexp.MustCompile(`(?i)select |insert |update |sql|sqlite|mysql|goroutine|\.go:\d+|/root/|panic`)

// TestEveryErrorCodeOverHTTP produces each code of the contract through the
// real endpoint and checks that messages say what to do without leaking.
func TestEveryErrorCodeOverHTTP(t *testing.T) {
	fake := wechattest.NewServer(t, map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxc", Secret: "sec"}})
	e := storetest.Engines()[0]
	s := startServer(t, e)
	wx := startServer(t, e, func(c *config) {
		c.CustomerAppID, c.CustomerSecret, c.WeChatBaseURL = "wxc", "sec", fake.URL
	})
	seller, stallID := s.openStall(t, "Codes", "C")
	alice := s.login(t, "CUSTOMER", "alice")
	bob := s.login(t, "CUSTOMER", "bob")
	admin := s.login(t, "SELLER", "admin")
	newcomer := s.login(t, "SELLER", "newcomer")

	fetch := `mutation($id: ID!, $note: String) { fetch(input: {sellerId: $id, note: $note}) { id number claimCode } }`
	var handed struct {
		Fetch struct {
			ID        string
			Number    int
			ClaimCode string
		}
	}
	s.ok(t, seller, fetch, map[string]any{"id": stallID}, &handed)
	s.ok(t, alice, `mutation($id: ID!, $n: Int!, $c: String) { claim(input: {sellerId: $id, number: $n, claimCode: $c}) { id } }`, map[string]any{"id": stallID, "n": handed.Fetch.Number, "c": handed.Fetch.ClaimCode}, nil)

	type call struct {
		srv   *testServer
		token string
		query string
		vars  map[string]any
	}
	cases := []struct {
		code  string
		setup func()
		call  call
	}{
		{"UNAUTHENTICATED", nil, call{s, "", `{ myTickets { id } }`, nil}},
		{"UNAUTHENTICATED", nil, call{s, "expired-or-made-up-token", `{ myTickets { id } }`, nil}},
		{"FORBIDDEN", nil, call{s, alice, `query($id: ID!) { queue(sellerId: $id) { id } }`, map[string]any{"id": stallID}}},
		{"BAD_USER_INPUT", nil, call{s, bob, fetch, map[string]any{"id": stallID, "note": strings.Repeat("x", 101)}}},
		{"BAD_USER_INPUT", nil, call{s, admin, `mutation { createSeller(input: {name: "x", paidUntil: "next tuesday"}) { inviteCode } }`, nil}},
		{"NOT_FOUND", nil, call{s, newcomer, `mutation { claimSeller(inviteCode: "AAAA-BBBB-CCCC") { id } }`, nil}},
		{"NOT_FOUND", nil, call{s, seller, `mutation { call(ticketId: "TK0000000000000000000000000") { id } }`, nil}},
		{"TICKET_TAKEN", nil, call{s, bob, `mutation($id: ID!, $n: Int!, $c: String) { claim(input: {sellerId: $id, number: $n, claimCode: $c}) { id } }`, map[string]any{"id": stallID, "n": handed.Fetch.Number, "c": handed.Fetch.ClaimCode}}},
		{"INVALID_TRANSITION", nil, call{s, seller, `mutation($id: ID!) { complete(ticketId: $id) { id } }`, map[string]any{"id": handed.Fetch.ID}}},
		{"RATE_LIMITED", func() {
			for i := 0; i < 2; i++ { // alice holds one already; the cap is 3
				s.ok(t, alice, fetch, map[string]any{"id": stallID}, nil)
			}
		}, call{s, alice, fetch, map[string]any{"id": stallID}}},
		{"SELLER_INACTIVE", nil, call{s, admin, `mutation { createSeller(input: {name: "Unpaid"}) { seller { id } } }`, nil}},
		{"SELLER_CLOSED", func() {
			s.ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: false) { open } }`, map[string]any{"id": stallID}, nil)
		}, call{s, bob, fetch, map[string]any{"id": stallID}}},
		{"NUMBERS_EXHAUSTED", nil, call{s, "", "", nil}},
		{"WECHAT_UNAVAILABLE", func() { fake.FailNext(3, -1) }, call{wx, "", `mutation { login(input: {app: CUSTOMER, code: "some-code"}) { token } }`, nil}},
		{"INTERNAL", nil, call{s, "", "", nil}},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			c := tc.call
			switch tc.code {
			case "SELLER_INACTIVE":
				// Create an unpaid stall, then try to open it.
				var d struct {
					CreateSeller struct{ Seller struct{ ID string } }
				}
				s.ok(t, admin, c.query, nil, &d)
				c = call{s, admin, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { id } }`, map[string]any{"id": d.CreateSeller.Seller.ID}}
			case "NUMBERS_EXHAUSTED":
				small, smallID := s.openStallWith(t, "Tiny", map[string]any{"maxNumber": 9})
				for i := 0; i < 9; i++ {
					s.ok(t, small, fetch, map[string]any{"id": smallID}, nil)
				}
				c = call{s, small, fetch, map[string]any{"id": smallID}}
			case "INTERNAL":
				// The database goes away under a running server.
				broken := startServer(t, e)
				broken.app.db.Close()
				c = call{broken, "", `{ sellers { totalCount } }`, nil}
				defer func() {
					if !strings.Contains(broken.logs.String(), "internal error") {
						t.Errorf("INTERNAL was not logged with detail:\n%s", broken.logs.String())
					}
				}()
			}
			r := c.srv.query(t, c.token, c.query, c.vars)
			if got := r.code(); got != tc.code {
				t.Fatalf("got %q (%+v), want %s", got, r.Errors, tc.code)
			}
			for _, e := range r.Errors {
				if leak.MatchString(e.Message) || e.Message == "" {
					t.Errorf("message %q leaks internals or is empty", e.Message)
				}
			}
		})
	}
}

// TestLogsHoldNoSecrets runs logins, a stall's setup, a call and failures
// with debug logging on, and checks the log for every secret involved.
func TestLogsHoldNoSecrets(t *testing.T) {
	creds := map[model.App]wechat.AppCredentials{
		model.AppCustomer: {AppID: "wxc", Secret: "customer-appsecret-1"},
		model.AppSeller:   {AppID: "wxs", Secret: "seller-appsecret-2"},
	}
	fake := wechattest.NewServer(t, creds)
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.WeChatBaseURL, c.Admins, c.LogLevel = fake.URL, "o-admin", "debug"
		c.CustomerAppID, c.CustomerSecret = "wxc", "customer-appsecret-1"
		c.SellerAppID, c.SellerSecret = "wxs", "seller-appsecret-2"
	})
	secrets := []string{"customer-appsecret-1", "seller-appsecret-2", "o-admin", "o-owner", "o-alice"}
	login := func(app model.App, openid string) string {
		code := fake.IssueCode(app, openid)
		var d struct{ Login struct{ Token string } }
		s.ok(t, "", `mutation($app: App!, $code: String!) { login(input: {app: $app, code: $code}) { token } }`,
			map[string]any{"app": string(app), "code": code}, &d)
		secrets = append(secrets, code, fake.SessionKey(code), d.Login.Token)
		return d.Login.Token
	}
	admin := login(model.AppSeller, "o-admin")
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, admin, `mutation { createSeller(input: {name: "Quiet", paidUntil: "2030-01-01T00:00:00Z"}) { seller { id } inviteCode } }`, nil, &created)
	secrets = append(secrets, created.CreateSeller.InviteCode)
	owner := login(model.AppSeller, "o-owner")
	s.ok(t, owner, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`, map[string]any{"c": created.CreateSeller.InviteCode}, nil)
	s.ok(t, owner, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { id } }`, map[string]any{"id": created.CreateSeller.Seller.ID}, nil)
	alice := login(model.AppCustomer, "o-alice")
	s.ok(t, alice, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": created.CreateSeller.Seller.ID}, nil)
	s.ok(t, owner, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": created.CreateSeller.Seller.ID}, nil)
	// Failures log too: a reused code, WeChat busy, an unknown token.
	used := fake.IssueCode(model.AppCustomer, "o-alice")
	secrets = append(secrets, used)
	s.query(t, "", `mutation($c: String!) { login(input: {app: CUSTOMER, code: $c}) { token } }`, map[string]any{"c": used})
	s.query(t, "", `mutation($c: String!) { login(input: {app: CUSTOMER, code: $c}) { token } }`, map[string]any{"c": used})
	fake.FailNext(3, -1)
	s.query(t, "", `mutation($c: String!) { login(input: {app: CUSTOMER, code: $c}) { token } }`, map[string]any{"c": fake.IssueCode(model.AppCustomer, "o-alice")})
	s.query(t, "made-up-token-123", `{ me { id } }`, nil)

	logs := s.logs.String()
	if !strings.Contains(logs, "level=WARN") {
		t.Fatalf("expected WeChat retries to be logged:\n%s", logs)
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}
