package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/pulid"
	"callme/internal/store/storetest"

	"github.com/coder/websocket"
)

// settleGoroutines waits until the broker holds no subscriber of topic and
// the goroutines are back to at most max, and returns what it last saw.
func settleGoroutines(s *testServer, topic string, max int) (goroutines, subs int) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		goroutines, subs = runtime.NumGoroutine(), s.app.broker.(*events.Local).Subscribers(topic)
		if subs == 0 && goroutines <= max {
			break
		}
	}
	return goroutines, subs
}

// TestSubscribeWithoutIDClosesSocket is the attack that ran 2,000
// subscriptions on one socket under the id "": uncounted by the per-socket
// limit, invisible to the gauge, each delivering every call. A subscribe
// whose id is empty, missing or not a string closes the socket with 4400 and
// leaves nothing running.
func TestSubscribeWithoutIDClosesSocket(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	_, stallID := s.openStall(t, "No IDs", "N")
	topic := canteen.SellerTopic(pulid.ID(stallID))
	payload, _ := json.Marshal(map[string]any{
		"query":     `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`,
		"variables": map[string]any{"id": stallID},
	})
	base, _ := settleGoroutines(s, topic, 1<<30)
	for _, tc := range []struct {
		name, proto string
		msg         string
	}{
		{"empty id", "graphql-transport-ws", `{"id":"","type":"subscribe","payload":%s}`},
		{"missing id", "graphql-transport-ws", `{"type":"subscribe","payload":%s}`},
		{"numeric id", "graphql-transport-ws", `{"id":7,"type":"subscribe","payload":%s}`},
		{"legacy empty id", "graphql-ws", `{"id":"","type":"start","payload":%s}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := s.dialWS(t, tc.proto, nil)
			msg := fmt.Sprintf(tc.msg, payload)
			for i := 0; i < 2000; i++ {
				if ws.conn.Write(ws.ctx, websocket.MessageText, []byte(msg)) != nil {
					break // closed by the server already
				}
			}
			if code := closeCode(t, ws.conn); code != 4400 {
				t.Fatalf("close code %d, want 4400", code)
			}
			if g, subs := settleGoroutines(s, topic, base+5); subs != 0 || g > base+5 {
				t.Fatalf("after the close: %d broker subscriptions (want 0), %d goroutines (baseline %d)", subs, g, base)
			}
		})
	}
}

// dialFrom opens a graphql-transport-ws socket as the client address addr
// (through X-Forwarded-For, the server trusting it). It returns the HTTP
// status of a refused handshake, or 0 and the socket.
func (s *testServer) dialFrom(t *testing.T, addr string) (int, *wsClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/query", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"X-Forwarded-For": {addr}},
	})
	if err != nil {
		if res == nil {
			t.Fatalf("dial: %v", err)
		}
		return res.StatusCode, nil
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &wsClient{t: t, conn: conn, proto: "graphql-transport-ws", ctx: ctx}
	c.send(wsMessage{Type: "connection_init"})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	return 0, c
}

// eventually retries f until it holds, for what the server frees after a
// socket closes (its handler returns on its own goroutine).
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// TestSocketLimits: one address may hold MaxSocketsPerAddress sockets, the
// next handshake is refused with 429 before any upgrade; other addresses are
// unaffected until the server's total is reached; a closed socket frees its
// place.
func TestSocketLimits(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Limits.TrustForwardedFor = true
		c.SocketLimits.MaxSocketsPerAddress = 20
		c.SocketLimits.MaxSockets = 25
	})
	var first *wsClient
	for i := 0; i < 20; i++ {
		status, ws := s.dialFrom(t, "203.0.113.7")
		if status != 0 {
			t.Fatalf("socket %d from one address: %d", i+1, status)
		}
		if i == 0 {
			first = ws
		}
	}
	if status, _ := s.dialFrom(t, "203.0.113.7"); status != http.StatusTooManyRequests {
		t.Fatalf("21st socket from one address: %d, want 429", status)
	}
	// Another address still gets in, up to the server's total of 25.
	for i := 0; i < 5; i++ {
		if status, _ := s.dialFrom(t, fmt.Sprintf("198.51.100.%d", i)); status != 0 {
			t.Fatalf("socket %d in all: %d", 21+i, status)
		}
	}
	if status, _ := s.dialFrom(t, "198.51.100.200"); status != http.StatusTooManyRequests {
		t.Fatalf("26th socket in all: %d, want 429", status)
	}
	first.conn.Close(websocket.StatusNormalClosure, "")
	eventually(t, "a closed socket frees its place", func() bool {
		status, ws := s.dialFrom(t, "203.0.113.7")
		if ws != nil {
			ws.conn.Close(websocket.StatusNormalClosure, "")
		}
		return status == 0
	})
}

func TestSocketLimitsCountIPv6ByPrefix(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Limits.TrustForwardedFor = true
		c.SocketLimits.MaxSocketsPerAddress = 2
	})
	for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if status, _ := s.dialFrom(t, addr); status != 0 {
			t.Fatalf("%s: %d", addr, status)
		}
	}
	if status, _ := s.dialFrom(t, "2001:db8:1:2:abcd::7"); status != http.StatusTooManyRequests {
		t.Fatalf("third socket from one /64: %d, want 429", status)
	}
	if status, _ := s.dialFrom(t, "2001:db8:1:3::1"); status != 0 {
		t.Fatalf("another /64: %d", status)
	}
}

// TestSubscriptionLimitsPerAddress: subscriptions count per address across
// its sockets and in all; a refused one answers RATE_LIMITED for its id and
// the socket lives on; completing or closing frees places.
func TestSubscriptionLimitsPerAddress(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Limits.TrustForwardedFor = true
		c.SocketLimits.MaxSubsPerAddress = 3
		c.SocketLimits.MaxSubscriptions = 5
	})
	_, stallID := s.openStall(t, "Subs", "U")
	const q = `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`
	vars := map[string]any{"id": stallID}
	dial := func(addr string) *wsClient {
		t.Helper()
		status, ws := s.dialFrom(t, addr)
		if status != 0 {
			t.Fatalf("dial from %s: %d", addr, status)
		}
		return ws
	}
	// probe proves the server read everything sent before it on ws. It
	// fails at once (anonymous), and has given its place back when its
	// complete arrives.
	probe := func(ws *wsClient) {
		t.Helper()
		ws.subscribe("probe", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { id } }`, map[string]any{"id": "TK0000000000000000000000000"})
		m := ws.read()
		if m.ID != "probe" || (m.Type != "next" && m.Type != "error") {
			t.Fatalf("probe: got %s for %q: %s", m.Type, m.ID, m.Payload)
		}
		if m.Type == "next" { // ran and failed; refused ones get only an error
			if m = ws.read(); m.ID != "probe" || m.Type != "complete" {
				t.Fatalf("probe: got %s for %q, want its complete", m.Type, m.ID)
			}
		}
	}
	a1, a2 := dial("203.0.113.1"), dial("203.0.113.1")
	a1.subscribe("1", q, vars)
	a1.subscribe("2", q, vars)
	probe(a1)
	a2.subscribe("1", q, vars)
	a2.subscribe("2", q, vars)
	if got := a2.errorCode("2"); got != "RATE_LIMITED" {
		t.Fatalf("4th subscription of one address (on its second socket): %q, want RATE_LIMITED", got)
	}
	b := dial("198.51.100.1")
	b.subscribe("1", q, vars)
	b.subscribe("2", q, vars)
	b.subscribe("3", q, vars)
	if got := b.errorCode("3"); got != "RATE_LIMITED" {
		t.Fatalf("6th subscription in all: %q, want RATE_LIMITED", got)
	}
	// Completing one on the first socket makes room on the second.
	a1.send(wsMessage{ID: "1", Type: "complete"})
	probe(a1)
	a2.subscribe("3", q, vars)
	probe(a2) // RATE_LIMITED itself (the address is full again), after "3" was read
	// A closed socket gives its subscriptions back.
	a1.conn.Close(websocket.StatusNormalClosure, "")
	eventually(t, "a closed socket frees its subscriptions", func() bool {
		a2.subscribe("again", q, vars)
		a2.subscribe("probe", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { id } }`, map[string]any{"id": "TK0000000000000000000000000"})
		m := a2.read()
		for m.ID == "probe" && m.Type != "error" && m.Type != "complete" {
			m = a2.read()
		}
		if m.ID == "again" { // refused: its error comes first
			a2.read() // the probe's answer
			return false
		}
		return true // the probe answered first: "again" runs
	})
}

// TestSlowClientsAreCut: with short timeouts configured, a request whose
// headers or body never finish, a body sent a byte at a time and an idle
// keep-alive connection are all closed by the server, while a WebSocket
// (keep-alive pings answered) outlives every one of those timeouts.
func TestSlowClientsAreCut(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.HTTPTimeouts = httpTimeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Write: time.Second, Idle: 300 * time.Millisecond}
		c.WSKeepAlive = 100 * time.Millisecond
	})
	host := strings.TrimPrefix(s.URL, "http://")
	// closed reports whether the server closes c within 5 s (whatever it
	// answers first).
	closed := func(t *testing.T, c net.Conn) bool {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	post := "POST /query HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
	t.Run("headers never finish", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: %s\r\n", host)
		if !closed(t, c) {
			t.Fatal("still open after 5 s")
		}
	})
	t.Run("body never arrives", func(t *testing.T) {
		c := dial(t)
		io.WriteString(c, post)
		if !closed(t, c) {
			t.Fatal("still open after 5 s")
		}
	})
	t.Run("body a byte at a time", func(t *testing.T) {
		c := dial(t)
		io.WriteString(c, post)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		if !closed(t, c) {
			t.Fatal("still open after 5 s")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != 200 || res.Close {
			t.Fatalf("healthz over keep-alive: %v %+v", err, res)
		}
		if !closed(t, c) {
			t.Fatal("still open after 5 s")
		}
	})
	t.Run("WebSocket outlives them", func(t *testing.T) {
		seller, stallID := s.openStall(t, "Patient", "P")
		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("calls", `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`, map[string]any{"id": stallID})
		// Call in 1.5 s, past every timeout above, while next reads and
		// answers the pings.
		called := make(chan error, 1)
		time.AfterFunc(1500*time.Millisecond, func() {
			vars := map[string]any{"id": stallID}
			called <- postAs(s.URL, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, vars)
			called <- postAs(s.URL, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, vars)
		})
		var ev struct{ CalledNumbers struct{ Seq int } }
		ws.next("calls", &ev)
		if err := errors.Join(<-called, <-called); err != nil {
			t.Fatal(err)
		}
		if ev.CalledNumbers.Seq != 1 {
			t.Fatalf("got %+v", ev)
		}
	})
}

// postAs sends a GraphQL POST with a bearer token and fails on any error.
func postAs(url, token, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || strings.Contains(string(b), `"errors"`) {
		return fmt.Errorf("%d %s", res.StatusCode, b)
	}
	return nil
}

// TestProductionRefusesIntrospectionAsClientError: introspection in
// production is the client's mistake (GRAPHQL_VALIDATION_FAILED), not an
// INTERNAL error with an ERROR line in the log for every try.
func TestProductionRefusesIntrospectionAsClientError(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], func(c *config) {
		c.Production = true
		c.CustomerAppID, c.CustomerSecret = "wx1", "s1"
	})
	for _, q := range []string{
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "Query") { name } }`,
		`query { ...F } fragment F on Query { __schema { types { name } } }`,
		`{ ... on Query { __type(name: "Seller") { fields { name } } } }`,
	} {
		r := s.query(t, "", q, nil)
		if r.code() != "GRAPHQL_VALIDATION_FAILED" || r.status != http.StatusOK || len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("%s: %d %q %s %+v, want 200 GRAPHQL_VALIDATION_FAILED without data", q, r.status, r.code(), r.Data, r.Errors)
		}
	}
	if r := s.query(t, "", `{ __typename me { id } }`, nil); len(r.Errors) > 0 {
		t.Errorf("__typename in production: %+v", r.Errors)
	}
	if logs := s.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("introspection attempts logged errors:\n%s", logs)
	}
}

// TestMetricsOnlyOnInternalAddressInProduction: in production /metrics is
// not on the service port, only on -metrics-addr (run's own listeners).
func TestMetricsOnlyOnInternalAddressInProduction(t *testing.T) {
	dsn := storetest.Engines()[0].DSN(t)
	env := map[string]string{
		"CALLME_DB": dsn, "CALLME_PRODUCTION": "true", "CALLME_PHOTO_DIR": t.TempDir(),
		"CALLME_CUSTOMER_APPID": "wx1", "CALLME_CUSTOMER_SECRET": "s1",
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"callme", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var service, metrics string
	sc := bufio.NewScanner(pr)
	for (service == "" || metrics == "") && sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "url="); i >= 0 {
			u := strings.Fields(line[i+len("url="):])[0]
			if strings.Contains(line, "metrics listening") {
				metrics = u
			} else {
				service = strings.TrimSuffix(u, "/")
			}
		}
	}
	go io.Copy(io.Discard, pr)
	if service == "" || metrics == "" {
		t.Fatalf("run logged service %q, metrics %q", service, metrics)
	}
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(service + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the service port in production: %d, want 404", code)
	}
	if code, body := get(metrics); code != 200 || !strings.Contains(body, "callme_websocket_connections") {
		t.Errorf("metrics address: %d %.80q", code, body)
	}
	if code, _ := get(service + "/readyz"); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
}

// lsbWriter writes a VP8L bitstream, least significant bit first.
type lsbWriter struct {
	buf  []byte
	bits uint64
	n    uint
}

func (w *lsbWriter) write(v uint64, n uint) {
	w.bits |= v << w.n
	for w.n += n; w.n >= 8; w.n -= 8 {
		w.buf = append(w.buf, byte(w.bits))
		w.bits >>= 8
	}
}

// tinyWebP is a lossless WebP of w x h opaque black pixels in about 30
// bytes (every prefix code has one symbol, so pixels take no bits): the
// probe's image bomb. internal/media's tests build the same.
func tinyWebP(w, h int) []byte {
	var b lsbWriter
	b.write(0x2f, 8)
	b.write(uint64(w-1), 14)
	b.write(uint64(h-1), 14)
	b.write(0, 4+3)    // no alpha, version 0, no transform, no color cache, no meta codes
	for i := range 5 { // green, red, blue, alpha (255), distance
		if i == 3 {
			b.write(1|0<<1|1<<2|255<<3, 11)
		} else {
			b.write(1, 4)
		}
	}
	if b.n > 0 {
		b.buf = append(b.buf, byte(b.bits))
	}
	vp8l := append([]byte("VP8L\x00\x00\x00\x00"), b.buf...)
	binary.LittleEndian.PutUint32(vp8l[4:], uint32(len(b.buf)))
	if len(b.buf)%2 == 1 {
		vp8l = append(vp8l, 0)
	}
	out := append([]byte("RIFF\x00\x00\x00\x00WEBP"), vp8l...)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// png16 is a real 16-bit RGB PNG of w x h black pixels, compressed about a
// thousand to one.
func png16(w, h int) []byte {
	chunk := func(out []byte, typ string, data []byte) []byte {
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		c := append([]byte(typ), data...)
		return binary.BigEndian.AppendUint32(append(out, c...), crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 16, 2
	var idat bytes.Buffer
	z, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	row := make([]byte, 1+6*w)
	for range h {
		z.Write(row)
	}
	z.Close()
	out := chunk([]byte("\x89PNG\r\n\x1a\n"), "IHDR", ihdr)
	return chunk(chunk(out, "IDAT", idat.Bytes()), "IEND", nil)
}

// TestImageBombs uploads the probe's image bombs over GraphQL: a 16-bit PNG
// and a 34-byte WebP, both declaring 6324x6324, are refused with the reason;
// a tiny WebP within the pixel limit is stored scaled down as a JPEG, never
// as the uploaded bytes.
func TestImageBombs(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, storetest.Engines()[0], func(c *config) { c.PhotoDir = dir })
	seller, stallID := s.openStall(t, "Bombs", "B")
	for _, tc := range []struct {
		name   string
		data   []byte
		reason string
	}{
		{"16-bit PNG of 6324x6324", png16(6324, 6324), "megapixels"},
		{"WebP of 6324x6324", tinyWebP(6324, 6324), "megapixels"},
		{"16-bit PNG of 1000x1000", png16(1000, 1000), "16-bit"},
	} {
		r := s.upload(t, seller, stallID, "photo", tc.data)
		if r.code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, tc.reason) {
			t.Errorf("%s (%d bytes): %q %+v, want BAD_USER_INPUT saying %q", tc.name, len(tc.data), r.code(), r.Errors, tc.reason)
		}
	}
	webp := tinyWebP(2400, 2400) // over the 1,600 px side: scaled down
	r := s.upload(t, seller, stallID, "photo.webp", webp)
	var d struct{ UploadSellerPhoto struct{ PhotoURL string } }
	if len(r.Errors) > 0 || jsonUnmarshal(r.Data, &d) != nil {
		t.Fatalf("WebP of 2400x2400: %+v", r.Errors)
	}
	res, err := http.Get(s.URL + d.UploadSellerPhoto.PhotoURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if res.Header.Get("Content-Type") != "image/jpeg" || err != nil || cfg.Width > 1600 || cfg.Height > 1600 || bytes.Equal(body, webp) {
		t.Fatalf("served %s, %dx%d (%v), want a JPEG of at most 1600x1600", res.Header.Get("Content-Type"), cfg.Width, cfg.Height, err)
	}
}
