package graph

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/coder/websocket"
)

// serverConn returns the server side of a real WebSocket.
func serverConn(t *testing.T) *websocket.Conn {
	t.Helper()
	conns := make(chan *websocket.Conn, 1)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
		<-done // the handler's end would close it
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseNow() })
	go func() { // reading answers the server's close frame
		for {
			if _, _, err := client.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return <-conns
}

// A socket closed from another goroutine (shutdown's 1001, the 1013 of a
// full queue) while its reader starts an operation: start finds it closed
// and leaves add's placeholder, and the reader's cleanup must still end the
// socket and give back every place it held, the placeholder's too, or the
// address is refused subscriptions for good.
func TestCleanupGivesBackPlacesOfSubscribeCutByClose(t *testing.T) {
	tr := &wsTransport{execs: newFeedExecs(), log: slog.Default(), maxSubs: 10,
		counts: newSocketCounts(SocketLimits{}, false)}
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	s := &wsSocket{t: tr, conn: serverConn(t), proto: protoTransportWS, subs: map[string]*wsSub{}, exec: exec,
		ctx: context.Background(), addr: "1.2.3.4", inited: true, initTimer: time.NewTimer(time.Hour)}
	if dup, why := s.add("1"); dup || why != "" {
		t.Fatal(dup, why)
	}
	s.close(websocket.StatusGoingAway, "server shutting down; reconnect") // as from another goroutine
	s.start("1", json.RawMessage(`{"query":"subscription($s: ID!) { calledNumbers(sellerId: $s) { seq } }","variables":{"s":"x"}}`))
	if _, ok := s.subs["1"]; !ok {
		t.Fatal("start refused the operation before seeing the socket closed: nothing tested")
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("cleanup panicked: %v", r)
			}
		}()
		s.cleanup()
	}()
	tr.counts.mu.Lock()
	n := tr.counts.subs["1.2.3.4"]
	tr.counts.mu.Unlock()
	if n != 0 {
		t.Errorf("address still holds %d subscription places after its socket ended", n)
	}
}

// A panic while a WebSocket operation runs (outside any resolver, where
// gqlgen's own recover does not reach) ends it with INTERNAL and no
// detail, like every error that is not the domain's.
func TestPanicInWebSocketOperationIsInternal(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	tr := &wsTransport{execs: newFeedExecs(), log: log, present: presentErrors(log)}
	s := &wsSocket{t: tr, proto: protoTransportWS, subs: map[string]*wsSub{}, writing: true}
	sub := &wsSub{s: s, id: "1", ctx: context.Background(), cancel: func() {}, ready: make(chan struct{})}
	s.subs["1"] = sub
	func() {
		defer s.recoverOp(sub)
		panic("secret detail 10.1.2.3")
	}()
	frame, got := queuedError(t, s, "1")
	if got.Extensions["code"] != "INTERNAL" {
		t.Errorf("error %+v, want INTERNAL", got)
	}
	if strings.Contains(string(frame), "10.1.2.3") {
		t.Errorf("the client saw the panic's detail: %s", frame)
	}
	if !strings.Contains(logs.String(), "10.1.2.3") {
		t.Errorf("the panic was not logged: %q", logs.String())
	}
}

// presented is an error as a client reads it.
type presented struct {
	Message    string
	Extensions map[string]any
}

// queuedError returns the one frame s has queued, which must be a single
// error for operation id, and that error.
func queuedError(t *testing.T, s *wsSocket, id string) (frame []byte, e presented) {
	t.Helper()
	if len(s.queue) != 1 {
		t.Fatalf("%d frames queued, want the error", len(s.queue))
	}
	frame = *s.queue[0]
	var m struct {
		Type, ID string
		Payload  []presented
	}
	if err := json.Unmarshal(frame, &m); err != nil {
		t.Fatalf("%s: %v", frame, err)
	}
	if m.Type != "error" || m.ID != id || len(m.Payload) != 1 {
		t.Fatalf("frame %s, want one error for %s", frame, id)
	}
	return frame, m.Payload[0]
}
