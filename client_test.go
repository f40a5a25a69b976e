package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/internal/store/storetest"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// testServer is callme behind a real HTTP server, with a GraphQL client.
type testServer struct {
	URL  string
	app  *app // nil for a server in another process
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startServer(t testing.TB, e storetest.Engine, mod ...func(*config)) *testServer {
	t.Helper()
	cfg, err := parseConfig([]string{"callme", "-db", e.DSN(t), "-photo-dir", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(&cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := newApp(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.handler)
	srv.Config = cfg.HTTPTimeouts.server(a.handler)
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &testServer{URL: srv.URL, app: a, logs: logs}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	status int
}

// code returns the first error's extensions.code, or "".
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// query posts a GraphQL request with an optional bearer token.
func (s *testServer) query(t testing.TB, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return do(t, s.request(token, map[string]any{"query": query, "variables": vars}))
}

// request is a POST of a GraphQL request body with an optional bearer token.
func (s *testServer) request(token string, body map[string]any) *http.Request {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// ok runs a query that must succeed and decodes its data into v.
func (s *testServer) ok(t testing.TB, token, query string, vars map[string]any, v any) {
	t.Helper()
	r := s.query(t, token, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("query failed: %+v\n%s", r.Errors, query)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *testServer) login(t testing.TB, app, name string) string {
	t.Helper()
	var d struct{ Login struct{ Token string } }
	s.ok(t, "", `mutation($app: App!, $code: String!) { login(input: {app: $app, code: $code}) { token } }`,
		map[string]any{"app": app, "code": "dev:" + name}, &d)
	return d.Login.Token
}

// openStall creates, claims and opens a paid stall; it returns the seller's
// token and the stall's ID.
func (s *testServer) openStall(t *testing.T, name, prefix string) (string, string) {
	t.Helper()
	return s.openStallWith(t, name, map[string]any{"prefix": prefix})
}

// openStallWith is openStall with extra CreateSellerInput fields.
func (s *testServer) openStallWith(t *testing.T, name string, in map[string]any) (string, string) {
	t.Helper()
	in["name"] = name
	in["paidUntil"] = time.Now().Add(720 * time.Hour).Format(time.RFC3339)
	admin := s.login(t, "SELLER", "admin")
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } inviteCode } }`,
		map[string]any{"in": in}, &created)
	seller := s.login(t, "SELLER", "owner-"+strings.ReplaceAll(name, " ", "_"))
	s.ok(t, seller, `mutation($code: String!) { claimSeller(inviteCode: $code) { id } }`, map[string]any{"code": created.CreateSeller.InviteCode}, nil)
	id := created.CreateSeller.Seller.ID
	s.ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { open } }`, map[string]any{"id": id}, nil)
	return seller, id
}

// wsClient speaks graphql-transport-ws or the legacy graphql-ws protocol.
type wsClient struct {
	t     *testing.T
	conn  *websocket.Conn
	proto string
	ctx   context.Context
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (s *testServer) dialWS(t *testing.T, proto string, initPayload map[string]any) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/query", &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	t.Cleanup(func() { conn.CloseNow() })
	if got := conn.Subprotocol(); got != proto {
		t.Fatalf("negotiated %q, want %q", got, proto)
	}
	c := &wsClient{t: t, conn: conn, proto: proto, ctx: ctx}
	p, _ := json.Marshal(initPayload)
	c.send(wsMessage{Type: "connection_init", Payload: p})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	return c
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	if err := wsjson.Write(c.ctx, c.conn, m); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

// read returns the next message that is not a keep-alive.
func (c *wsClient) read() wsMessage {
	c.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		var m wsMessage
		err := wsjson.Read(ctx, c.conn, &m)
		cancel()
		if err != nil {
			c.t.Fatalf("ws read: %v", err)
		}
		switch m.Type {
		case "ka", "pong":
			continue
		case "ping":
			c.send(wsMessage{Type: "pong"})
			continue
		}
		return m
	}
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	typ := "subscribe"
	if c.proto == "graphql-ws" {
		typ = "start"
	}
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	c.send(wsMessage{ID: id, Type: typ, Payload: p})
}

// next returns the data of the next result of subscription id, failing on errors.
func (c *wsClient) next(id string, v any) {
	c.t.Helper()
	m := c.read()
	for m.Type == "complete" && m.ID != id { // the end of another subscription
		m = c.read()
	}
	if m.ID != id || (m.Type != "next" && m.Type != "data") {
		c.t.Fatalf("got %s for %q: %s; want a result for %q", m.Type, m.ID, m.Payload, id)
	}
	var r gqlResponse
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		c.t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		c.t.Fatalf("subscription %s errors: %+v", id, r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		c.t.Fatal(err)
	}
}

// errorCode returns extensions.code of the error that ends subscription id.
func (c *wsClient) errorCode(id string) string {
	c.t.Helper()
	m := c.read()
	if m.ID != id {
		c.t.Fatalf("got %s for %q (%s), want an error for %q", m.Type, m.ID, m.Payload, id)
	}
	var errs []gqlError
	switch m.Type {
	case "error":
		if err := json.Unmarshal(m.Payload, &errs); err != nil {
			var one gqlError
			_ = json.Unmarshal(m.Payload, &one)
			errs = []gqlError{one}
		}
	case "next", "data":
		var r gqlResponse
		_ = json.Unmarshal(m.Payload, &r)
		if r.Data != nil && string(r.Data) != "null" {
			c.t.Fatalf("error result carries data: %s", r.Data)
		}
		errs = r.Errors
	default:
		c.t.Fatalf("got %s, want an error", m.Type)
	}
	if len(errs) == 0 {
		c.t.Fatalf("no errors in %s", m.Payload)
	}
	code, _ := errs[0].Extensions["code"].(string)
	return code
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func wsjsonRead(ctx context.Context, c *wsClient, v any) error { return wsjson.Read(ctx, c.conn, v) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// upload sends uploadSellerPhoto as a GraphQL multipart request.
func (s *testServer) upload(t testing.TB, token, sellerID, filename string, data []byte) gqlResponse {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($id: ID!, $file: Upload!) { uploadSellerPhoto(sellerId: $id, file: $file) { photoURL } }`,
		"variables": map[string]any{"id": sellerID, "file": nil},
	})
	_ = w.WriteField("operations", string(ops))
	_ = w.WriteField("map", `{"0": ["variables.file"]}`)
	fw, _ := w.CreateFormFile("0", filename)
	_, _ = fw.Write(data)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/query", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// do sends a GraphQL request and decodes its answer.
func do(t testing.TB, req *http.Request) gqlResponse {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("status %d, body %q: %v", res.StatusCode, raw, err)
	}
	out.status = res.StatusCode
	return out
}
