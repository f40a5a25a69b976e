package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what is read from WeChat; JSON answers are tiny.
const maxBody = 1 << 20

// apiStatus is the error part every WeChat JSON answer may carry.
type apiStatus struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// attemptError is the outcome of one failed attempt.
type attemptError struct {
	retry   bool
	errcode int    // for the retry log record; 0 when WeChat sent none
	reason  string // sanitized
	logMsg  string
	cause   error // sanitized: never a *url.Error
}

func (e *attemptError) Error() string { return e.reason }

// call performs one API request with retries and decodes a successful JSON
// answer into out (or, when out is an *imageOut, takes an image answer). newReq must build a fresh request per attempt. secrets
// are scrubbed from any text that reaches an error.
func (c *Client) call(ctx context.Context, api string, newReq func(context.Context) (*http.Request, error), out any, secrets ...string) error {
	attempts := c.retries + 1
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, api, newReq, out, secrets)
		if err == nil {
			return nil
		}
		var ae *attemptError
		if !errors.As(err, &ae) {
			return err // an *Error that must not be retried
		}
		causes := []error{}
		if ae.cause != nil {
			causes = append(causes, ae.cause)
		}
		if cerr := ctx.Err(); cerr != nil {
			// The caller gave up; do not retry on its behalf.
			return &unavailableError{api: api, reason: ae.reason, attempts: attempt, causes: append(causes, cerr)}
		}
		if !ae.retry || attempt >= attempts {
			return &unavailableError{api: api, reason: ae.reason, attempts: attempt, causes: causes}
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, ae.logMsg,
			slog.String("api", api), slog.Int("attempt", attempt), slog.Int("errcode", ae.errcode))
		if err := sleep(ctx, backoff(c.retryDelay, attempt)); err != nil {
			return &unavailableError{api: api, reason: ae.reason, attempts: attempt, causes: append(causes, err)}
		}
	}
}

func (c *Client) attempt(ctx context.Context, api string, newReq func(context.Context) (*http.Request, error), out any, secrets []string) error {
	req, err := newReq(ctx)
	if err != nil {
		// Only a malformed BaseURL gets here; url.Parse errors quote the URL.
		return &attemptError{reason: "bad request: check BaseURL", logMsg: "wechat: bad request"}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(err, secrets)
	}
	defer resp.Body.Close()
	img, wantImage := out.(*imageOut)
	if wantImage && resp.StatusCode == http.StatusOK && isImage(resp.Header.Get("Content-Type")) {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxImage+1))
		if err != nil {
			return transportError(err, secrets)
		}
		if len(body) > maxImage {
			// Not retried: WeChat would answer the same image again.
			return &attemptError{reason: "image larger than 2 MiB"}
		}
		if len(body) == 0 {
			return &attemptError{retry: true, reason: "empty image", logMsg: "wechat: retrying after empty image"}
		}
		img.data = body
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return transportError(err, secrets)
	}
	if resp.StatusCode >= 500 {
		return &attemptError{retry: true, reason: fmt.Sprintf("HTTP %d", resp.StatusCode), logMsg: "wechat: retrying after HTTP error"}
	}
	if resp.StatusCode != http.StatusOK {
		return &attemptError{reason: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	// Never quote the body: a success carries session_key.
	var st apiStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return &attemptError{retry: true, reason: "unparsable answer", logMsg: "wechat: retrying after unparsable answer"}
	}
	if st.ErrCode != 0 {
		we := &Error{Code: st.ErrCode, Msg: redact(st.ErrMsg, secrets...), API: api}
		if st.ErrCode == codeBusy {
			return &attemptError{retry: true, errcode: st.ErrCode, reason: fmt.Sprintf("errcode %d: %s", we.Code, we.Msg), logMsg: "wechat: retrying after errcode", cause: we}
		}
		return we
	}
	if wantImage {
		// errcode 0 without an image: an incomplete answer.
		return &attemptError{retry: true, reason: "answer without image", logMsg: "wechat: retrying after answer without image"}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &attemptError{retry: true, reason: "unparsable answer", logMsg: "wechat: retrying after unparsable answer"}
	}
	return nil
}

// maxImage bounds a mini-program code image.
const maxImage = 2 << 20

// imageOut, passed to call as out, accepts an HTTP 200 image/* answer as
// the result; any other answer is read as JSON (an errcode).
type imageOut struct{ data []byte }

func isImage(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && strings.HasPrefix(mt, "image/")
}

// transportError turns an http.Client error into an attemptError without
// the *url.Error wrapper, whose text contains the URL and thus the secret
// and the code.
func transportError(err error, secrets []string) *attemptError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &attemptError{retry: true, reason: "timeout", logMsg: "wechat: retrying after timeout", cause: sanitized(err, secrets)}
	}
	return &attemptError{retry: true, reason: "network error: " + redact(err.Error(), secrets...), logMsg: "wechat: retrying after network error", cause: sanitized(err, secrets)}
}

// sanitizedError keeps errors.Is working for the well-known sentinels while
// its text is scrubbed.
type sanitizedError struct {
	msg   string
	inner error
}

func (e *sanitizedError) Error() string { return e.msg }

func (e *sanitizedError) Is(target error) bool {
	return target == context.DeadlineExceeded && errors.Is(e.inner, context.DeadlineExceeded) ||
		target == context.Canceled && errors.Is(e.inner, context.Canceled)
}

func sanitized(err error, secrets []string) error {
	return &sanitizedError{msg: redact(err.Error(), secrets...), inner: err}
}

// backoff is base doubled per attempt already made, capped at maxBackoff.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

const maxBackoff = 30 * time.Second

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
