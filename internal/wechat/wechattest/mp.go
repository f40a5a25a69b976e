package wechattest

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"maps"
	"net/http"
	"slices"
	"sync"

	"callme/internal/model"
)

// WxaCodeCall is one getwxacodeunlimit request the fake answered.
type WxaCodeCall struct {
	App        model.App // app whose token was used; "" when the token was rejected
	Scene      string
	Page       string
	EnvVersion string
	CheckPath  bool
	Width      int
	Errcode    int // 0 when an image was answered
}

// SentMessage is one subscribe message the fake accepted.
type SentMessage struct {
	App        model.App
	ToUser     string
	TemplateID string
	Page       string
	State      string // miniprogram_state
	Lang       string
	Data       map[string]string
}

// PNG is the image getwxacodeunlimit answers: a valid 8x8 PNG.
var PNG = sync.OnceValue(func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			if (x+y)%2 == 0 {
				img.Set(x, y, color.Black)
			} else {
				img.Set(x, y, color.White)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// ExpireTokens makes every access token issued so far invalid: the next
// request using one answers 40001, and stable_token issues a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// FailSendNext makes the next n subscribe/send requests that carry a valid
// token answer errcode (e.g. 43101, -1, 47003); nothing is recorded as sent.
func (s *Server) FailSendNext(n, errcode int) {
	s.failNext(&s.sendFailures, n, errcode)
}

// FailWxaCodeNext makes the next n getwxacodeunlimit requests that carry a
// valid token answer errcode (e.g. -1, 41030).
func (s *Server) FailWxaCodeNext(n, errcode int) {
	s.failNext(&s.wxaFailures, n, errcode)
}

// WxaCodeRequests returns the getwxacodeunlimit requests answered so far,
// including rejected ones (see WxaCodeCall.Errcode).
func (s *Server) WxaCodeRequests() []WxaCodeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wxaCalls)
}

// SentMessages returns the subscribe messages accepted so far.
func (s *Server) SentMessages() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.sent)
	for i := range out {
		out[i].Data = maps.Clone(out[i].Data)
	}
	return out
}

// SendRequests returns how many subscribe/send requests were received,
// whatever their outcome.
func (s *Server) SendRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendRequests
}

// IssuedTokens returns every access token issued so far, so a test can
// assert none leaks.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// checkToken finds the app of a current access token: 42001 for a token
// past its expiry, 40001 for any other (unknown or expired by ExpireTokens).
// Callers hold s.mu.
func (s *Server) checkToken(tok string) (model.App, int) {
	if tok == "" {
		return "", 40001
	}
	for app, t := range s.tokens {
		if t.token == tok {
			if !s.now().Before(t.expires) {
				return "", 42001
			}
			return app, 0
		}
	}
	return "", 40001
}

func (s *Server) wxaCodeUnlimit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Scene      string `json:"scene"`
		Page       string `json:"page"`
		CheckPath  *bool  `json:"check_path"`
		EnvVersion string `json:"env_version"`
		Width      int    `json:"width"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeErr(w, 47001)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := WxaCodeCall{Scene: req.Scene, Page: req.Page, EnvVersion: req.EnvVersion, Width: req.Width, CheckPath: req.CheckPath == nil || *req.CheckPath}
	app, errcode := s.checkToken(r.URL.Query().Get("access_token"))
	switch {
	case errcode != 0:
	case len(s.wxaFailures) > 0:
		errcode, s.wxaFailures = s.wxaFailures[0], s.wxaFailures[1:]
	case len(req.Scene) == 0 || len(req.Scene) > 32:
		errcode = 40169
	}
	call.App, call.Errcode = app, errcode
	s.wxaCalls = append(s.wxaCalls, call)
	if errcode != 0 {
		writeErr(w, errcode)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(PNG())
}

func (s *Server) subscribeSend(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ToUser     string `json:"touser"`
		TemplateID string `json:"template_id"`
		Page       string `json:"page"`
		Data       map[string]struct {
			Value *string `json:"value"`
		} `json:"data"`
		State string `json:"miniprogram_state"`
		Lang  string `json:"lang"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeErr(w, 47001)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app, errcode := s.checkToken(r.URL.Query().Get("access_token"))
	if errcode != 0 {
		writeErr(w, errcode)
		return
	}
	if len(s.sendFailures) > 0 {
		errcode, s.sendFailures = s.sendFailures[0], s.sendFailures[1:]
		writeErr(w, errcode)
		return
	}
	switch {
	case req.ToUser == "":
		writeErr(w, 40003)
		return
	case req.TemplateID == "":
		writeErr(w, 40037)
		return
	case req.State != "" && req.State != "developer" && req.State != "trial" && req.State != "formal":
		writeErr(w, 47001)
		return
	case len(req.Data) == 0:
		writeErr(w, 47003)
		return
	}
	msg := SentMessage{App: app, ToUser: req.ToUser, TemplateID: req.TemplateID, Page: req.Page, State: req.State, Lang: req.Lang, Data: make(map[string]string, len(req.Data))}
	for k, v := range req.Data {
		if v.Value == nil {
			writeErr(w, 47003)
			return
		}
		msg.Data[k] = *v.Value
	}
	s.sent = append(s.sent, msg)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": len(s.sent)})
}

// failNext queues errcode for the next n requests of one API (its FIFO q).
func (s *Server) failNext(q *[]int, n, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		*q = append(*q, errcode)
	}
}
