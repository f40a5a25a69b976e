// Package wechattest is a local fake of the WeChat server APIs callme uses,
// for tests that must go through real HTTP.
//
// Why: callme's machines cannot reach WeChat, and the behaviour that matters
// (single-use, expiring codes; errcodes answered with HTTP 200; a stable
// access token; busy and slow answers) is exactly what mocks of the client
// would get wrong. The fake answers like WeChat does, keeps per-app
// credentials, and lets a test inject failures and delays. For content
// security it answers msg_sec_check with configurable verdicts
// (SetTextVerdict) and media_check_async with trace ids, and a Pusher sends
// the verdict pushes WeChat would, signed and optionally encrypted.
package wechattest

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/wechat"
)

// Lifetimes used by WeChat.
const (
	CodeLifetime  = 5 * time.Minute
	TokenLifetime = 7200 * time.Second
)

// Server is a fake WeChat API server. It is safe for concurrent use.
type Server struct {
	URL string

	srv       *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once

	mu            sync.Mutex
	apps          map[model.App]wechat.AppCredentials
	codes         map[string]*codeEntry
	failures      []failure // applied to jscode2session, FIFO
	delays        []time.Duration
	offset        time.Duration // server clock = time.Now() + offset
	requests      int
	tokenRequests int
	tokens        map[model.App]tokenEntry

	wxaCalls     []WxaCodeCall
	wxaFailures  []int // errcodes applied to getwxacodeunlimit, FIFO
	sendRequests int
	sent         []SentMessage
	sendFailures []int // errcodes applied to subscribe/send, FIFO
	issued       []string

	verdicts      []verdictRule
	textFailures  []int // errcodes applied to msg_sec_check, FIFO
	mediaFailures []int // errcodes applied to media_check_async, FIFO
	checkOutage   int   // errcode of every content check while set
	checkDelay    time.Duration
	textChecks    []TextCheck
	mediaChecks   []MediaCheck
}

type codeEntry struct {
	app        model.App
	openid     string
	sessionKey string
	issued     time.Time
	used       bool
}

type failure struct {
	errcode int // when status == 0
	status  int // HTTP status with a non-JSON body
}

type tokenEntry struct {
	token   string
	expires time.Time
}

// NewServer starts a fake server knowing apps; it closes on tb.Cleanup.
func NewServer(tb testing.TB, apps map[model.App]wechat.AppCredentials) *Server {
	tb.Helper()
	s := &Server{
		closed: make(chan struct{}),
		apps:   make(map[model.App]wechat.AppCredentials, len(apps)),
		codes:  make(map[string]*codeEntry),
		tokens: make(map[model.App]tokenEntry),
	}
	for app, c := range apps {
		s.apps[app] = c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/sns/jscode2session", s.jscode2session)
	mux.HandleFunc("/cgi-bin/stable_token", s.stableToken)
	mux.HandleFunc("/wxa/getwxacodeunlimit", s.wxaCodeUnlimit)
	mux.HandleFunc("/cgi-bin/message/subscribe/send", s.subscribeSend)
	mux.HandleFunc("/wxa/msg_sec_check", s.msgSecCheck)
	mux.HandleFunc("/wxa/media_check_async", s.mediaCheckAsync)
	s.srv = httptest.NewServer(s.delayed(mux))
	s.URL = s.srv.URL
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server; delayed requests stop sleeping. Safe to call twice.
// A closed server refuses connections, which tests use for network errors.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// IssueCode registers a single-use wx.login code for app that maps to openid
// and returns it. The code expires CodeLifetime later on the server clock.
func (s *Server) IssueCode(app model.App, openid string) string {
	code := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &codeEntry{app: app, openid: openid, sessionKey: rand.Text(), issued: s.now()}
	return code
}

// SessionKey returns the session_key issued for code ("" if unknown), so a
// test can assert it never leaks.
func (s *Server) SessionKey(code string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.codes[code]; e != nil {
		return e.sessionKey
	}
	return ""
}

// FailNext makes the next n jscode2session requests answer errcode (e.g. -1,
// 45011, 40226) with HTTP 200, like WeChat. The code is not consumed.
func (s *Server) FailNext(n int, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{errcode: errcode})
	}
}

// FailNextHTTP makes the next n jscode2session requests answer HTTP status
// with an HTML body, as a failing gateway would: 5xx, or 200 for a garbage
// body.
func (s *Server) FailNextHTTP(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status})
	}
}

// DelayNext makes the next n requests (any API) sleep d before answering.
// Sleeping stops when the client goes away or the server closes; the request
// then has no effect.
func (s *Server) DelayNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.delays = append(s.delays, d)
	}
}

// Advance moves the server clock forward (expires codes and tokens).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Requests returns how many jscode2session requests were received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// TokenRequests returns how many stable_token requests were received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

func (s *Server) now() time.Time { return time.Now().Add(s.offset) }

func (s *Server) delayed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sns/jscode2session":
			s.mu.Lock()
			s.requests++
			s.mu.Unlock()
		case "/cgi-bin/stable_token":
			s.mu.Lock()
			s.tokenRequests++
			s.mu.Unlock()
		case "/cgi-bin/message/subscribe/send":
			s.mu.Lock()
			s.sendRequests++
			s.mu.Unlock()
		}
		s.mu.Lock()
		var d time.Duration
		if len(s.delays) > 0 {
			d, s.delays = s.delays[0], s.delays[1:]
		}
		s.mu.Unlock()
		if d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-s.closed:
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

var errmsgs = map[int]string{
	-1:    "system error",
	40002: "invalid grant_type",
	40013: "invalid appid",
	40029: "invalid code",
	40125: "invalid appsecret",
	40163: "code been used",
	40226: "high risk user",
	45011: "api minute-quota reach limit  mustslower  retry next minute",
	47001: "data format error",
	40001: "invalid credential, access_token is invalid or not latest",
	40003: "invalid openid",
	40037: "invalid template_id",
	40169: "invalid length for scene, or the data is not json string",
	41030: "invalid page",
	42001: "access_token expired",
	43101: "user refuse to accept the msg",
	40129: "invalid scene",
	43104: "appid does not match openid",
	44002: "empty post data",
	47003: "argument invalid! data.thing1.value invalid",
}

func writeErr(w http.ResponseWriter, code int) {
	msg, ok := errmsgs[code]
	if !ok {
		msg = "fake error"
	}
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + ", rid: " + rand.Text()[:8]})
}

func writeJSON(w http.ResponseWriter, v any) {
	// WeChat answers errors with HTTP 200 too.
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// checkApp finds the app by appid and checks the secret: 40013 for an
// unknown appid, 40125 for a wrong secret.
func (s *Server) checkApp(appid, secret string) (model.App, int) {
	for app, c := range s.apps {
		if c.AppID == appid {
			if c.Secret != secret {
				return "", 40125
			}
			return app, 0
		}
	}
	return "", 40013
}

func (s *Server) jscode2session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		if f.status != 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.status)
			_, _ = w.Write([]byte("<html><body>bad gateway</body></html>"))
			return
		}
		writeErr(w, f.errcode)
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, 40002)
		return
	}
	app, errcode := s.checkApp(q.Get("appid"), q.Get("secret"))
	if errcode != 0 {
		writeErr(w, errcode)
		return
	}
	e := s.codes[q.Get("js_code")]
	switch {
	case e == nil, e.app != app, !s.now().Before(e.issued.Add(CodeLifetime)):
		writeErr(w, 40029)
		return
	case e.used:
		writeErr(w, 40163)
		return
	}
	e.used = true
	writeJSON(w, map[string]string{"openid": e.openid, "session_key": e.sessionKey})
}

func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeErr(w, 47001)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.GrantType != "client_credential" {
		writeErr(w, 40002)
		return
	}
	app, errcode := s.checkApp(req.AppID, req.Secret)
	if errcode != 0 {
		writeErr(w, errcode)
		return
	}
	now := s.now()
	t, ok := s.tokens[app]
	if !ok || req.ForceRefresh || !now.Before(t.expires) {
		t = tokenEntry{token: rand.Text() + rand.Text(), expires: now.Add(TokenLifetime)}
		s.tokens[app] = t
		s.issued = append(s.issued, t.token)
	}
	writeJSON(w, map[string]any{"access_token": t.token, "expires_in": int64(t.expires.Sub(now) / time.Second)})
}
