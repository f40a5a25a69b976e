package main

import (
	"testing"

	"callme/internal/model"
	"callme/internal/store/storetest"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

// TestPlanFallbackNeverCallsWeChatTwice: a planned query that falls back
// runs its resolvers again, so only database reads are planned
// (plannableRoots). sellerQRCode asks WeChat for a mini-program code; a
// document with one good sellerQRCode and one that errors made two WeChat
// requests by plan where gqlgen alone makes one (found by review).
func TestPlanFallbackNeverCallsWeChatTwice(t *testing.T) {
	const doc = `query($id: ID!) { a: sellerQRCode(sellerId: $id) { target } b: sellerQRCode(sellerId: "SE00000000000000000000000000") { target } }`
	calls := map[bool]int{}
	for _, plans := range []bool{false, true} {
		creds := map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxc", Secret: "sec"}, model.AppSeller: {AppID: "wxs", Secret: "sec2"}}
		fake := wechattest.NewServer(t, creds)
		s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) {
			c.WeChatBaseURL, c.Admins, c.QRPage = fake.URL, "o-admin", "pages/stall/index"
			c.CustomerAppID, c.CustomerSecret, c.SellerAppID, c.SellerSecret = "wxc", "sec", "wxs", "sec2"
			c.QueryPlans = plans
		})
		var d struct{ Login struct{ Token string } }
		s.ok(t, "", `mutation($app: App!, $code: String!) { login(input: {app: $app, code: $code}) { token } }`,
			map[string]any{"app": string(model.AppSeller), "code": fake.IssueCode(model.AppSeller, "o-admin")}, &d)
		admin := d.Login.Token
		var created struct {
			CreateSeller struct{ Seller struct{ ID string } }
		}
		s.ok(t, admin, `mutation { createSeller(input: {name: "WX"}) { seller { id } } }`, nil, &created)
		id := created.CreateSeller.Seller.ID
		before := len(fake.WxaCodeRequests())
		r := s.query(t, admin, doc, map[string]any{"id": id})
		if r.code() != "NOT_FOUND" {
			t.Fatalf("plans=%v: %+v", plans, r.Errors)
		}
		calls[plans] = len(fake.WxaCodeRequests()) - before
	}
	if calls[true] != calls[false] {
		t.Errorf("WeChat code requests for one query: %d by plan, %d on gqlgen alone", calls[true], calls[false])
	}
}

// TestPlanConcurrentRuns: one plan run by many requests at once, compiled
// by several of them concurrently, answers the same (and has no race under
// -race).
func TestPlanConcurrentRuns(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) { c.PublicCache = 0 })
	seller, stall := s.openStall(t, "Race", "R")
	s.ok(t, seller, `mutation($s: ID!) { setMenu(sellerId: $s, items: [{name: "面", priceCents: 1200}, {name: "饭"}]) { id } }`, map[string]any{"s": stall}, nil)
	const doc = `query($n: Int) { sellers(first: $n) { totalCount edges { cursor node { id name prefix open paidUntil menu { id name priceCents available } lastCalled { id code seller { id name } } } } pageInfo { endCursor hasNextPage } } }`
	var want string
	done := make(chan string, 64)
	for range 8 {
		go func() {
			for range 8 {
				r := s.query(t, "", doc, map[string]any{"n": 10})
				done <- string(r.Data) + " " + r.code()
			}
		}()
	}
	for i := range 64 {
		got := <-done
		if i == 0 {
			want = got
		} else if got != want {
			t.Errorf("answer %d differs:\n%s\n%s", i, got, want)
		}
	}
}
