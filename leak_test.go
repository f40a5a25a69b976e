package main

import (
	"context"
	"fmt"
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

// TestSubscriptionsDoNotLeak: a thousand subscribe/complete cycles and a
// hundred sockets dropped without a close frame leave no goroutine and no
// broker subscription behind.
func TestSubscriptionsDoNotLeak(t *testing.T) {
	s := startServer(t, storetest.Engines()[0], noRateLimits, func(c *config) { c.Limits.MaxSubsPerSocket = 5 })
	_, stallID := s.openStall(t, "Leaky", "L")
	topic := canteen.SellerTopic(pulid.ID(stallID))
	const q = `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`
	vars := map[string]any{"id": stallID}
	settle := func(wantSubs, maxGoroutines int) (int, int) {
		var g, subs int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			g, subs = runtime.NumGoroutine(), s.app.broker.(*events.Local).Subscribers(topic)
			if subs == wantSubs && g <= maxGoroutines {
				break
			}
		}
		return g, subs
	}
	base, _ := settle(0, 1<<30)

	ws := s.dialWS(t, "graphql-transport-ws", nil)
	for i := 0; i < 1000; i++ {
		id := fmt.Sprint(i)
		ws.subscribe(id, q, vars)
		ws.send(wsMessage{ID: id, Type: "complete"})
	}
	// A query on the same socket proves the server has read every message.
	ws.subscribe("probe", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { id } }`, map[string]any{"id": "TK0000000000000000000000000"})
	if code := ws.errorCode("probe"); code != "UNAUTHENTICATED" {
		t.Fatalf("probe: %s", code)
	}
	ws.conn.Close(websocket.StatusNormalClosure, "")

	for i := 0; i < 100; i++ {
		c, tcp := s.dialTCP(t)
		c.subscribe("1", q, vars)
		c.subscribe("2", q, vars)
		tcp.Close() // a phone losing its network: no close frame
	}
	g, subs := settle(0, base+5)
	if subs != 0 || g > base+5 {
		t.Fatalf("after the cycles: %d broker subscriptions (want 0), %d goroutines (baseline %d)", subs, g, base)
	}
}

// dialTCP is dialWS that also returns the TCP connection under the socket.
func (s *testServer) dialTCP(t *testing.T) (*wsClient, net.Conn) {
	t.Helper()
	conns := make(chan net.Conn, 1)
	d := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			conns <- c
		}
		return c, err
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, conn: conn, proto: "graphql-transport-ws", ctx: ctx}
	c.send(wsMessage{Type: "connection_init"})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", m.Type)
	}
	return c, <-conns
}
