package wechat_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

var testApps = map[model.App]wechat.AppCredentials{
	model.AppCustomer: {AppID: "wxcustomer0001", Secret: "customer-secret-3f9a1c"},
	model.AppSeller:   {AppID: "wxseller00002", Secret: "seller-secret-77b2e0"},
}

// syncBuffer lets the race detector see slog writes and test reads as ordered.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	srv    *wechattest.Server
	client *wechat.Client
	logs   *syncBuffer
	clock  *fakeClock
}

// newEnv starts a fake server and a client through real HTTP. modify may
// adjust the config before the client is built.
func newEnv(t *testing.T, modify func(*wechat.Config)) *env {
	t.Helper()
	e := &env{
		srv:   wechattest.NewServer(t, testApps),
		logs:  &syncBuffer{},
		clock: &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	cfg := wechat.Config{
		BaseURL:    e.srv.URL,
		Apps:       testApps,
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
		Retries:    2,
		RetryDelay: time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        e.clock.Now,
	}
	if modify != nil {
		modify(&cfg)
	}
	e.client = wechat.New(cfg)
	return e
}

// assertNoLeak fails if any secret appears in the log output or the error.
func assertNoLeak(t *testing.T, logs string, err error, secrets ...string) {
	t.Helper()
	texts := map[string]string{"logs": logs}
	if err != nil {
		texts["error"] = err.Error()
	}
	for where, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s leak %q: %s", where, s, text)
			}
		}
		for _, s := range []string{"js_code=", "secret=", "/sns/jscode2session?", "session_key"} {
			if strings.Contains(text, s) {
				t.Errorf("%s contain %q: %s", where, s, text)
			}
		}
	}
}

func wantErrcode(code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var we *wechat.Error
		if !errors.As(err, &we) || we.Code != code {
			t.Fatalf("err = %v, want errcode %d", err, code)
		}
		if we.API != "jscode2session" {
			t.Errorf("API = %q", we.API)
		}
		if errors.Is(err, wechat.ErrUnavailable) != (code == -1) {
			t.Errorf("errors.Is(ErrUnavailable) = %v for errcode %d", !(code == -1), code)
		}
	}
}

func isUnavailable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, wechat.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestCode2Session(t *testing.T) {
	closedServer := func(t *testing.T, e *env) string {
		code := e.srv.IssueCode(model.AppCustomer, "o-closed")
		e.srv.Close()
		return code
	}
	tests := []struct {
		name   string
		config func(*wechat.Config)
		app    model.App // default AppCustomer
		// setup prepares the server and returns the code to exchange.
		setup        func(t *testing.T, e *env) string
		check        func(t *testing.T, err error)
		wantOpenID   string
		wantRequests int // jscode2session requests made by the call under test
		wantRetryLog int // Warn records
	}{
		{
			name:         "success",
			setup:        func(t *testing.T, e *env) string { return e.srv.IssueCode(model.AppCustomer, "o-alice") },
			wantOpenID:   "o-alice",
			wantRequests: 1,
		},
		{
			name:         "seller app success",
			app:          model.AppSeller,
			setup:        func(t *testing.T, e *env) string { return e.srv.IssueCode(model.AppSeller, "o-bob") },
			wantOpenID:   "o-bob",
			wantRequests: 1,
		},
		{
			name:  "40029 unknown code",
			setup: func(t *testing.T, e *env) string { return "0c1ZZZnotissued" },
			check: func(t *testing.T, err error) {
				wantErrcode(40029)(t, err)
				if !wechat.IsInvalidCode(err) || wechat.IsRateLimited(err) || wechat.IsBlocked(err) {
					t.Errorf("classification wrong for %v", err)
				}
				if !strings.HasPrefix(err.Error(), "wechat jscode2session: errcode 40029: invalid code") {
					t.Errorf("Error() = %q", err)
				}
			},
			wantRequests: 1,
		},
		{
			name: "40163 reused code",
			setup: func(t *testing.T, e *env) string {
				code := e.srv.IssueCode(model.AppCustomer, "o-carol")
				if _, err := e.client.Code2Session(t.Context(), model.AppCustomer, code); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
				return code
			},
			check: func(t *testing.T, err error) {
				wantErrcode(40163)(t, err)
				if !wechat.IsInvalidCode(err) {
					t.Error("IsInvalidCode = false")
				}
			},
			wantRequests: 1,
		},
		{
			name: "expired code",
			setup: func(t *testing.T, e *env) string {
				code := e.srv.IssueCode(model.AppCustomer, "o-dave")
				e.srv.Advance(wechattest.CodeLifetime)
				return code
			},
			check:        func(t *testing.T, err error) { wantErrcode(40029)(t, err) },
			wantRequests: 1,
		},
		{
			name:         "code of the other app",
			setup:        func(t *testing.T, e *env) string { return e.srv.IssueCode(model.AppSeller, "o-erin") },
			check:        func(t *testing.T, err error) { wantErrcode(40029)(t, err) },
			wantRequests: 1,
		},
		{
			name: "45011 rate limited, not retried",
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNext(1, 45011)
				return e.srv.IssueCode(model.AppCustomer, "o-frank")
			},
			check: func(t *testing.T, err error) {
				wantErrcode(45011)(t, err)
				if !wechat.IsRateLimited(err) || wechat.IsInvalidCode(err) {
					t.Errorf("classification wrong for %v", err)
				}
			},
			wantRequests: 1,
		},
		{
			name: "40226 blocked, not retried",
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNext(1, 40226)
				return e.srv.IssueCode(model.AppCustomer, "o-grace")
			},
			check: func(t *testing.T, err error) {
				wantErrcode(40226)(t, err)
				if !wechat.IsBlocked(err) {
					t.Error("IsBlocked = false")
				}
			},
			wantRequests: 1,
		},
		{
			name: "wrong appid 40013",
			config: func(c *wechat.Config) {
				c.Apps = map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxunknown", Secret: "customer-secret-3f9a1c"}}
			},
			setup:        func(t *testing.T, e *env) string { return e.srv.IssueCode(model.AppCustomer, "o-heidi") },
			check:        func(t *testing.T, err error) { wantErrcode(40013)(t, err) },
			wantRequests: 1,
		},
		{
			name: "wrong secret 40125",
			config: func(c *wechat.Config) {
				c.Apps = map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxcustomer0001", Secret: "wrong-secret-0d0d0d"}}
			},
			setup:        func(t *testing.T, e *env) string { return e.srv.IssueCode(model.AppCustomer, "o-ivan") },
			check:        func(t *testing.T, err error) { wantErrcode(40125)(t, err) },
			wantRequests: 1,
		},
		{
			name: "-1 then success",
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNext(1, -1)
				return e.srv.IssueCode(model.AppCustomer, "o-judy")
			},
			wantOpenID:   "o-judy",
			wantRequests: 2,
			wantRetryLog: 1,
		},
		{
			name: "-1 on every attempt",
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNext(3, -1)
				return e.srv.IssueCode(model.AppCustomer, "o-ken")
			},
			check: func(t *testing.T, err error) {
				isUnavailable(t, err)
				wantErrcode(-1)(t, err)
			},
			wantRequests: 3,
			wantRetryLog: 2,
		},
		{
			name:   "-1 with retries disabled",
			config: func(c *wechat.Config) { c.Retries = -1 },
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNext(1, -1)
				return e.srv.IssueCode(model.AppCustomer, "o-leo")
			},
			check:        isUnavailable,
			wantRequests: 1,
		},
		{
			name: "HTTP 502 then success",
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNextHTTP(1, http.StatusBadGateway)
				return e.srv.IssueCode(model.AppCustomer, "o-mia")
			},
			wantOpenID:   "o-mia",
			wantRequests: 2,
			wantRetryLog: 1,
		},
		{
			name: "garbage body on every attempt",
			setup: func(t *testing.T, e *env) string {
				e.srv.FailNextHTTP(3, http.StatusOK)
				return e.srv.IssueCode(model.AppCustomer, "o-ned")
			},
			check:        isUnavailable,
			wantRequests: 3,
			wantRetryLog: 2,
		},
		{
			name:   "timeout on every attempt",
			config: func(c *wechat.Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} },
			setup: func(t *testing.T, e *env) string {
				e.srv.DelayNext(3, time.Minute)
				return e.srv.IssueCode(model.AppCustomer, "o-olga")
			},
			check: func(t *testing.T, err error) {
				isUnavailable(t, err)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want DeadlineExceeded in chain", err)
				}
				var we *wechat.Error
				if errors.As(err, &we) {
					t.Errorf("timeout carries *Error %v", we)
				}
			},
			wantRequests: 3,
			wantRetryLog: 2,
		},
		{
			name:   "timeout then success",
			config: func(c *wechat.Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} },
			setup: func(t *testing.T, e *env) string {
				e.srv.DelayNext(1, time.Minute)
				return e.srv.IssueCode(model.AppCustomer, "o-pat")
			},
			wantOpenID:   "o-pat",
			wantRequests: 2,
			wantRetryLog: 1,
		},
		{
			name:         "network error",
			setup:        closedServer,
			check:        isUnavailable,
			wantRequests: 0,
			wantRetryLog: 2,
		},
		{
			name: "no credentials",
			config: func(c *wechat.Config) {
				c.Apps = map[model.App]wechat.AppCredentials{model.AppSeller: testApps[model.AppSeller]}
			},
			setup: func(t *testing.T, e *env) string { return e.srv.IssueCode(model.AppCustomer, "o-quinn") },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, wechat.ErrNotConfigured) {
					t.Fatalf("err = %v, want ErrNotConfigured", err)
				}
			},
			wantRequests: 0,
		},
		{
			name:  "empty code",
			setup: func(t *testing.T, e *env) string { return "" },
			check: func(t *testing.T, err error) {
				if !wechat.IsInvalidCode(err) {
					t.Fatalf("err = %v, want invalid code", err)
				}
			},
			wantRequests: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.config)
			app := tt.app
			if app == "" {
				app = model.AppCustomer
			}
			code := tt.setup(t, e)
			before := e.srv.Requests()
			logsBefore := strings.Count(e.logs.String(), "level=WARN")

			sess, err := e.client.Code2Session(t.Context(), app, code)

			if got := e.srv.Requests() - before; got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
			if got := strings.Count(e.logs.String(), "level=WARN") - logsBefore; got != tt.wantRetryLog {
				t.Errorf("retry log records = %d, want %d:\n%s", got, tt.wantRetryLog, e.logs)
			}
			if tt.check == nil {
				if err != nil {
					t.Fatalf("Code2Session: %v", err)
				}
				if sess.OpenID != tt.wantOpenID {
					t.Errorf("OpenID = %q, want %q", sess.OpenID, tt.wantOpenID)
				}
				if want := e.srv.SessionKey(code); sess.SessionKey == "" || sess.SessionKey != want {
					t.Errorf("SessionKey = %q, want %q", sess.SessionKey, want)
				}
				if sess.UnionID != "" {
					t.Errorf("UnionID = %q, want empty", sess.UnionID)
				}
			} else {
				if err == nil {
					t.Fatalf("Code2Session succeeded: %+v", sess)
				}
				tt.check(t, err)
				if sess != (wechat.Session{}) {
					t.Errorf("session on error: %+v", sess)
				}
			}
			// Nothing secret may reach logs or errors, whatever happened.
			assertNoLeak(t, e.logs.String(), err, code, e.srv.SessionKey(code),
				testApps[model.AppCustomer].Secret, testApps[model.AppSeller].Secret, "wrong-secret-0d0d0d")
		})
	}
}

func TestCode2SessionRetryLogAttrs(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.FailNext(1, -1)
	code := e.srv.IssueCode(model.AppCustomer, "o-attrs")
	if _, err := e.client.Code2Session(t.Context(), model.AppCustomer, code); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	for _, want := range []string{"level=WARN", "api=jscode2session", "attempt=1", "errcode=-1"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestCode2SessionRespectsContext(t *testing.T) {
	t.Run("cancelled before the call", func(t *testing.T) {
		e := newEnv(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := e.client.Code2Session(ctx, model.AppCustomer, e.srv.IssueCode(model.AppCustomer, "o-x"))
		if !errors.Is(err, context.Canceled) || !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want Canceled and ErrUnavailable", err)
		}
		if strings.Contains(e.logs.String(), "level=WARN") {
			t.Errorf("retried for a cancelled caller:\n%s", e.logs)
		}
	})
	t.Run("deadline during backoff", func(t *testing.T) {
		e := newEnv(t, func(c *wechat.Config) { c.RetryDelay = time.Hour })
		e.srv.FailNext(3, -1)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := e.client.Code2Session(ctx, model.AppCustomer, e.srv.IssueCode(model.AppCustomer, "o-y"))
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want DeadlineExceeded and ErrUnavailable", err)
		}
		if got := e.srv.Requests(); got != 1 {
			t.Errorf("requests = %d, want 1", got)
		}
	})
}

func TestConfigured(t *testing.T) {
	c := wechat.New(wechat.Config{Apps: map[model.App]wechat.AppCredentials{
		model.AppCustomer: {AppID: "wx1", Secret: "s"},
		model.AppSeller:   {AppID: "wx2"}, // no secret: unusable
	}})
	if !c.Configured(model.AppCustomer) || c.Configured(model.AppSeller) || c.Configured("OTHER") {
		t.Error("Configured is wrong")
	}
}

func TestAccessToken(t *testing.T) {
	ctx := t.Context()
	t.Run("cached, invalidated, expired", func(t *testing.T) {
		e := newEnv(t, nil)
		tok1, err := e.client.AccessToken(ctx, model.AppCustomer)
		if err != nil || tok1 == "" {
			t.Fatalf("AccessToken = %q, %v", tok1, err)
		}
		tok2, err := e.client.AccessToken(ctx, model.AppCustomer)
		if err != nil || tok2 != tok1 {
			t.Fatalf("second AccessToken = %q, %v; want %q", tok2, err, tok1)
		}
		if got := e.srv.TokenRequests(); got != 1 {
			t.Fatalf("token requests = %d, want 1", got)
		}

		// A stale token does not drop the cached one.
		e.client.InvalidateToken(model.AppCustomer, "some-older-token")
		if _, err := e.client.AccessToken(ctx, model.AppCustomer); err != nil {
			t.Fatal(err)
		}
		if got := e.srv.TokenRequests(); got != 1 {
			t.Fatalf("token requests after stale invalidate = %d, want 1", got)
		}

		e.client.InvalidateToken(model.AppCustomer, tok1)
		if _, err := e.client.AccessToken(ctx, model.AppCustomer); err != nil {
			t.Fatal(err)
		}
		if got := e.srv.TokenRequests(); got != 2 {
			t.Fatalf("token requests after invalidate = %d, want 2", got)
		}

		// Per app: the seller has its own token.
		sellerTok, err := e.client.AccessToken(ctx, model.AppSeller)
		if err != nil || sellerTok == tok1 {
			t.Fatalf("seller token = %q, %v", sellerTok, err)
		}
		if got := e.srv.TokenRequests(); got != 3 {
			t.Fatalf("token requests after seller = %d, want 3", got)
		}

		// Reused until 5 minutes before expiry, then fetched again.
		e.clock.Advance(wechattest.TokenLifetime - 5*time.Minute - 5*time.Second) // WeChat reports whole seconds left
		if _, err := e.client.AccessToken(ctx, model.AppCustomer); err != nil {
			t.Fatal(err)
		}
		if got := e.srv.TokenRequests(); got != 3 {
			t.Fatalf("token requests before margin = %d, want 3", got)
		}
		e.clock.Advance(10 * time.Second)
		e.srv.Advance(wechattest.TokenLifetime)
		tok3, err := e.client.AccessToken(ctx, model.AppCustomer)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.srv.TokenRequests(); got != 4 || tok3 == tok1 {
			t.Fatalf("token requests after expiry = %d (want 4), token changed = %v", got, tok3 != tok1)
		}
	})

	t.Run("concurrent callers share one fetch", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.DelayNext(1, 50*time.Millisecond) // keep the fetch in flight while callers pile up
		const n = 20
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			tokens = make([]string, n)
			errs   = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				tokens[i], errs[i] = e.client.AccessToken(ctx, model.AppCustomer)
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || tokens[i] == "" || tokens[i] != tokens[0] {
				t.Fatalf("caller %d: %q, %v (first %q)", i, tokens[i], errs[i], tokens[0])
			}
		}
		if got := e.srv.TokenRequests(); got != 1 {
			t.Fatalf("token requests = %d, want 1", got)
		}
	})

	t.Run("a waiter giving up does not cancel the shared fetch", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.DelayNext(1, 200*time.Millisecond)
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if _, err := e.client.AccessToken(short, model.AppCustomer); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if tok, err := e.client.AccessToken(ctx, model.AppCustomer); err != nil || tok == "" {
			t.Fatalf("AccessToken = %q, %v", tok, err)
		}
		if got := e.srv.TokenRequests(); got != 1 {
			t.Fatalf("token requests = %d, want 1", got)
		}
	})

	t.Run("errors are not cached and do not leak", func(t *testing.T) {
		e := newEnv(t, func(c *wechat.Config) {
			c.Apps = map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxcustomer0001", Secret: "wrong-secret-0d0d0d"}}
		})
		for i := range 2 {
			_, err := e.client.AccessToken(ctx, model.AppCustomer)
			var we *wechat.Error
			if !errors.As(err, &we) || we.Code != 40125 || we.API != "stable_token" {
				t.Fatalf("call %d: err = %v, want errcode 40125", i, err)
			}
			assertNoLeak(t, e.logs.String(), err, "wrong-secret-0d0d0d", testApps[model.AppCustomer].Secret)
		}
		if got := e.srv.TokenRequests(); got != 2 {
			t.Fatalf("token requests = %d, want 2", got)
		}
		if _, err := e.client.AccessToken(ctx, model.AppSeller); !errors.Is(err, wechat.ErrNotConfigured) {
			t.Fatalf("err = %v, want ErrNotConfigured", err)
		}
	})

	t.Run("network error does not leak", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.Close()
		_, err := e.client.AccessToken(ctx, model.AppCustomer)
		isUnavailable(t, err)
		assertNoLeak(t, e.logs.String(), err, testApps[model.AppCustomer].Secret)
	})
}
