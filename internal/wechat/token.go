package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"callme/internal/model"
)

// tokenMargin is how long before WeChat's expiry a cached token is dropped,
// so a token is never used in its last minutes.
const tokenMargin = 5 * time.Minute

// tokenState is the cache of one app's access token. Guarded by Client.mu.
type tokenState struct {
	token      string
	freshUntil time.Time
	call       *tokenCall // in-flight fetch, shared by all waiters
}

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

type stableTokenRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

type stableTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// AccessToken returns a cached access token for app, fetched via POST
// {BaseURL}/cgi-bin/stable_token in normal mode (force_refresh false, which
// WeChat limits far less). A token is reused until 5 minutes before it
// expires. Concurrent callers share one fetch; the fetch is not cancelled
// when one waiter's ctx ends (it is bounded by the HTTP timeout and retries),
// so the others still get the token.
func (c *Client) AccessToken(ctx context.Context, app model.App) (string, error) {
	cred, err := c.creds(apiStableToken, app)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	st := c.tokens[app]
	if st == nil {
		st = &tokenState{}
		c.tokens[app] = st
	}
	if st.token != "" && c.now().Before(st.freshUntil) {
		tok := st.token
		c.mu.Unlock()
		return tok, nil
	}
	call := st.call
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		st.call = call
		go c.fetchToken(context.WithoutCancel(ctx), cred, st, call)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return "", &unavailableError{api: apiStableToken, reason: "waiting for token: " + ctx.Err().Error(), attempts: 1, causes: []error{ctx.Err()}}
	}
}

func (c *Client) fetchToken(ctx context.Context, cred AppCredentials, st *tokenState, call *tokenCall) {
	body, err := json.Marshal(stableTokenRequest{GrantType: "client_credential", AppID: cred.AppID, Secret: cred.Secret})
	var out stableTokenResponse
	if err == nil {
		err = c.call(ctx, apiStableToken, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/cgi-bin/stable_token", bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, err
		}, &out, cred.Secret)
	}
	if err == nil && (out.AccessToken == "" || out.ExpiresIn <= 0) {
		err = &unavailableError{api: apiStableToken, reason: "answer without access_token or expires_in", attempts: 1}
	}

	c.mu.Lock()
	st.call = nil
	if err == nil {
		life := time.Duration(out.ExpiresIn) * time.Second
		// WeChat promises at least 300s; should it answer less, still cache
		// for half the lifetime rather than refetch on every call.
		st.token, st.freshUntil = out.AccessToken, c.now().Add(max(life-tokenMargin, life/2))
	}
	c.mu.Unlock()
	call.token, call.err = out.AccessToken, err
	if err != nil {
		call.token = ""
	}
	close(call.done)
}

// InvalidateToken drops app's cached token if it is still token, so the next
// AccessToken fetches again. Call it when WeChat answers 40001/42001 (see
// IsTokenInvalid) for token; passing the rejected token keeps a late caller
// from dropping a newer one. An empty token drops whatever is cached.
func (c *Client) InvalidateToken(app model.App, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.tokens[app]; st != nil && (token == "" || st.token == token) {
		st.token, st.freshUntil = "", time.Time{}
	}
}

// withToken runs do with app's access token. When WeChat rejects the token
// (40001 invalid, 42001 expired) it drops the token, fetches a fresh one and
// runs do exactly once more. The token never reaches a log record.
func (c *Client) withToken(ctx context.Context, app model.App, api string, do func(ctx context.Context, token string) error) error {
	for try := 1; ; try++ {
		tok, err := c.AccessToken(ctx, app)
		if err != nil {
			return err
		}
		err = do(ctx, tok)
		if try > 1 || !IsTokenInvalid(err) {
			return err
		}
		code, _ := errCode(err)
		c.InvalidateToken(app, tok)
		c.log.LogAttrs(ctx, slog.LevelInfo, "wechat: access token rejected, refreshing",
			slog.String("api", api), slog.String("app", string(app)), slog.Int("errcode", code))
	}
}

// postJSON builds a request factory for POST {BaseURL}{path}?access_token=
// with body. The URL holds the token: it must never reach a log or an error.
func (c *Client) postJSON(path, token string, body []byte) func(context.Context) (*http.Request, error) {
	u := c.baseURL + path + "?" + url.Values{"access_token": {token}}.Encode()
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
}
