package wechat

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnavailable means WeChat did not give a usable answer: errcode -1
// (system busy), a timeout, a network error, an HTTP 5xx or an unparsable or
// incomplete body. It is returned wrapped (test with errors.Is) once retries
// are exhausted; the request may succeed later.
var ErrUnavailable = errors.New("wechat: unavailable")

// ErrNotConfigured means there are no credentials for the requested app.
var ErrNotConfigured = errors.New("wechat: app not configured")

// ErrBadRequest means a request was rejected locally, before anything was
// sent, because WeChat would refuse it (e.g. an invalid scene). It is
// returned wrapped; retrying the same request never helps (IsPermanent).
var ErrBadRequest = errors.New("wechat: bad request")

// Error is an errcode answered by WeChat. Msg is WeChat's errmsg with any
// secret or code that WeChat might echo removed.
type Error struct {
	Code int
	Msg  string
	API  string // e.g. "jscode2session", "stable_token"
}

func (e *Error) Error() string {
	return fmt.Sprintf("wechat %s: errcode %d: %s", e.API, e.Code, e.Msg)
}

// Errcodes the domain cares about.
const (
	codeBusy         = -1
	codeInvalidCode  = 40029
	codeCodeUsed     = 40163
	codeMissingCode  = 41008
	codeRateLimited  = 45011
	codeBlocked      = 40226
	codeInvalidToken = 40001
	codeExpiredToken = 42001

	codeGrantGone       = 43101 // subscribe: user refused or one-time grant used up
	codeBadTemplateData = 47003 // subscribe: template data invalid
	codeBadOpenID       = 40003 // invalid openid
	codeBadTemplateID   = 40037 // invalid template id
	codeBadPage         = 41030 // page does not exist or is not published
	codeBadSceneLength  = 40169 // getwxacodeunlimit: invalid length for scene
)

func errCode(err error) (int, bool) {
	var we *Error
	if errors.As(err, &we) {
		return we.Code, true
	}
	return 0, false
}

// IsInvalidCode reports whether WeChat rejected the wx.login code: unknown or
// expired (40029), already used (40163) or missing (41008). The mini-program
// should call wx.login again.
func IsInvalidCode(err error) bool {
	c, ok := errCode(err)
	return ok && (c == codeInvalidCode || c == codeCodeUsed || c == codeMissingCode)
}

// IsRateLimited reports whether WeChat answered 45011 (too many requests).
func IsRateLimited(err error) bool {
	c, ok := errCode(err)
	return ok && c == codeRateLimited
}

// IsBlocked reports whether WeChat answered 40226 (high-risk user blocked).
func IsBlocked(err error) bool {
	c, ok := errCode(err)
	return ok && c == codeBlocked
}

// IsTokenInvalid reports whether WeChat rejected an access token (40001
// invalid, 42001 expired); call InvalidateToken and retry once.
func IsTokenInvalid(err error) bool {
	c, ok := errCode(err)
	return ok && (c == codeInvalidToken || c == codeExpiredToken)
}

// IsGrantGone reports whether WeChat answered 43101 to a subscribe message:
// the user refused the template or already used up the one-time grant. Do
// not retry; the user must allow the template again in the mini-program.
func IsGrantGone(err error) bool {
	c, ok := errCode(err)
	return ok && c == codeGrantGone
}

// IsPermanent reports whether retrying the same request can never succeed,
// so that a sender (e.g. a notification outbox) should give up: the grant is
// gone (43101), the template data (47003), openid (40003), template id
// (40037), page (41030) or scene length (40169) is invalid, or the request
// was rejected locally (ErrBadRequest); for content checks also a bad scene
// (40129), an openid of another app (43104), an empty parameter (44002) and a
// bad format (47001). ErrUnavailable, token errors and
// ErrNotConfigured are not permanent.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrBadRequest) {
		return true
	}
	c, ok := errCode(err)
	if !ok || errors.Is(err, ErrUnavailable) {
		return false
	}
	switch c {
	case codeGrantGone, codeBadTemplateData, codeBadOpenID, codeBadTemplateID, codeBadPage, codeBadSceneLength,
		codeBadScene, codeOpenIDMismatch, codeEmptyParam, codeBadFormat:
		return true
	}
	return false
}

// unavailableError is what callers get for anything ErrUnavailable covers.
// Its text is built here from sanitized parts only; cause is never a
// *url.Error (whose text holds the URL with the secret).
type unavailableError struct {
	api      string
	reason   string // sanitized, e.g. "timeout", "HTTP 502", "errcode -1: system error"
	attempts int
	causes   []error
}

func (e *unavailableError) Error() string {
	if e.attempts > 1 {
		return fmt.Sprintf("wechat %s: unavailable after %d attempts: %s", e.api, e.attempts, e.reason)
	}
	return fmt.Sprintf("wechat %s: unavailable: %s", e.api, e.reason)
}

func (e *unavailableError) Unwrap() []error {
	return append([]error{ErrUnavailable}, e.causes...)
}

// redact removes every non-empty secret from s. It is a second line of
// defence: messages are built without secrets, but WeChat's errmsg and
// low-level network errors are text we do not control.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
