package wechat_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

const testOpenID = "o-secret-openid-9f8e7d"

// assertNoMPLeak fails if a secret, an access token, the openid or a URL
// with its query string reaches the logs or the error.
func assertNoMPLeak(t *testing.T, e *env, err error) {
	t.Helper()
	secrets := append([]string{testOpenID, testApps[model.AppCustomer].Secret, testApps[model.AppSeller].Secret}, e.srv.IssuedTokens()...)
	assertNoLeak(t, e.logs.String(), err, secrets...)
	texts := []string{e.logs.String()}
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, text := range texts {
		for _, s := range []string{"access_token=", "?access_token", `"touser"`, "getwxacodeunlimit?", "subscribe/send?"} {
			if strings.Contains(text, s) {
				t.Errorf("text contains %q: %s", s, text)
			}
		}
	}
}

func wantMPErrcode(api string, code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var we *wechat.Error
		if !errors.As(err, &we) || we.Code != code || we.API != api {
			t.Fatalf("err = %v, want %s errcode %d", err, api, code)
		}
	}
}

func checks(fs ...func(*testing.T, error)) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		for _, f := range fs {
			f(t, err)
		}
	}
}

func permanent(want bool) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if got := wechat.IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}

func grantGone(want bool) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if got := wechat.IsGrantGone(err); got != want {
			t.Errorf("IsGrantGone(%v) = %v, want %v", err, got, want)
		}
	}
}

func badRequest(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, wechat.ErrBadRequest) || !wechat.IsPermanent(err) {
		t.Fatalf("err = %v, want ErrBadRequest (permanent)", err)
	}
}

func notConfigured(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, wechat.ErrNotConfigured) {
		t.Fatalf("err = %v, want ErrNotConfigured", err)
	}
}

// warmToken makes the client cache a token, so a test can expire it.
func warmToken(t *testing.T, e *env) {
	t.Helper()
	if _, err := e.client.AccessToken(t.Context(), model.AppCustomer); err != nil {
		t.Fatalf("AccessToken: %v", err)
	}
}

func TestWxaCodeUnlimit(t *testing.T) {
	okReq := wechat.WxaCodeRequest{Scene: "s=42", Page: "pages/seller/index", EnvVersion: "trial", CheckPath: true, Width: 430}
	tests := []struct {
		name          string
		config        func(*wechat.Config)
		setup         func(t *testing.T, e *env)
		req           wechat.WxaCodeRequest
		check         func(*testing.T, error) // nil: success expected
		wantCalls     []int                   // errcode answered per getwxacodeunlimit request
		wantTokenReqs int
		wantRetryLog  int
		wantRefresh   int // "access token rejected" records
	}{
		{name: "success", req: okReq, wantCalls: []int{0}, wantTokenReqs: 1},
		{
			name:          "all allowed scene characters",
			req:           wechat.WxaCodeRequest{Scene: "aZ09!#$&'()*+,/:;=?@-._~"},
			wantCalls:     []int{0},
			wantTokenReqs: 1,
		},
		{name: "32-char scene", req: wechat.WxaCodeRequest{Scene: strings.Repeat("x", 32)}, wantCalls: []int{0}, wantTokenReqs: 1},
		{name: "empty scene", req: wechat.WxaCodeRequest{}, check: badRequest},
		{name: "33-char scene", req: wechat.WxaCodeRequest{Scene: strings.Repeat("x", 33)}, check: badRequest},
		{name: "space in scene", req: wechat.WxaCodeRequest{Scene: "s=4 2"}, check: badRequest},
		{name: "percent in scene", req: wechat.WxaCodeRequest{Scene: "s=%20"}, check: badRequest},
		{name: "non-ASCII scene", req: wechat.WxaCodeRequest{Scene: "s=商家"}, check: badRequest},
		{name: "angle brackets in scene", req: wechat.WxaCodeRequest{Scene: "s=<1>"}, check: badRequest},
		{name: "page with query", req: wechat.WxaCodeRequest{Scene: "s=1", Page: "pages/a?x=1"}, check: badRequest},
		{name: "page with leading slash", req: wechat.WxaCodeRequest{Scene: "s=1", Page: "/pages/a"}, check: badRequest},
		{name: "bad env_version", req: wechat.WxaCodeRequest{Scene: "s=1", EnvVersion: "prod"}, check: badRequest},
		{name: "width too small", req: wechat.WxaCodeRequest{Scene: "s=1", Width: 100}, check: badRequest},
		{
			name:          "token expired by ExpireTokens: one refresh and retry",
			setup:         func(t *testing.T, e *env) { warmToken(t, e); e.srv.ExpireTokens() },
			req:           okReq,
			wantCalls:     []int{40001, 0},
			wantTokenReqs: 2,
			wantRefresh:   1,
		},
		{
			name:          "token past its lifetime (42001): one refresh and retry",
			setup:         func(t *testing.T, e *env) { warmToken(t, e); e.srv.Advance(wechattest.TokenLifetime) },
			req:           okReq,
			wantCalls:     []int{42001, 0},
			wantTokenReqs: 2,
			wantRefresh:   1,
		},
		{
			name:  "token rejected twice: no second refresh",
			setup: func(t *testing.T, e *env) { e.srv.FailWxaCodeNext(3, 40001) },
			req:   okReq,
			check: checks(wantMPErrcode("getwxacodeunlimit", 40001), permanent(false), func(t *testing.T, err error) {
				if !wechat.IsTokenInvalid(err) {
					t.Error("IsTokenInvalid = false")
				}
			}),
			wantCalls:     []int{40001, 40001},
			wantTokenReqs: 2,
			wantRefresh:   1,
		},
		{
			name:          "-1 then success",
			setup:         func(t *testing.T, e *env) { e.srv.FailWxaCodeNext(1, -1) },
			req:           okReq,
			wantCalls:     []int{-1, 0},
			wantTokenReqs: 1,
			wantRetryLog:  1,
		},
		{
			name:          "-1 on every attempt",
			setup:         func(t *testing.T, e *env) { e.srv.FailWxaCodeNext(3, -1) },
			req:           okReq,
			check:         checks(isUnavailable, wantMPErrcode("getwxacodeunlimit", -1), permanent(false)),
			wantCalls:     []int{-1, -1, -1},
			wantTokenReqs: 1,
			wantRetryLog:  2,
		},
		{
			name:          "41030 unknown page: permanent, not retried",
			setup:         func(t *testing.T, e *env) { e.srv.FailWxaCodeNext(1, 41030) },
			req:           okReq,
			check:         checks(wantMPErrcode("getwxacodeunlimit", 41030), permanent(true), grantGone(false)),
			wantCalls:     []int{41030},
			wantTokenReqs: 1,
		},
		{
			name:          "40169 from WeChat: permanent",
			setup:         func(t *testing.T, e *env) { e.srv.FailWxaCodeNext(1, 40169) },
			req:           okReq,
			check:         checks(wantMPErrcode("getwxacodeunlimit", 40169), permanent(true)),
			wantCalls:     []int{40169},
			wantTokenReqs: 1,
		},
		{
			name: "not configured",
			config: func(c *wechat.Config) {
				c.Apps = map[model.App]wechat.AppCredentials{model.AppSeller: testApps[model.AppSeller]}
			},
			req:   okReq,
			check: notConfigured,
		},
		{
			name:         "network error",
			setup:        func(t *testing.T, e *env) { e.srv.Close() },
			req:          okReq,
			check:        checks(isUnavailable, permanent(false)),
			wantRetryLog: 2, // while fetching the token
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.config)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			callsBefore := len(e.srv.WxaCodeRequests())
			tokensBefore := e.srv.TokenRequests()
			if tt.wantTokenReqs > 0 && tokensBefore > 0 {
				tt.wantTokenReqs-- // the warm-up fetched one already
			}

			img, err := e.client.WxaCodeUnlimit(t.Context(), model.AppCustomer, tt.req)

			calls := e.srv.WxaCodeRequests()[callsBefore:]
			var codes []int
			for _, c := range calls {
				codes = append(codes, c.Errcode)
			}
			if !equalInts(codes, tt.wantCalls) {
				t.Errorf("errcodes answered = %v, want %v", codes, tt.wantCalls)
			}
			if got := e.srv.TokenRequests() - tokensBefore; got != tt.wantTokenReqs {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokenReqs)
			}
			logs := e.logs.String()
			if got := strings.Count(logs, "level=WARN"); got != tt.wantRetryLog {
				t.Errorf("retry log records = %d, want %d:\n%s", got, tt.wantRetryLog, logs)
			}
			if got := strings.Count(logs, "access token rejected"); got != tt.wantRefresh {
				t.Errorf("refresh log records = %d, want %d:\n%s", got, tt.wantRefresh, logs)
			}
			if tt.check == nil {
				if err != nil {
					t.Fatalf("WxaCodeUnlimit: %v", err)
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(img))
				if err != nil || cfg.Width != 8 || cfg.Height != 8 {
					t.Errorf("image: %+v, %v", cfg, err)
				}
				if _, err := png.Decode(bytes.NewReader(img)); err != nil {
					t.Errorf("png.Decode: %v", err)
				}
				last := calls[len(calls)-1]
				want := wechattest.WxaCodeCall{App: model.AppCustomer, Scene: tt.req.Scene, Page: tt.req.Page,
					EnvVersion: tt.req.EnvVersion, CheckPath: tt.req.CheckPath, Width: tt.req.Width}
				if last != want {
					t.Errorf("recorded %+v, want %+v", last, want)
				}
			} else {
				if err == nil {
					t.Fatalf("WxaCodeUnlimit succeeded with %d bytes", len(img))
				}
				if img != nil {
					t.Errorf("image on error: %d bytes", len(img))
				}
				tt.check(t, err)
			}
			assertNoMPLeak(t, e, err)
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The fake itself rejects a scene longer than 32 characters, as WeChat does,
// for a caller that bypasses the client's check.
func TestFakeRejectsLongScene(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.client.AccessToken(t.Context(), model.AppCustomer)
	if err != nil {
		t.Fatal(err)
	}
	post := func(token, scene string) (string, map[string]any) {
		body, _ := json.Marshal(map[string]any{"scene": scene, "page": "pages/index/index"})
		resp, err := http.Post(e.srv.URL+"/wxa/getwxacodeunlimit?access_token="+token, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.Header.Get("Content-Type"), out
	}
	for _, tc := range []struct {
		token, scene string
		want         float64
	}{
		{tok, strings.Repeat("s", 33), 40169},
		{tok, "", 40169},
		{"not-a-token", "s=1", 40001},
	} {
		ct, out := post(tc.token, tc.scene)
		if !strings.HasPrefix(ct, "application/json") || out["errcode"] != tc.want {
			t.Errorf("scene %q: Content-Type %q, answer %v; want errcode %v", tc.scene, ct, out, tc.want)
		}
	}
	if ct, _ := post(tok, "s=1"); ct != "image/png" {
		t.Errorf("Content-Type = %q, want image/png", ct)
	}
	calls := e.srv.WxaCodeRequests()
	if len(calls) != 4 || calls[0].Errcode != 40169 || calls[0].Scene != strings.Repeat("s", 33) || !calls[0].CheckPath {
		t.Errorf("recorded %+v", calls)
	}
}

// A server answering odd images: too large, or JSON without errcode.
func TestWxaCodeUnlimitOddAnswers(t *testing.T) {
	tests := []struct {
		name         string
		answer       func(w http.ResponseWriter)
		wantRequests int
	}{
		{
			name: "image over 2 MiB: not retried",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "image/jpeg")
				_, _ = w.Write(make([]byte, 2<<20+1))
			},
			wantRequests: 1,
		},
		{
			name: "JSON with errcode 0 but no image: retried",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
			},
			wantRequests: 3,
		},
		{
			name: "HTTP 502: retried",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "image/png") // a gateway error page is never the image
				w.WriteHeader(http.StatusBadGateway)
			},
			wantRequests: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			requests := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/cgi-bin/stable_token" {
					_, _ = io.WriteString(w, `{"access_token":"odd-token-123456","expires_in":7200}`)
					return
				}
				mu.Lock()
				requests++
				mu.Unlock()
				tt.answer(w)
			}))
			defer srv.Close()
			logs := &syncBuffer{}
			c := wechat.New(wechat.Config{BaseURL: srv.URL, Apps: testApps, RetryDelay: -1, Logger: slogTo(logs)})
			img, err := c.WxaCodeUnlimit(t.Context(), model.AppCustomer, wechat.WxaCodeRequest{Scene: "s=1"})
			if err == nil || img != nil {
				t.Fatalf("got %d bytes, %v", len(img), err)
			}
			isUnavailable(t, err)
			mu.Lock()
			got := requests
			mu.Unlock()
			if got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
			assertNoLeak(t, logs.String(), err, "odd-token-123456", testApps[model.AppCustomer].Secret)
		})
	}
}

func TestSendSubscribeMessage(t *testing.T) {
	okMsg := wechat.SubscribeMessage{
		ToUser:     testOpenID,
		TemplateID: "tmpl-ready-1",
		Page:       "pages/ticket/index?id=7",
		Data:       map[string]string{"thing1": "Noodles", "character_string2": "A042"},
	}
	with := func(f func(*wechat.SubscribeMessage)) wechat.SubscribeMessage {
		m := okMsg
		m.Data = maps.Clone(okMsg.Data)
		f(&m)
		return m
	}
	tests := []struct {
		name          string
		config        func(*wechat.Config)
		setup         func(t *testing.T, e *env)
		msg           wechat.SubscribeMessage
		check         func(*testing.T, error) // nil: success expected
		wantState     string
		wantLang      string
		wantRequests  int
		wantTokenReqs int
		wantRetryLog  int
		wantRefresh   int
	}{
		{name: "success with defaults", msg: okMsg, wantState: "formal", wantLang: "zh_CN", wantRequests: 1, wantTokenReqs: 1},
		{
			name:         "success with state and lang",
			msg:          with(func(m *wechat.SubscribeMessage) { m.State, m.Lang = "trial", "en_US" }),
			wantState:    "trial",
			wantLang:     "en_US",
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "43101 grant gone: permanent, not retried",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, 43101) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 43101), grantGone(true), permanent(true)),
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "-1 once then success",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, -1) },
			msg:          okMsg,
			wantState:    "formal",
			wantLang:     "zh_CN",
			wantRequests: 2, wantTokenReqs: 1, wantRetryLog: 1,
		},
		{
			name:         "-1 on every attempt",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(3, -1) },
			msg:          okMsg,
			check:        checks(isUnavailable, wantMPErrcode("subscribeMessage.send", -1), permanent(false), grantGone(false)),
			wantRequests: 3, wantTokenReqs: 1, wantRetryLog: 2,
		},
		{
			name:         "47003 bad data: permanent, not retried",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, 47003) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 47003), permanent(true), grantGone(false)),
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "40003 bad openid: permanent",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, 40003) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 40003), permanent(true)),
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "40037 bad template: permanent",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, 40037) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 40037), permanent(true)),
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "41030 bad page: permanent",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, 41030) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 41030), permanent(true)),
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "45011 rate limited: not permanent, not retried",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(1, 45011) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 45011), permanent(false)),
			wantRequests: 1, wantTokenReqs: 1,
		},
		{
			name:         "token expired by ExpireTokens: one refresh and retry",
			setup:        func(t *testing.T, e *env) { warmToken(t, e); e.srv.ExpireTokens() },
			msg:          okMsg,
			wantState:    "formal",
			wantLang:     "zh_CN",
			wantRequests: 2, wantTokenReqs: 2, wantRefresh: 1,
		},
		{
			name:         "token rejected again after refresh",
			setup:        func(t *testing.T, e *env) { e.srv.FailSendNext(2, 42001) },
			msg:          okMsg,
			check:        checks(wantMPErrcode("subscribeMessage.send", 42001), permanent(false)),
			wantRequests: 2, wantTokenReqs: 2, wantRefresh: 1,
		},
		{
			name:   "timeout then success",
			config: func(c *wechat.Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} },
			setup: func(t *testing.T, e *env) {
				warmToken(t, e)
				e.srv.DelayNext(1, time.Minute)
			},
			msg:          okMsg,
			wantState:    "formal",
			wantLang:     "zh_CN",
			wantRequests: 2, wantTokenReqs: 1, wantRetryLog: 1,
		},
		{name: "missing touser", msg: with(func(m *wechat.SubscribeMessage) { m.ToUser = "" }), check: badRequest},
		{name: "missing template", msg: with(func(m *wechat.SubscribeMessage) { m.TemplateID = "" }), check: badRequest},
		{name: "missing data", msg: with(func(m *wechat.SubscribeMessage) { m.Data = nil }), check: badRequest},
		{name: "bad state", msg: with(func(m *wechat.SubscribeMessage) { m.State = "release" }), check: badRequest},
		{
			name: "not configured",
			config: func(c *wechat.Config) {
				c.Apps = map[model.App]wechat.AppCredentials{model.AppSeller: testApps[model.AppSeller]}
			},
			msg:   okMsg,
			check: notConfigured,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.config)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			tokensBefore := e.srv.TokenRequests()
			if tt.wantTokenReqs > 0 && tokensBefore > 0 {
				tt.wantTokenReqs--
			}
			logsBefore := strings.Count(e.logs.String(), "level=WARN")

			err := e.client.SendSubscribeMessage(t.Context(), model.AppCustomer, tt.msg)

			if got := e.srv.SendRequests(); got != tt.wantRequests {
				t.Errorf("send requests = %d, want %d", got, tt.wantRequests)
			}
			if got := e.srv.TokenRequests() - tokensBefore; got != tt.wantTokenReqs {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokenReqs)
			}
			logs := e.logs.String()
			if got := strings.Count(logs, "level=WARN") - logsBefore; got != tt.wantRetryLog {
				t.Errorf("retry log records = %d, want %d:\n%s", got, tt.wantRetryLog, logs)
			}
			if got := strings.Count(logs, "access token rejected"); got != tt.wantRefresh {
				t.Errorf("refresh log records = %d, want %d:\n%s", got, tt.wantRefresh, logs)
			}
			sent := e.srv.SentMessages()
			if tt.check == nil {
				if err != nil {
					t.Fatalf("SendSubscribeMessage: %v", err)
				}
				want := wechattest.SentMessage{App: model.AppCustomer, ToUser: tt.msg.ToUser, TemplateID: tt.msg.TemplateID,
					Page: tt.msg.Page, State: tt.wantState, Lang: tt.wantLang, Data: tt.msg.Data}
				if len(sent) != 1 || !sameMessage(sent[0], want) {
					t.Errorf("sent %+v, want [%+v]", sent, want)
				}
			} else {
				if err == nil {
					t.Fatal("SendSubscribeMessage succeeded")
				}
				tt.check(t, err)
				if len(sent) != 0 {
					t.Errorf("sent %+v", sent)
				}
			}
			assertNoMPLeak(t, e, err)
		})
	}
}

func sameMessage(a, b wechattest.SentMessage) bool {
	return a.App == b.App && a.ToUser == b.ToUser && a.TemplateID == b.TemplateID && a.Page == b.Page &&
		a.State == b.State && a.Lang == b.Lang && maps.Equal(a.Data, b.Data)
}

// Concurrent senders that all hit an expired token share one refresh: a
// late InvalidateToken of the old token does not drop the new one.
func TestSendSubscribeMessageConcurrentRefresh(t *testing.T) {
	e := newEnv(t, nil)
	warmToken(t, e)
	e.srv.ExpireTokens()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = e.client.SendSubscribeMessage(t.Context(), model.AppCustomer, wechat.SubscribeMessage{
				ToUser: testOpenID, TemplateID: "tmpl", Data: map[string]string{"thing1": "x"},
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sender %d: %v", i, err)
		}
	}
	if got := e.srv.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2 (warm-up and one refresh)", got)
	}
	if got := len(e.srv.SentMessages()); got != n {
		t.Errorf("sent = %d, want %d", got, n)
	}
	assertNoMPLeak(t, e, nil)
}

func TestIsPermanentAndGrantGone(t *testing.T) {
	tests := []struct {
		err             error
		permanent, gone bool
	}{
		{&wechat.Error{Code: 43101}, true, true},
		{&wechat.Error{Code: 47003}, true, false},
		{&wechat.Error{Code: 40003}, true, false},
		{&wechat.Error{Code: 40037}, true, false},
		{&wechat.Error{Code: 41030}, true, false},
		{&wechat.Error{Code: 40001}, false, false},
		{&wechat.Error{Code: -1}, false, false},
		{&wechat.Error{Code: 45011}, false, false},
		{wechat.ErrUnavailable, false, false},
		{wechat.ErrNotConfigured, false, false},
		{errors.New("other"), false, false},
		{nil, false, false},
		{wechat.ErrBadRequest, true, false},
	}
	for _, tt := range tests {
		if got := wechat.IsPermanent(tt.err); got != tt.permanent {
			t.Errorf("IsPermanent(%v) = %v", tt.err, got)
		}
		if got := wechat.IsGrantGone(tt.err); got != tt.gone {
			t.Errorf("IsGrantGone(%v) = %v", tt.err, got)
		}
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
