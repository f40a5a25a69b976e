package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/store/storetest"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

// csecEnv is callme with WeChat credentials against the fake, a stall run by
// o-seller, a customer o-alice and an admin o-admin.
type csecEnv struct {
	*testServer
	fake                    *wechattest.Server
	admin, seller, customer string
	stall                   string
	pusher                  *wechattest.Pusher
}

const pushToken = "push-token-7c1e"

func startCsec(t *testing.T, e storetest.Engine, aesKey string) *csecEnv {
	t.Helper()
	creds := map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxc", Secret: "csec"}, model.AppSeller: {AppID: "wxs", Secret: "ssec"}}
	fake := wechattest.NewServer(t, creds)
	s := startServer(t, e, func(c *config) {
		c.WeChatBaseURL, c.Admins, c.PublicURL = fake.URL, "o-admin", "https://canteen.example.edu"
		c.CustomerAppID, c.CustomerSecret, c.SellerAppID, c.SellerSecret = "wxc", "csec", "wxs", "ssec"
		c.PushToken, c.PushAESKey = pushToken, aesKey
	})
	env := &csecEnv{testServer: s, fake: fake, pusher: &wechattest.Pusher{URL: s.URL + "/wechat/push", Token: pushToken, EncodingAESKey: aesKey, AppID: "wxs"}}
	login := func(app model.App, openid string) string {
		var d struct{ Login struct{ Token string } }
		s.ok(t, "", `mutation($app: App!, $code: String!) { login(input: {app: $app, code: $code}) { token } }`,
			map[string]any{"app": string(app), "code": fake.IssueCode(app, openid)}, &d)
		return d.Login.Token
	}
	env.admin = login(model.AppSeller, "o-admin")
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, env.admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } inviteCode } }`,
		map[string]any{"in": map[string]any{"name": "面馆", "prefix": "M", "paidUntil": time.Now().Add(720 * time.Hour).Format(time.RFC3339)}}, &created)
	env.stall = created.CreateSeller.Seller.ID
	env.seller = login(model.AppSeller, "o-seller")
	s.ok(t, env.seller, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`, map[string]any{"c": created.CreateSeller.InviteCode}, nil)
	s.ok(t, env.seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { id } }`, map[string]any{"id": env.stall}, nil)
	env.customer = login(model.AppCustomer, "o-alice")
	fake.SetTextVerdict("广告", wechat.SuggestReview, 20006)
	fake.SetTextVerdict("赌", wechat.SuggestRisky, 20012)
	return env
}

type stallView struct {
	Name, PhotoStatus string
	PersonName        *string
	PickupNote        *string
	PhotoURL          *string
	Menu              []struct{ Name string }
	WaitingCount      int
}

func (e *csecEnv) stallAs(t *testing.T, token string) stallView {
	t.Helper()
	var d struct{ Seller stallView }
	e.ok(t, token, `query($id: ID!) { seller(id: $id) { name personName pickupNote photoURL photoStatus menu { name } waitingCount } }`, map[string]any{"id": e.stall}, &d)
	return d.Seller
}

func (e *csecEnv) update(t *testing.T, in map[string]any) gqlResponse {
	t.Helper()
	in["sellerId"] = e.stall
	return e.query(t, e.seller, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`, map[string]any{"in": in})
}

type review struct {
	ID, Subject, Content, Reason string
	Label                        int
}

func (e *csecEnv) reviews(t *testing.T) []review {
	t.Helper()
	var d struct{ ContentReviews []review }
	e.ok(t, e.admin, `{ contentReviews { id subject content reason label } }`, nil, &d)
	return d.ContentReviews
}

func (e *csecEnv) fetchNote(t *testing.T, note string) gqlResponse {
	t.Helper()
	return e.query(t, e.customer, `mutation($id: ID!, $n: String) { fetch(input: {sellerId: $id, note: $n}) { id note } }`, map[string]any{"id": e.stall, "n": note})
}

func strp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestContentSecurityText: what sellers and students write is checked
// under the writer's openid before it is stored: pass stores it, review
// stores it and lists it for admins, risky refuses it with CONTENT_REJECTED
// and stores nothing.
func TestContentSecurityText(t *testing.T) {
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := startCsec(t, eng, "")

			t.Run("pass", func(t *testing.T) {
				if r := e.update(t, map[string]any{"pickupNote": "三号窗口", "personName": "王师傅"}); len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				if v := e.stallAs(t, e.customer); strp(v.PickupNote) != "三号窗口" || strp(v.PersonName) != "王师傅" {
					t.Fatalf("got %+v", v)
				}
				checks := e.fake.TextChecks()
				last := checks[len(checks)-1]
				if last.App != model.AppSeller || last.OpenID != "o-seller" || last.Scene != 1 {
					t.Fatalf("WeChat was asked %+v, want scene 1 under the seller's openid in the seller app", last)
				}
				if r := e.fetchNote(t, "少放辣"); len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				checks = e.fake.TextChecks()
				last = checks[len(checks)-1]
				if last.App != model.AppCustomer || last.OpenID != "o-alice" || last.Scene != 2 || last.Content != "少放辣" {
					t.Fatalf("WeChat was asked %+v, want scene 2 under the customer's openid", last)
				}
			})

			t.Run("risky", func(t *testing.T) {
				before := e.stallAs(t, e.seller)
				for _, tc := range []struct {
					name, field string
					do          func() gqlResponse
				}{
					{"stall name", "name", func() gqlResponse { return e.update(t, map[string]any{"name": "赌场"}) }},
					{"pickup note", "pickupNote", func() gqlResponse {
						return e.update(t, map[string]any{"pickupNote": "来赌一把", "personName": "李"})
					}},
					{"menu item", "item 2's name", func() gqlResponse {
						return e.query(t, e.seller, `mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "牛肉面"}, {name: "赌神套餐"}]) { id } }`, map[string]any{"id": e.stall})
					}},
					{"ticket note", "note", func() gqlResponse { return e.fetchNote(t, "赌球吗") }},
				} {
					r := tc.do()
					if r.code() != "CONTENT_REJECTED" || r.Errors[0].Extensions["field"] != tc.field {
						t.Fatalf("%s: got %+v, want CONTENT_REJECTED for %s", tc.name, r.Errors, tc.field)
					}
					if !strings.Contains(r.Errors[0].Message, "内容") || !strings.Contains(r.Errors[0].Message, "content check") {
						t.Fatalf("%s: message %q should say it in Chinese and English", tc.name, r.Errors[0].Message)
					}
				}
				after := e.stallAs(t, e.seller)
				if after.Name != before.Name || strp(after.PickupNote) != strp(before.PickupNote) || strp(after.PersonName) != strp(before.PersonName) ||
					len(after.Menu) != len(before.Menu) || after.WaitingCount != before.WaitingCount {
					t.Fatalf("something was stored: before %+v, after %+v", before, after)
				}
			})

			t.Run("review, then an admin removes or accepts", func(t *testing.T) {
				if r := e.update(t, map[string]any{"pickupNote": "加微信看广告"}); len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				if r := e.query(t, e.seller, `mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "广告饭"}]) { id } }`, map[string]any{"id": e.stall}); len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				if v := e.stallAs(t, e.customer); strp(v.PickupNote) != "加微信看广告" || len(v.Menu) != 1 {
					t.Fatalf("review content is stored and shown: %+v", v)
				}
				rs := e.reviews(t)
				if len(rs) != 2 || rs[0].Subject != "PICKUP_NOTE" || rs[0].Content != "加微信看广告" || rs[0].Label != 20006 || rs[1].Subject != "MENU_ITEM_NAME" {
					t.Fatalf("reviews %+v", rs)
				}
				if r := e.query(t, e.seller, `{ contentReviews { id } }`, nil); r.code() != "FORBIDDEN" {
					t.Fatalf("a seller reads the review list: %+v", r.Errors)
				}
				e.ok(t, e.admin, `mutation($id: ID!) { removeContent(id: $id) { id } }`, map[string]any{"id": rs[0].ID}, nil)
				e.ok(t, e.admin, `mutation($id: ID!) { acceptContent(id: $id) { id } }`, map[string]any{"id": rs[1].ID}, nil)
				if r := e.query(t, e.admin, `mutation($id: ID!) { acceptContent(id: $id) { id } }`, map[string]any{"id": rs[1].ID}); r.code() != "NOT_FOUND" {
					t.Fatalf("deciding twice: %+v", r.Errors)
				}
				v := e.stallAs(t, e.customer)
				if strp(v.PickupNote) != "三号窗口" || len(v.Menu) != 1 || v.Menu[0].Name != "广告饭" {
					t.Fatalf("after remove/accept: %+v (want the note reverted to 三号窗口, the dish kept)", v)
				}
				if len(e.reviews(t)) != 0 {
					t.Fatal("decided content still listed")
				}
				var audit struct {
					AuditLog []struct{ Action, TargetId string }
				}
				e.ok(t, e.admin, `{ auditLog { action targetId } }`, nil, &audit)
				got := map[string]bool{}
				for _, a := range audit.AuditLog {
					if a.TargetId == e.stall {
						got[a.Action] = true
					}
				}
				if !got["removeContent"] || !got["acceptContent"] {
					t.Fatalf("audit %+v", audit.AuditLog)
				}
			})

			t.Run("every error code", func(t *testing.T) {
				for i, tc := range []struct {
					name    string
					prepare func()
					want    string // state: "stored" (passed), "review" or "queued"
				}{
					{"-1 busy once", func() { e.fake.FailTextCheckNext(1, -1) }, "stored"},
					{"40001 token rejected: refreshed", e.fake.ExpireTokens, "stored"},
					{"40003 bad openid", func() { e.fake.FailTextCheckNext(1, 40003) }, "review"},
					{"40129 bad scene", func() { e.fake.FailTextCheckNext(1, 40129) }, "review"},
					{"43104 appid and openid mismatch", func() { e.fake.FailTextCheckNext(1, 43104) }, "review"},
					{"44002 empty parameter", func() { e.fake.FailTextCheckNext(1, 44002) }, "review"},
					{"47001 bad format", func() { e.fake.FailTextCheckNext(1, 47001) }, "review"},
					{"-1 throughout", func() { e.fake.SetCheckOutage(-1) }, "queued"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						defer e.fake.SetCheckOutage(0)
						name := "师傅" + string(rune('A'+i))
						tc.prepare()
						if r := e.update(t, map[string]any{"personName": name}); len(r.Errors) > 0 {
							t.Fatal(r.Errors)
						}
						if v := e.stallAs(t, e.customer); strp(v.PersonName) != name {
							t.Fatalf("personName %q, want %q stored", strp(v.PersonName), name)
						}
						inReview := false
						for _, r := range e.reviews(t) {
							if r.Content == name {
								inReview = true
								if tc.want == "review" && !strings.Contains(r.Reason, "errcode") {
									t.Fatalf("reason %q should name the errcode", r.Reason)
								}
							}
						}
						if inReview != (tc.want == "review") {
							t.Fatalf("listed for review: %v, want %s", inReview, tc.want)
						}
						e.fake.SetCheckOutage(0) // back: a queued check gets its verdict
						queued := e.app.svc.CheckPending(context.Background())
						if (queued > 0) != (tc.want == "queued") {
							t.Fatalf("queued checks run: %d, want %s", queued, tc.want)
						}
					})
				}
			})
		})
	}
}

// TestContentSecurityWeChatDown: when WeChat is down or slow, notes and menu
// changes are stored after a bounded wait and checked later; a later risky
// verdict hides them (a note reads null, a name reverts or the dish goes).
func TestContentSecurityWeChatDown(t *testing.T) {
	for _, eng := range storetest.Engines() {
		for _, mode := range []string{"busy", "slow"} {
			t.Run(eng.Name+"/"+mode, func(t *testing.T) {
				e := startCsec(t, eng, "")
				e.ok(t, e.seller, `mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "牛肉面"}, {name: "凉皮"}]) { id } }`, map[string]any{"id": e.stall}, nil)
				if mode == "busy" {
					e.fake.SetCheckOutage(-1)
				} else {
					e.fake.SetCheckDelay(time.Hour)
				}
				var f struct{ Fetch struct{ ID, Note string } }
				r := e.fetchNote(t, "赌一把")
				if len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				if err := decode(r, &f); err != nil {
					t.Fatal(err)
				}
				if f.Fetch.Note != "赌一把" {
					t.Fatalf("note %q: stored and shown while unchecked", f.Fetch.Note)
				}
				e.ok(t, e.seller, `mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "牛肉面"}, {name: "赌王面"}, {name: "新菜"}]) { id } }`, map[string]any{"id": e.stall}, nil)
				if r := e.update(t, map[string]any{"pickupNote": "四号窗口"}); len(r.Errors) > 0 {
					t.Fatal(r.Errors)
				}
				if mode == "busy" {
					// Still down: the queued checks stay queued.
					if n := e.app.svc.CheckPending(context.Background()); n != 0 {
						t.Fatalf("%d checks answered while WeChat is down", n)
					}
				}
				// WeChat is back: the queued checks get their verdicts.
				e.fake.SetCheckOutage(0)
				e.fake.SetCheckDelay(0)
				e.retryQueued(t)
				var tk struct{ Node struct{ Note *string } }
				e.ok(t, e.customer, `query($id: ID!) { node(id: $id) { ... on Ticket { note } } }`, map[string]any{"id": f.Fetch.ID}, &tk)
				if tk.Node.Note != nil {
					t.Fatalf("risky note still reads %q", *tk.Node.Note)
				}
				v := e.stallAs(t, e.customer)
				names := []string{}
				for _, m := range v.Menu {
					names = append(names, m.Name)
				}
				if strings.Join(names, ",") != "牛肉面,凉皮,新菜" || strp(v.PickupNote) != "四号窗口" {
					t.Fatalf("menu %v note %q: want the risky name reverted to 凉皮, the rest kept", names, strp(v.PickupNote))
				}
			})
		}
	}
}

// retryQueued runs queued checks until none is left, moving their retry
// time to now (the checker backs off after a failed attempt).
func (e *csecEnv) retryQueued(t *testing.T) {
	t.Helper()
	for range 5 {
		if _, err := e.app.db.Client.ContentCheck.Update().SetNextAttemptAt(time.Now().Add(-time.Second)).Save(context.Background()); err != nil {
			t.Fatal(err)
		}
		if e.app.svc.CheckPending(context.Background()) == 0 {
			return
		}
	}
}

// TestContentSecurityOff: without WeChat credentials nothing is checked and
// the server says so once.
func TestContentSecurityOff(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	seller, id := s.openStall(t, "Dice", "D")
	s.ok(t, seller, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`,
		map[string]any{"in": map[string]any{"sellerId": id, "pickupNote": "赌一把"}}, nil)
	if r := s.upload(t, seller, id, "p.png", tinyPNG(t)); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	var d struct{ Seller struct{ PhotoURL *string } }
	s.ok(t, "", `query($id: ID!) { seller(id: $id) { photoURL } }`, map[string]any{"id": id}, &d)
	if d.Seller.PhotoURL == nil {
		t.Fatal("without checks a photo is published at once")
	}
	if n := strings.Count(s.logs.String(), "content security is off"); n != 1 {
		t.Fatalf("logged %d times that content security is off, want once", n)
	}
}

// uploadChecked uploads a photo as the seller and sends it to WeChat (the
// content checker's work); it returns the media check WeChat received.
func (e *csecEnv) uploadChecked(t *testing.T) wechattest.MediaCheck {
	t.Helper()
	if r := e.upload(t, e.seller, e.stall, "p.png", tinyPNG(t)); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	before := len(e.fake.MediaChecks())
	if n := e.app.svc.CheckPending(context.Background()); n != 1 {
		t.Fatalf("checker sent %d photos, want 1", n)
	}
	mc := e.fake.MediaChecks()
	if len(mc) != before+1 {
		t.Fatalf("WeChat got %d media checks, want %d", len(mc), before+1)
	}
	return mc[len(mc)-1]
}

func (e *csecEnv) wantPhoto(t *testing.T, status string, public bool) {
	t.Helper()
	own := e.stallAs(t, e.seller)
	if own.PhotoStatus != status {
		t.Fatalf("seller sees photoStatus %q, want %q", own.PhotoStatus, status)
	}
	if (own.PhotoURL != nil) != (status != "REJECTED") {
		t.Fatalf("seller sees photoURL %v with status %s", strp(own.PhotoURL), status)
	}
	for who, tok := range map[string]string{"a customer": e.customer, "anonymous": ""} {
		v := e.stallAs(t, tok)
		if (v.PhotoURL != nil) != public || v.PhotoStatus != "" {
			t.Fatalf("%s sees photoURL %s, photoStatus %q; want public=%v and no status", who, strp(v.PhotoURL), v.PhotoStatus, public)
		}
	}
}

// TestContentSecurityPhotos: a stall photo is shown only to its seller (and
// admins) until WeChat's verdict arrives by push; pass publishes it, risky
// deletes it and the seller sees REJECTED, review waits for an admin. The
// push endpoint refuses forged, stale and replayed pushes and applies each
// trace_id once.
func TestContentSecurityPhotos(t *testing.T) {
	for _, eng := range storetest.Engines() {
		for _, mode := range []string{"safe", "plaintext"} {
			t.Run(eng.Name+"/"+mode, func(t *testing.T) {
				key := ""
				if mode == "safe" {
					key = wechattest.NewEncodingAESKey()
				}
				e := startCsec(t, eng, key)

				// URL verification.
				if status, body, err := e.pusher.VerifyURL("echo-123"); err != nil || status != 200 || body != "echo-123" {
					t.Fatalf("URL verification: %d %q %v", status, body, err)
				}
				forged := *e.pusher
				forged.Token = "guessed"
				if status, _, _ := forged.VerifyURL("echo-123"); status != http.StatusForbidden {
					t.Fatalf("URL verification with a forged signature: %d", status)
				}

				// The verdict never comes: pending, the seller's only.
				mc := e.uploadChecked(t)
				if mc.App != model.AppSeller || mc.OpenID != "o-seller" || mc.Scene != 1 ||
					!strings.HasPrefix(mc.MediaURL, "https://canteen.example.edu/photos/") {
					t.Fatalf("WeChat was asked %+v", mc)
				}
				// WeChat can fetch what it is asked to check.
				res, err := http.Get(e.URL + strings.TrimPrefix(mc.MediaURL, "https://canteen.example.edu"))
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("the photo is not reachable at its media_url: %v %v", err, res)
				}
				res.Body.Close()
				e.wantPhoto(t, "PENDING", false)
				if n := e.app.svc.CheckPending(context.Background()); n != 0 {
					t.Fatalf("a sent photo was sent again (%d)", n)
				}

				verdict := wechattest.MediaVerdict("wxs", mc.TraceID, wechat.SuggestPass, 100)
				// Forged: wrong token.
				if st, _ := forged.Push(verdict); st != http.StatusForbidden {
					t.Fatalf("forged push: %d", st)
				}
				// Stale.
				if st, _ := e.pusher.Do(e.pusher.Request(verdict, time.Now().Add(-time.Hour), "n-stale")); st != http.StatusForbidden {
					t.Fatalf("stale push: %d", st)
				}
				if mode == "safe" {
					// Plaintext where safe mode is configured, even correctly signed.
					plain := *e.pusher
					plain.EncodingAESKey = ""
					if st, _ := plain.Push(verdict); st != http.StatusForbidden {
						t.Fatalf("plaintext push in safe mode: %d", st)
					}
					// Encrypted with another key.
					other := *e.pusher
					other.EncodingAESKey = wechattest.NewEncodingAESKey()
					if st, _ := other.Push(verdict); st != http.StatusForbidden {
						t.Fatalf("push encrypted with another key: %d", st)
					}
				}
				e.wantPhoto(t, "PENDING", false)

				// The real push publishes it; its replay is refused.
				at := time.Now()
				if st, _ := e.pusher.Do(e.pusher.Request(verdict, at, "n-1")); st != 200 {
					t.Fatalf("push: %d", st)
				}
				e.wantPhoto(t, "PUBLISHED", true)
				if st, _ := e.pusher.Do(e.pusher.Request(verdict, at, "n-1")); st != http.StatusForbidden {
					t.Fatalf("replayed push: %d", st)
				}
				// WeChat sending the same verdict again (new nonce) changes
				// nothing: a risky one for the same trace_id is ignored.
				if st, _ := e.pusher.Push(wechattest.MediaVerdict("wxs", mc.TraceID, wechat.SuggestRisky, 20002)); st != 200 {
					t.Fatalf("repeated trace_id: %d", st)
				}
				e.wantPhoto(t, "PUBLISHED", true)

				// Risky: deleted, and the seller is told.
				mc = e.uploadChecked(t)
				e.wantPhoto(t, "PENDING", false)
				if st, _ := e.pusher.Push(wechattest.MediaVerdict("wxs", mc.TraceID, wechat.SuggestRisky, 20002)); st != 200 {
					t.Fatalf("push: %d", st)
				}
				e.wantPhoto(t, "REJECTED", false)
				res, err = http.Get(e.URL + strings.TrimPrefix(mc.MediaURL, "https://canteen.example.edu"))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusNotFound {
					t.Fatalf("a rejected photo is still served: %d", res.StatusCode)
				}

				// Review: hidden until an admin accepts it.
				mc = e.uploadChecked(t)
				if st, _ := e.pusher.Push(wechattest.MediaVerdict("wxs", mc.TraceID, wechat.SuggestReview, 20001)); st != 200 {
					t.Fatalf("push: %d", st)
				}
				e.wantPhoto(t, "IN_REVIEW", false)
				rs := e.reviews(t)
				if len(rs) != 1 || rs[0].Subject != "PHOTO" {
					t.Fatalf("reviews %+v", rs)
				}
				e.ok(t, e.admin, `mutation($id: ID!) { acceptContent(id: $id) { id } }`, map[string]any{"id": rs[0].ID}, nil)
				e.wantPhoto(t, "PUBLISHED", true)
			})
		}
	}
}

// TestContentSecurityPhotoQueued: with WeChat down at upload, the photo is
// sent for checking once it is back.
func TestContentSecurityPhotoQueued(t *testing.T) {
	e := startCsec(t, storetest.Engines()[0], "")
	e.fake.SetCheckOutage(-1)
	if r := e.upload(t, e.seller, e.stall, "p.png", tinyPNG(t)); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	if n := e.app.svc.CheckPending(context.Background()); n != 0 {
		t.Fatalf("sent %d while WeChat is down", n)
	}
	e.wantPhoto(t, "PENDING", false)
	e.fake.SetCheckOutage(0)
	e.retryQueued(t)
	mc := e.fake.MediaChecks()
	if len(mc) != 1 {
		t.Fatalf("WeChat got %d media checks, want 1", len(mc))
	}
	if st, _ := e.pusher.Push(wechattest.MediaVerdict("wxs", mc[0].TraceID, wechat.SuggestPass, 100)); st != 200 {
		t.Fatalf("push: %d", st)
	}
	e.wantPhoto(t, "PUBLISHED", true)
}
