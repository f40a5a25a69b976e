package wechat

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"callme/internal/model"
)

// AppCredentials are the credentials of one mini-program.
type AppCredentials struct {
	AppID, Secret string
}

// Config configures a Client. Zero values select the defaults.
type Config struct {
	// BaseURL of the WeChat API; default "https://api.weixin.qq.com".
	BaseURL string
	// Apps holds the credentials per mini-program (customer and seller are
	// two apps with their own appid/secret).
	Apps map[model.App]AppCredentials
	// HTTPClient bounds a single attempt through its Timeout; default
	// &http.Client{Timeout: 5 * time.Second}.
	HTTPClient *http.Client
	// Retries is the number of extra attempts after errcode -1, a timeout, a
	// network error, an HTTP 5xx or an unparsable body. 0 means the default
	// (2); a negative value disables retries.
	Retries int
	// RetryDelay is the backoff before the first retry, doubled for each
	// further one; waiting stops when the context ends. 0 means the default
	// (200ms); a negative value retries without waiting.
	RetryDelay time.Duration
	// Logger receives a Warn record per retry; nil discards.
	Logger *slog.Logger
	// Now is the clock used for the token cache; default time.Now.
	Now func() time.Time
	// TextChecksPerMinute and ImageChecksPerMinute cap the content checks
	// this client sends per app and clock minute; beyond them a check
	// answers ErrQuota without asking WeChat. 0 means WeChat's whole quota
	// (4,000 and 2,000); with N instances sharing an app give each 1/N.
	// Negative disables the cap.
	TextChecksPerMinute, ImageChecksPerMinute int
}

const (
	defaultBaseURL    = "https://api.weixin.qq.com"
	defaultTimeout    = 5 * time.Second
	defaultRetries    = 2
	defaultRetryDelay = 200 * time.Millisecond

	apiCode2Session = "jscode2session"
	apiStableToken  = "stable_token"
)

// Session is the answer of jscode2session. SessionKey must never leave the
// server: do not log it or send it to a client.
type Session struct {
	OpenID, SessionKey, UnionID string
}

// Client talks to the WeChat server APIs. It is safe for concurrent use; all
// its state (the token cache) lives in the value, none in the package.
type Client struct {
	baseURL    string
	apps       map[model.App]AppCredentials
	hc         *http.Client
	retries    int
	retryDelay time.Duration
	log        *slog.Logger
	now        func() time.Time

	mu     sync.Mutex
	tokens map[model.App]*tokenState

	textQuota, imageQuota *checkCounter
}

// New returns a Client for cfg, filling in defaults.
func New(cfg Config) *Client {
	c := &Client{
		baseURL:    strings.TrimRight(cfg.BaseURL, "/"),
		apps:       make(map[model.App]AppCredentials, len(cfg.Apps)),
		hc:         cfg.HTTPClient,
		retries:    cfg.Retries,
		retryDelay: cfg.RetryDelay,
		log:        cfg.Logger,
		now:        cfg.Now,
		tokens:     make(map[model.App]*tokenState),
	}
	if c.baseURL == "" {
		c.baseURL = defaultBaseURL
	}
	for app, cred := range cfg.Apps {
		if cred.AppID != "" && cred.Secret != "" {
			c.apps[app] = cred
		}
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultTimeout}
	}
	switch {
	case c.retries == 0:
		c.retries = defaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	switch {
	case c.retryDelay == 0:
		c.retryDelay = defaultRetryDelay
	case c.retryDelay < 0:
		c.retryDelay = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	quota := func(kind string, n, def int) *checkCounter {
		if n == 0 {
			n = def
		}
		return &checkCounter{kind: kind, limit: n}
	}
	c.textQuota = quota("text", cfg.TextChecksPerMinute, TextChecksPerMinute)
	c.imageQuota = quota("image", cfg.ImageChecksPerMinute, ImageChecksPerMinute)
	return c
}

// Configured reports whether credentials exist for app.
func (c *Client) Configured(app model.App) bool {
	_, ok := c.apps[app]
	return ok
}

func (c *Client) creds(api string, app model.App) (AppCredentials, error) {
	cred, ok := c.apps[app]
	if !ok {
		return AppCredentials{}, fmt.Errorf("wechat %s: app %q: %w", api, app, ErrNotConfigured)
	}
	return cred, nil
}

type code2SessionResponse struct {
	OpenID     string `json:"openid"`
	SessionKey string `json:"session_key"`
	UnionID    string `json:"unionid"`
}

// Code2Session exchanges a wx.login code of app for the user's session via
// GET {BaseURL}/sns/jscode2session. Errors: ErrNotConfigured, an *Error
// (see IsInvalidCode, IsRateLimited, IsBlocked) or ErrUnavailable. An empty
// code is rejected locally as an *Error with code 41008 (missing code).
func (c *Client) Code2Session(ctx context.Context, app model.App, code string) (Session, error) {
	cred, err := c.creds(apiCode2Session, app)
	if err != nil {
		return Session{}, err
	}
	if code == "" {
		return Session{}, &Error{Code: codeMissingCode, Msg: "missing code", API: apiCode2Session}
	}
	q := url.Values{
		"appid":      {cred.AppID},
		"secret":     {cred.Secret},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	u := c.baseURL + "/sns/jscode2session?" + q.Encode()
	var out code2SessionResponse
	err = c.call(ctx, apiCode2Session, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}, &out, cred.Secret, code)
	if err != nil {
		return Session{}, err
	}
	if out.OpenID == "" || out.SessionKey == "" {
		// Not retried: the code was probably consumed, a retry would only
		// answer 40163.
		return Session{}, &unavailableError{api: apiCode2Session, reason: "answer without openid or session_key", attempts: 1}
	}
	return Session{OpenID: out.OpenID, SessionKey: out.SessionKey, UnionID: out.UnionID}, nil
}
