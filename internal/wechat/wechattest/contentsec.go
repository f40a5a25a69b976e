package wechattest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"callme/internal/model"
	"callme/internal/wechat"
)

// TextCheck is one msg_sec_check request the fake answered.
type TextCheck struct {
	App     model.App // "" when the token was rejected
	OpenID  string
	Scene   int
	Content string
	Suggest wechat.Suggest // "" for an error
	Errcode int
}

// MediaCheck is one media_check_async request the fake accepted.
type MediaCheck struct {
	App      model.App
	OpenID   string
	Scene    int
	MediaURL string
	TraceID  string
}

type verdictRule struct {
	substr  string
	suggest wechat.Suggest
	label   int
}

// SetTextVerdict makes msg_sec_check answer suggest with label for content
// containing substr. Rules are tried in the order they were set; content no
// rule matches passes with label 100.
func (s *Server) SetTextVerdict(substr string, suggest wechat.Suggest, label int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verdicts = append(s.verdicts, verdictRule{substr, suggest, label})
}

// FailTextCheckNext makes the next n msg_sec_check requests that carry a
// valid token answer errcode (e.g. -1, 40003, 40129, 43104, 44002, 47001).
func (s *Server) FailTextCheckNext(n, errcode int) {
	s.failNext(&s.textFailures, n, errcode)
}

// FailMediaCheckNext is FailTextCheckNext for media_check_async.
func (s *Server) FailMediaCheckNext(n, errcode int) {
	s.failNext(&s.mediaFailures, n, errcode)
}

// SetCheckOutage makes every content check (text and media) answer errcode
// until it is called again with 0: WeChat down, then back.
func (s *Server) SetCheckOutage(errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkOutage = errcode
}

// SetCheckDelay makes every content check sleep d before answering, until it
// is called again with 0. Sleeping stops when the client gives up.
func (s *Server) SetCheckDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkDelay = d
}

// TextChecks returns the msg_sec_check requests answered so far.
func (s *Server) TextChecks() []TextCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.textChecks)
}

// MediaChecks returns the media_check_async requests accepted so far.
func (s *Server) MediaChecks() []MediaCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mediaChecks)
}

// openIDApp answers like WeChat for openid under the app of the token: 0
// when the openid logged in to app (through IssueCode), 43104 when it belongs
// to another app, 40003 when it is unknown. Callers hold s.mu.
func (s *Server) openIDApp(app model.App, openid string) int {
	other := false
	for _, e := range s.codes {
		if e.openid == openid {
			if e.app == app {
				return 0
			}
			other = true
		}
	}
	if other {
		return 43104
	}
	return 40003
}

// checkWait applies the configured delay; false when the client went away.
func (s *Server) checkWait(r *http.Request) bool {
	s.mu.Lock()
	d := s.checkDelay
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}

func (s *Server) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	if !s.checkWait(r) {
		return
	}
	var req struct {
		Version int    `json:"version"`
		OpenID  string `json:"openid"`
		Scene   int    `json:"scene"`
		Content string `json:"content"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeErr(w, 47001)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := TextCheck{OpenID: req.OpenID, Scene: req.Scene, Content: req.Content}
	app, errcode := s.checkToken(r.URL.Query().Get("access_token"))
	switch {
	case errcode != 0:
	case s.checkOutage != 0:
		errcode = s.checkOutage
	case len(s.textFailures) > 0:
		errcode, s.textFailures = s.textFailures[0], s.textFailures[1:]
	case req.OpenID == "" || req.Content == "":
		errcode = 44002
	case req.Version != 2 || utf8.RuneCountInString(req.Content) > 2500:
		errcode = 47001
	case req.Scene < 1 || req.Scene > 4:
		errcode = 40129
	default:
		errcode = s.openIDApp(app, req.OpenID)
	}
	call.App, call.Errcode = app, errcode
	if errcode != 0 {
		s.textChecks = append(s.textChecks, call)
		writeErr(w, errcode)
		return
	}
	v := verdictRule{suggest: wechat.SuggestPass, label: 100}
	for _, rule := range s.verdicts {
		if strings.Contains(req.Content, rule.substr) {
			v = rule
			break
		}
	}
	call.Suggest = v.suggest
	s.textChecks = append(s.textChecks, call)
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok", "trace_id": rand.Text(),
		"result": map[string]any{"suggest": v.suggest, "label": v.label},
		"detail": []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": v.suggest, "label": v.label}},
	})
}

func (s *Server) mediaCheckAsync(w http.ResponseWriter, r *http.Request) {
	if !s.checkWait(r) {
		return
	}
	var req struct {
		MediaURL  string `json:"media_url"`
		MediaType int    `json:"media_type"`
		Version   int    `json:"version"`
		OpenID    string `json:"openid"`
		Scene     int    `json:"scene"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeErr(w, 47001)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app, errcode := s.checkToken(r.URL.Query().Get("access_token"))
	switch {
	case errcode != 0:
	case s.checkOutage != 0:
		errcode = s.checkOutage
	case len(s.mediaFailures) > 0:
		errcode, s.mediaFailures = s.mediaFailures[0], s.mediaFailures[1:]
	case req.OpenID == "" || req.MediaURL == "":
		errcode = 44002
	case req.Version != 2 || (req.MediaType != 1 && req.MediaType != 2):
		errcode = 47001
	case req.Scene < 1 || req.Scene > 4:
		errcode = 40129
	default:
		errcode = s.openIDApp(app, req.OpenID)
	}
	if errcode != 0 {
		writeErr(w, errcode)
		return
	}
	c := MediaCheck{App: app, OpenID: req.OpenID, Scene: req.Scene, MediaURL: req.MediaURL, TraceID: rand.Text()}
	s.mediaChecks = append(s.mediaChecks, c)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "trace_id": c.TraceID})
}

// Pusher sends message pushes to an app's push URL the way WeChat does:
// signed with Token, and in safe mode (EncodingAESKey set) encrypted for
// AppID.
type Pusher struct {
	URL            string
	Token          string
	EncodingAESKey string // 43 characters; empty: plaintext mode
	AppID          string
	Client         *http.Client // default http.DefaultClient
}

// NewEncodingAESKey returns a random 43-character EncodingAESKey, as the
// console generates.
func NewEncodingAESKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return strings.TrimSuffix(base64.StdEncoding.EncodeToString(k), "=")
}

// MediaVerdict is the body of a wxa_media_check push for traceID.
func MediaVerdict(appID, traceID string, suggest wechat.Suggest, label int) []byte {
	b, _ := json.Marshal(map[string]any{
		"ToUserName": "gh_fake", "FromUserName": "fake", "CreateTime": time.Now().Unix(),
		"MsgType": "event", "Event": "wxa_media_check", "appid": appID, "trace_id": traceID, "version": 2,
		"result": map[string]any{"suggest": suggest, "label": label},
		"detail": []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}},
	})
	return b
}

func sign(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// encrypt is WeChat's safe-mode encryption, written apart from the
// package under test so the two check each other.
func (p *Pusher) encrypt(msg []byte) string {
	key, err := base64.StdEncoding.DecodeString(p.EncodingAESKey + "=")
	if err != nil || len(key) != 32 {
		panic("wechattest: bad EncodingAESKey")
	}
	var buf bytes.Buffer
	random := make([]byte, 16)
	_, _ = rand.Read(random)
	buf.Write(random)
	_ = binary.Write(&buf, binary.BigEndian, uint32(len(msg)))
	buf.Write(msg)
	buf.WriteString(p.AppID)
	pad := 32 - buf.Len()%32
	buf.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, _ := aes.NewCipher(key)
	ct := make([]byte, buf.Len())
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, buf.Bytes())
	return base64.StdEncoding.EncodeToString(ct)
}

// Request builds a signed push of body at the given time with nonce, so a
// test can replay it, age it or tamper with it.
func (p *Pusher) Request(body []byte, at time.Time, nonce string) *http.Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {sign(p.Token, ts, nonce)}}
	if p.EncodingAESKey != "" {
		enc := p.encrypt(body)
		body, _ = json.Marshal(map[string]string{"ToUserName": "gh_fake", "Encrypt": enc})
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", sign(p.Token, ts, nonce, enc))
	}
	req, err := http.NewRequest(http.MethodPost, p.URL+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// Push sends body now with a fresh nonce and returns the HTTP status.
func (p *Pusher) Push(body []byte) (int, error) {
	return p.Do(p.Request(body, time.Now(), rand.Text()[:10]))
}

// Do sends a request built by Request and returns the HTTP status.
func (p *Pusher) Do(req *http.Request) (int, error) {
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return res.StatusCode, nil
}

// VerifyURL performs WeChat's URL verification GET and returns the status
// and body (which must be echostr).
func (p *Pusher) VerifyURL(echostr string) (int, string, error) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := rand.Text()[:10]
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "echostr": {echostr}, "signature": {sign(p.Token, ts, nonce)}}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Get(p.URL + "?" + q.Encode())
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, b.String(), nil
}
