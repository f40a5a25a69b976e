package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

func TestMsgSecCheckVerdicts(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.IssueCode(model.AppCustomer, testOpenID)
	e.srv.SetTextVerdict("广告", wechat.SuggestReview, 20006)
	e.srv.SetTextVerdict("赌博", wechat.SuggestRisky, 20012)
	for _, tc := range []struct {
		content string
		suggest wechat.Suggest
		label   int
	}{
		{"少放辣", wechat.SuggestPass, 100},
		{"加微信看广告", wechat.SuggestReview, 20006},
		{"来赌博", wechat.SuggestRisky, 20012},
	} {
		t.Run(string(tc.suggest), func(t *testing.T) {
			v, err := e.client.MsgSecCheck(context.Background(), model.AppCustomer, testOpenID, wechat.SceneComment, tc.content)
			if err != nil {
				t.Fatal(err)
			}
			if v.Suggest != tc.suggest || v.Label != tc.label || v.TraceID == "" {
				t.Fatalf("got %+v, want %s/%d with a trace_id", v, tc.suggest, tc.label)
			}
			assertNoMPLeak(t, e, err)
		})
	}
	checks := e.srv.TextChecks()
	if got := checks[len(checks)-1]; got.Scene != 2 || got.App != model.AppCustomer || got.OpenID != testOpenID {
		t.Fatalf("fake saw %+v, want scene 2 for the customer's openid", got)
	}
}

func TestMsgSecCheckErrors(t *testing.T) {
	permanent := func(t *testing.T, err error) {
		t.Helper()
		if !wechat.IsPermanent(err) || wechat.IsUnavailable(err) {
			t.Fatalf("err = %v, want permanent", err)
		}
	}
	unavailable := func(t *testing.T, err error) {
		t.Helper()
		if !wechat.IsUnavailable(err) || wechat.IsPermanent(err) {
			t.Fatalf("err = %v, want unavailable", err)
		}
	}
	for _, tc := range []struct {
		name    string
		prepare func(e *env)
		openid  string
		app     model.App
		scene   wechat.Scene
		content string
		check   func(*testing.T, error)
	}{
		{"-1 busy, then pass", func(e *env) { e.srv.FailTextCheckNext(1, -1) }, testOpenID, model.AppCustomer, 2, "ok", nil},
		{"-1 busy throughout", func(e *env) { e.srv.SetCheckOutage(-1) }, testOpenID, model.AppCustomer, 2, "ok", checks(unavailable, wantUnavailableAttempts(3))},
		{"40001 bad token: refreshed once", func(e *env) { e.srv.ExpireTokens() }, testOpenID, model.AppCustomer, 2, "ok", nil},
		{"40003 unknown openid", nil, "o-never-logged-in", model.AppCustomer, 2, "ok", checks(permanent, wantMPErrcode("msg_sec_check", 40003))},
		{"43104 openid of the other app", nil, testOpenID, model.AppSeller, 1, "ok", checks(permanent, wantMPErrcode("msg_sec_check", 43104))},
		{"40129 bad scene", func(e *env) { e.srv.FailTextCheckNext(1, 40129) }, testOpenID, model.AppCustomer, 2, "ok", checks(permanent, wantMPErrcode("msg_sec_check", 40129))},
		{"44002 empty parameter", func(e *env) { e.srv.FailTextCheckNext(1, 44002) }, testOpenID, model.AppCustomer, 2, "ok", checks(permanent, wantMPErrcode("msg_sec_check", 44002))},
		{"47001 bad format", func(e *env) { e.srv.FailTextCheckNext(1, 47001) }, testOpenID, model.AppCustomer, 2, "ok", checks(permanent, wantMPErrcode("msg_sec_check", 47001))},
		{"scene refused locally", nil, testOpenID, model.AppCustomer, 9, "ok", checks(permanent, wantBadRequest)},
		{"empty content refused locally", nil, testOpenID, model.AppCustomer, 2, "", checks(permanent, wantBadRequest)},
		{"too long refused locally", nil, testOpenID, model.AppCustomer, 2, strings.Repeat("兰", 2501), checks(permanent, wantBadRequest)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.srv.IssueCode(model.AppCustomer, testOpenID)
			if _, err := e.client.AccessToken(context.Background(), tc.app); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(e)
			}
			v, err := e.client.MsgSecCheck(context.Background(), tc.app, tc.openid, tc.scene, tc.content)
			if tc.check == nil {
				if err != nil || v.Suggest != wechat.SuggestPass {
					t.Fatalf("got %+v, %v; want pass", v, err)
				}
			} else {
				tc.check(t, err)
			}
			assertNoMPLeak(t, e, err)
		})
	}
}

func wantBadRequest(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, wechat.ErrBadRequest) {
		t.Fatalf("err = %v, want ErrBadRequest", err)
	}
}

func wantUnavailableAttempts(n int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("err = %v, want %d attempts", err, n)
		}
	}
}

// A slow WeChat is bounded by the caller's deadline, not by its answer.
func TestMsgSecCheckSlow(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.IssueCode(model.AppCustomer, testOpenID)
	if _, err := e.client.AccessToken(context.Background(), model.AppCustomer); err != nil {
		t.Fatal(err)
	}
	e.srv.SetCheckDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.client.MsgSecCheck(ctx, model.AppCustomer, testOpenID, wechat.SceneComment, "hi")
	if !wechat.IsUnavailable(err) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

// The client keeps under its share of the per-minute quota: the check past
// it is not sent, and the next minute has a fresh share.
func TestContentCheckQuota(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.TextChecksPerMinute, c.ImageChecksPerMinute = 2, 1 })
	e.srv.IssueCode(model.AppCustomer, testOpenID)
	ctx := context.Background()
	for i := range 3 {
		_, err := e.client.MsgSecCheck(ctx, model.AppCustomer, testOpenID, wechat.SceneComment, "hi")
		if wantErr := i == 2; wantErr != errors.Is(err, wechat.ErrQuota) {
			t.Fatalf("check %d: err = %v", i+1, err)
		}
	}
	if n := len(e.srv.TextChecks()); n != 2 {
		t.Fatalf("fake saw %d checks, want 2", n)
	}
	if _, err := e.client.MediaCheckAsync(ctx, model.AppCustomer, testOpenID, wechat.SceneProfile, "http://x/p.png"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.MediaCheckAsync(ctx, model.AppCustomer, testOpenID, wechat.SceneProfile, "http://x/p.png"); !wechat.IsUnavailable(err) {
		t.Fatalf("second image check: err = %v, want ErrQuota", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.client.MsgSecCheck(ctx, model.AppCustomer, testOpenID, wechat.SceneComment, "hi"); err != nil {
		t.Fatalf("next minute: %v", err)
	}
}

func TestMediaCheckAsync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(e *env)
		openid  string
		check   func(*testing.T, error)
	}{
		{"accepted", nil, testOpenID, nil},
		{"-1 busy, then accepted", func(e *env) { e.srv.FailMediaCheckNext(1, -1) }, testOpenID, nil},
		{"42001 expired token: refreshed once", func(e *env) { e.srv.Advance(wechattest.TokenLifetime) }, testOpenID, nil},
		{"-1 throughout", func(e *env) { e.srv.SetCheckOutage(-1) }, testOpenID, func(t *testing.T, err error) {
			if !wechat.IsUnavailable(err) {
				t.Fatalf("err = %v", err)
			}
		}},
		{"40003", nil, "o-unknown", wantMPErrcode("media_check_async", 40003)},
		{"40129", func(e *env) { e.srv.FailMediaCheckNext(1, 40129) }, testOpenID, wantMPErrcode("media_check_async", 40129)},
		{"43104", func(e *env) { e.srv.FailMediaCheckNext(1, 43104) }, testOpenID, wantMPErrcode("media_check_async", 43104)},
		{"44002", func(e *env) { e.srv.FailMediaCheckNext(1, 44002) }, testOpenID, wantMPErrcode("media_check_async", 44002)},
		{"47001", func(e *env) { e.srv.FailMediaCheckNext(1, 47001) }, testOpenID, wantMPErrcode("media_check_async", 47001)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.srv.IssueCode(model.AppSeller, testOpenID)
			if _, err := e.client.AccessToken(context.Background(), model.AppSeller); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(e)
			}
			trace, err := e.client.MediaCheckAsync(context.Background(), model.AppSeller, tc.openid, wechat.SceneProfile, "https://callme.example/photos/k.png")
			if tc.check != nil {
				tc.check(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mc := e.srv.MediaChecks()
			if len(mc) != 1 || mc[0].TraceID != trace || mc[0].MediaURL != "https://callme.example/photos/k.png" || mc[0].Scene != 1 {
				t.Fatalf("fake saw %+v, trace %q", mc, trace)
			}
			assertNoMPLeak(t, e, err)
		})
	}
}

// The safe-mode decryption reads what the fake (an independent
// implementation of WeChat's scheme) encrypts, and refuses another app's.
func TestDecryptPush(t *testing.T) {
	key := wechattest.NewEncodingAESKey()
	p := &wechattest.Pusher{URL: "http://x/push", Token: "tok", EncodingAESKey: key, AppID: "wxseller00002"}
	body := wechattest.MediaVerdict("wxseller00002", "trace-1", wechat.SuggestRisky, 20002)
	req := p.Request(body, time.Now(), "n1")
	var env struct{ Encrypt string }
	if err := jsonDecode(req, &env); err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	if !wechat.SignatureOK(q.Get("msg_signature"), "tok", q.Get("timestamp"), q.Get("nonce"), env.Encrypt) {
		t.Fatal("msg_signature does not verify")
	}
	aes, err := wechat.DecodeAESKey(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wechat.DecryptPush(aes, env.Encrypt, "wxcustomer0001", "wxseller00002")
	if err != nil || string(got) != string(body) {
		t.Fatalf("got %q, %v; want %q", got, err, body)
	}
	if _, err := wechat.DecryptPush(aes, env.Encrypt, "wxother"); !errors.Is(err, wechat.ErrBadPush) {
		t.Fatalf("another app's push: err = %v", err)
	}
}

func jsonDecode(req *http.Request, v any) error {
	return json.NewDecoder(req.Body).Decode(v)
}

// mapCounter is a SharedCounter in memory; down makes it fail.
type mapCounter struct {
	mu   sync.Mutex
	n    map[string]int64
	down bool
}

func (m *mapCounter) Incr(_ context.Context, key string, _ time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return 0, errors.New("counter down")
	}
	if m.n == nil {
		m.n = map[string]int64{}
	}
	m.n[key]++
	return m.n[key], nil
}

// With a shared counter, two instances stay under the app's quota together;
// when the counter fails, each counts its own checks.
func TestContentCheckQuotaShared(t *testing.T) {
	e := newEnv(t, func(c *wechat.Config) { c.TextChecksPerMinute = 3 })
	e.srv.IssueCode(model.AppCustomer, testOpenID)
	other := wechat.New(wechat.Config{BaseURL: e.srv.URL, Apps: testApps, Now: e.clock.Now, TextChecksPerMinute: 3, RetryDelay: time.Millisecond})
	shared := &mapCounter{}
	e.client.ShareQuotas(shared)
	other.ShareQuotas(shared)
	ctx := context.Background()
	var sent, refused int
	for i := range 6 {
		c := e.client
		if i%2 == 1 {
			c = other
		}
		_, err := c.MsgSecCheck(ctx, model.AppCustomer, testOpenID, wechat.SceneComment, "hi")
		switch {
		case err == nil:
			sent++
		case errors.Is(err, wechat.ErrQuota):
			refused++
		default:
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if sent != 3 || refused != 3 {
		t.Fatalf("two instances sent %d checks and were refused %d, want 3 and 3 (one quota between them)", sent, refused)
	}
	shared.mu.Lock()
	shared.down = true
	shared.mu.Unlock()
	e.clock.Advance(time.Minute)
	for i := range 4 {
		_, err := e.client.MsgSecCheck(ctx, model.AppCustomer, testOpenID, wechat.SceneComment, "hi")
		if wantQuota := i == 3; wantQuota != errors.Is(err, wechat.ErrQuota) {
			t.Fatalf("counter down, check %d: %v", i, err)
		}
	}
}
