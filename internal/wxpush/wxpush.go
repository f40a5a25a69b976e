// Package wxpush is the endpoint WeChat's message push (消息推送) calls: the
// verdicts of asynchronous image checks arrive here.
//
// Why its own package: it is a door anyone on the internet can knock on, and
// everything it believes must be proven by the request itself:
//
//   - the URL verification GET answers echostr only with a valid signature
//     (sha1 of the sorted token, timestamp and nonce);
//   - every push is signed the same way, and in safe mode (an
//     EncodingAESKey is configured) its body is AES-256-CBC encrypted for one
//     of our appids with msg_signature over the ciphertext; with a key
//     configured, plaintext pushes are refused;
//   - a timestamp more than MaxSkew from our clock is stale, and a
//     (timestamp, nonce) already handled within that window is a replay:
//     both are refused, so a captured push cannot be sent again;
//   - what a push asks for is idempotent anyway: the domain applies each
//     trace_id once (a unique key in the database), on every instance.
//
// Bodies are JSON (choose JSON as the data format in the console); XML pushes
// are refused with 415.
package wxpush

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"callme/internal/wechat"
)

// Options configures the endpoint.
type Options struct {
	// Token is the message-push token of the mini-program console. Required.
	Token string
	// EncodingAESKey (43 characters) turns on safe mode; empty accepts
	// plaintext pushes.
	EncodingAESKey string
	// AppIDs are the appids a safe-mode push may be encrypted for.
	AppIDs []string
	// MaxSkew is how far a push's timestamp may be from our clock (default 5
	// minutes); it is also how long nonces are remembered.
	MaxSkew time.Duration
	// MediaVerdict applies an image check's verdict; it must be idempotent
	// per traceID.
	MediaVerdict func(ctx context.Context, traceID string, suggest wechat.Suggest, label int) (bool, error)
	Now          func() time.Time
	Logger       *slog.Logger
}

const maxPushBody = 64 << 10

// Handler is the push endpoint. Safe for concurrent use.
type Handler struct {
	o      Options
	aesKey []byte

	mu   sync.Mutex
	seen map[string]time.Time // timestamp+nonce of handled pushes
}

// New returns the handler, or an error for a malformed EncodingAESKey or a
// missing token.
func New(o Options) (*Handler, error) {
	if o.Token == "" {
		return nil, errors.New("wxpush: a token is required")
	}
	h := &Handler{o: o, seen: map[string]time.Time{}}
	if o.EncodingAESKey != "" {
		k, err := wechat.DecodeAESKey(o.EncodingAESKey)
		if err != nil {
			return nil, err
		}
		h.aesKey = k
	}
	if h.o.MaxSkew <= 0 {
		h.o.MaxSkew = 5 * time.Minute
	}
	if h.o.Now == nil {
		h.o.Now = time.Now
	}
	if h.o.Logger == nil {
		h.o.Logger = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// SetVerdicts sets Options.MediaVerdict, for wiring where the domain is
// built after the handler. Call it before serving.
func (h *Handler) SetVerdicts(f func(ctx context.Context, traceID string, suggest wechat.Suggest, label int) (bool, error)) {
	h.o.MediaVerdict = f
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if !wechat.SignatureOK(q.Get("signature"), h.o.Token, ts, nonce) {
		h.refuse(w, r, http.StatusForbidden, "bad signature")
		return
	}
	if !h.fresh(ts) {
		h.refuse(w, r, http.StatusForbidden, "stale timestamp")
		return
	}
	switch r.Method {
	case http.MethodGet:
		// URL verification when the push URL is saved in the console.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, q.Get("echostr"))
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Claimed before handling, so two copies sent at once are one push and
	// one replay; released if handling fails, so WeChat's retry is not.
	key := ts + "|" + nonce
	if !h.claim(key) {
		h.refuse(w, r, http.StatusForbidden, "replayed push")
		return
	}
	ok := false
	defer func() {
		if !ok {
			h.forget(key)
		}
	}()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPushBody+1))
	if err != nil || len(body) > maxPushBody {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "body too large or unreadable")
		return
	}
	var outer struct {
		Encrypt *string `json:"Encrypt"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		h.refuse(w, r, http.StatusUnsupportedMediaType, "not a JSON push")
		return
	}
	switch {
	case outer.Encrypt != nil && h.aesKey == nil:
		h.refuse(w, r, http.StatusBadRequest, "encrypted push but no EncodingAESKey configured")
		return
	case outer.Encrypt == nil && h.aesKey != nil:
		h.refuse(w, r, http.StatusForbidden, "plaintext push in safe mode")
		return
	case outer.Encrypt != nil:
		if !wechat.SignatureOK(q.Get("msg_signature"), h.o.Token, ts, nonce, *outer.Encrypt) {
			h.refuse(w, r, http.StatusForbidden, "bad msg_signature")
			return
		}
		if body, err = wechat.DecryptPush(h.aesKey, *outer.Encrypt, h.o.AppIDs...); err != nil {
			h.refuse(w, r, http.StatusForbidden, "undecryptable push")
			return
		}
	}
	var ev struct {
		Event   string `json:"Event"`
		TraceID string `json:"trace_id"`
		Result  struct {
			Suggest wechat.Suggest `json:"suggest"`
			Label   int            `json:"label"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		h.refuse(w, r, http.StatusBadRequest, "unparsable event")
		return
	}
	if ev.Event == "wxa_media_check" && h.o.MediaVerdict != nil {
		if ev.TraceID == "" {
			h.refuse(w, r, http.StatusBadRequest, "media check without trace_id")
			return
		}
		applied, err := h.o.MediaVerdict(r.Context(), ev.TraceID, ev.Result.Suggest, ev.Result.Label)
		if err != nil {
			// 5xx: WeChat pushes again, and the nonce stays usable for that.
			h.o.Logger.ErrorContext(r.Context(), "wechat push: applying a media verdict", "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		h.o.Logger.InfoContext(r.Context(), "wechat push: media verdict", "suggest", ev.Result.Suggest, "label", ev.Result.Label, "applied", applied)
	}
	ok = true
	_, _ = io.WriteString(w, "success")
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	h.o.Logger.WarnContext(r.Context(), "wechat push refused", "reason", why, "status", status)
	http.Error(w, why, status)
}

func (h *Handler) fresh(ts string) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := h.o.Now().Sub(time.Unix(sec, 0))
	return d <= h.o.MaxSkew && d >= -h.o.MaxSkew
}

// claim records a push as handled unless it already was. Entries older than
// twice the skew can no longer pass the freshness check and are dropped,
// which bounds the map (and only signed pushes get into it).
func (h *Handler) claim(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.o.Now()
	for k, t := range h.seen {
		if now.Sub(t) > 2*h.o.MaxSkew {
			delete(h.seen, k)
		}
	}
	if _, dup := h.seen[key]; dup {
		return false
	}
	h.seen[key] = now
	return true
}

func (h *Handler) forget(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.seen, key)
}
