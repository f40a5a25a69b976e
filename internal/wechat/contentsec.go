package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"callme/internal/model"
)

const (
	apiMsgSecCheck    = "msg_sec_check"
	apiMediaCheck     = "media_check_async"
	maxCheckedContent = 2500 // characters msg_sec_check accepts

	// WeChat's per-app limits per minute (see shared/WECHAT.md).
	TextChecksPerMinute  = 4000
	ImageChecksPerMinute = 2000
)

// Scene tells WeChat what kind of text is checked; it picks the rules.
type Scene int

const (
	SceneProfile   Scene = 1 // names, descriptions a user shows about themself
	SceneComment   Scene = 2 // comments, notes on someone else's object
	SceneForum     Scene = 3
	SceneSocialLog Scene = 4
)

// Suggest is WeChat's verdict on content.
type Suggest string

const (
	SuggestPass   Suggest = "pass"
	SuggestReview Suggest = "review" // a person should look at it
	SuggestRisky  Suggest = "risky"  // must not be published
)

// Verdict is the result of a content check.
type Verdict struct {
	Suggest Suggest
	Label   int // 100 normal; others name the category (20001 politics, ...)
	TraceID string
}

// ErrQuota means a content check was not sent because this client already
// sent its share of the app's per-minute quota. It wraps ErrUnavailable:
// callers treat it as WeChat being busy.
var ErrQuota = fmt.Errorf("content check quota of this minute used up: %w", ErrUnavailable)

// Content-check errcodes.
const (
	codeBadScene       = 40129 // msg_sec_check: invalid scene
	codeOpenIDMismatch = 43104 // appid and openid do not match
	codeEmptyParam     = 44002 // empty parameter
	codeBadFormat      = 47001 // bad format (e.g. content too long)
)

// checkCounter is a fixed-window counter of the checks sent in the current
// minute, per app: simpler than a token bucket and exactly WeChat's rule.
// With a shared counter (Redis, when several instances run) the window is
// counted across instances; when that counter cannot answer, each instance
// falls back to counting its own checks against the same limit.
type checkCounter struct {
	kind   string
	shared SharedCounter

	mu     sync.Mutex
	limit  int
	window time.Time
	used   map[model.App]int
}

// SharedCounter counts across instances: Incr adds one to key and returns
// the new count; the key expires after ttl.
type SharedCounter interface {
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

// ShareQuotas counts the content-check quotas in sc, so N instances stay
// under WeChat's per-app limit together rather than each under its own.
func (c *Client) ShareQuotas(sc SharedCounter) {
	c.textQuota.shared, c.imageQuota.shared = sc, sc
}

func (q *checkCounter) take(ctx context.Context, app model.App, now time.Time) bool {
	if q == nil || q.limit <= 0 {
		return true
	}
	w := now.Truncate(time.Minute)
	if q.shared != nil {
		n, err := q.shared.Incr(ctx, fmt.Sprintf("csec:%s:%s:%d", q.kind, app, w.Unix()), 2*time.Minute)
		if err == nil {
			return n <= int64(q.limit)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !w.Equal(q.window) {
		q.window, q.used = w, map[model.App]int{}
	}
	if q.used[app] >= q.limit {
		return false
	}
	q.used[app]++
	return true
}

type msgSecCheckBody struct {
	Version int    `json:"version"`
	OpenID  string `json:"openid"`
	Scene   Scene  `json:"scene"`
	Content string `json:"content"`
}

type msgSecCheckResponse struct {
	TraceID string `json:"trace_id"`
	Result  struct {
		Suggest Suggest `json:"suggest"`
		Label   int     `json:"label"`
	} `json:"result"`
}

func validCheckScene(s Scene) bool { return s >= SceneProfile && s <= SceneSocialLog }

// MsgSecCheck checks text a user of app wrote (version 2 of POST
// {BaseURL}/wxa/msg_sec_check). openid is the writer's, in app: WeChat
// answers 43104 when they do not match and 40003 when the user has not opened
// the mini-program in the last 2 hours.
//
// Errors: ErrBadRequest for an empty openid or content, content beyond 2,500
// characters or a scene outside 1..4 (nothing is sent); ErrNotConfigured;
// ErrQuota (wrapping ErrUnavailable) when this client's share of the
// per-minute quota is used up; an *Error (IsPermanent for 40003, 40129,
// 43104, 44002, 47001); ErrUnavailable after retries of -1, timeouts and 5xx.
// A rejected access token (40001/42001) is refreshed and the check retried
// once.
func (c *Client) MsgSecCheck(ctx context.Context, app model.App, openid string, scene Scene, content string) (Verdict, error) {
	bad := func(reason string) error {
		return fmt.Errorf("wechat %s: %s: %w", apiMsgSecCheck, reason, ErrBadRequest)
	}
	switch {
	case openid == "":
		return Verdict{}, bad("missing openid")
	case content == "":
		return Verdict{}, bad("missing content")
	case !utf8.ValidString(content):
		return Verdict{}, bad("content is not UTF-8")
	case utf8.RuneCountInString(content) > maxCheckedContent:
		return Verdict{}, bad("content longer than 2500 characters")
	case !validCheckScene(scene):
		return Verdict{}, bad("scene must be 1..4")
	}
	cred, err := c.creds(apiMsgSecCheck, app)
	if err != nil {
		return Verdict{}, err
	}
	if !c.textQuota.take(ctx, app, c.now()) {
		return Verdict{}, ErrQuota
	}
	body, err := json.Marshal(msgSecCheckBody{Version: 2, OpenID: openid, Scene: scene, Content: content})
	if err != nil {
		return Verdict{}, err
	}
	var out msgSecCheckResponse
	err = c.withToken(ctx, app, apiMsgSecCheck, func(ctx context.Context, token string) error {
		return c.call(ctx, apiMsgSecCheck, c.postJSON("/wxa/msg_sec_check", token, body), &out, cred.Secret, token, openid)
	})
	if err != nil {
		return Verdict{}, err
	}
	switch out.Result.Suggest {
	case SuggestPass, SuggestReview, SuggestRisky:
	default:
		return Verdict{}, &unavailableError{api: apiMsgSecCheck, reason: "answer without result.suggest", attempts: 1}
	}
	return Verdict{Suggest: out.Result.Suggest, Label: out.Result.Label, TraceID: out.TraceID}, nil
}

type mediaCheckBody struct {
	MediaURL  string `json:"media_url"`
	MediaType int    `json:"media_type"`
	Version   int    `json:"version"`
	OpenID    string `json:"openid"`
	Scene     Scene  `json:"scene"`
}

// MediaCheckAsync asks WeChat to check the image at mediaURL, which WeChat
// must be able to fetch (POST {BaseURL}/wxa/media_check_async, version 2,
// media_type 2). It answers the trace_id at once; the verdict arrives later
// as a wxa_media_check push carrying that trace_id. Errors as MsgSecCheck,
// with its own quota.
func (c *Client) MediaCheckAsync(ctx context.Context, app model.App, openid string, scene Scene, mediaURL string) (string, error) {
	bad := func(reason string) error {
		return fmt.Errorf("wechat %s: %s: %w", apiMediaCheck, reason, ErrBadRequest)
	}
	switch {
	case openid == "":
		return "", bad("missing openid")
	case mediaURL == "":
		return "", bad("missing media_url")
	case !validCheckScene(scene):
		return "", bad("scene must be 1..4")
	}
	cred, err := c.creds(apiMediaCheck, app)
	if err != nil {
		return "", err
	}
	if !c.imageQuota.take(ctx, app, c.now()) {
		return "", ErrQuota
	}
	body, err := json.Marshal(mediaCheckBody{MediaURL: mediaURL, MediaType: 2, Version: 2, OpenID: openid, Scene: scene})
	if err != nil {
		return "", err
	}
	var out struct {
		TraceID string `json:"trace_id"`
	}
	err = c.withToken(ctx, app, apiMediaCheck, func(ctx context.Context, token string) error {
		return c.call(ctx, apiMediaCheck, c.postJSON("/wxa/media_check_async", token, body), &out, cred.Secret, token, openid)
	})
	if err != nil {
		return "", err
	}
	if out.TraceID == "" {
		// Not retried: WeChat may have queued the check already.
		return "", &unavailableError{api: apiMediaCheck, reason: "answer without trace_id", attempts: 1}
	}
	return out.TraceID, nil
}

// IsUnavailable reports whether err means WeChat gave no usable answer (busy,
// slow, down, or this client's quota share used up): try again later.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
