package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// Close codes of the graphql-transport-ws protocol.
const (
	closeInvalidMessage  = 4400
	closeInitTimeout     = 4408
	closeSubscriberTaken = 4409
)

// guardedWS enforces what the graphql-transport-ws protocol requires and
// gqlgen does not: a second subscribe with an id that is still active closes
// the socket with 4409 (gqlgen would overwrite it and leak the first one), a
// socket holds at most maxSubs subscriptions (and its address and the server
// theirs, counted in counts), a subscribe without an id closes with 4400 (gqlgen
// would run any number of them under the id "", uncounted and never ended),
// and the init timeout closes with 4408. It wraps another implementation and
// inspects message headers only.
type guardedWS struct {
	inner   transport.WebsocketImplementation
	maxSubs int
	counts  *socketCounts
	metrics *Metrics // may be nil
	// shuttingDown turns the transport's close on cancel into 1001 "going
	// away", so clients reconnect (to another instance) at once.
	shuttingDown func() bool
	sockets      *Sockets
}

// Sockets counts open GraphQL WebSockets, so shutdown can wait for their
// close frames to go out.
type Sockets struct{ n atomic.Int64 }

// Open returns the number of open sockets.
func (s *Sockets) Open() int64 { return s.n.Load() }

func (g guardedWS) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := g.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	if g.metrics != nil {
		g.metrics.wsConns.Inc()
	}
	if g.sockets != nil {
		g.sockets.n.Add(1)
	}
	addr, _ := r.Context().Value(socketAddrKey{}).(string)
	return &guardedConn{WebsocketConn: c, guardedWS: g, addr: addr, active: map[string]bool{}}, nil
}

type guardedConn struct {
	transport.WebsocketConn
	guardedWS
	addr      string // the client's address key in counts
	closeOnce sync.Once

	mu     sync.Mutex
	active map[string]bool
}

var (
	errDuplicateID = errors.New("duplicate subscription id")
	errMissingID   = errors.New("subscribe without an id")
)

func (c *guardedConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := c.WebsocketConn.NextReader()
		if err != nil {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		var head struct {
			ID   any
			Type string
		}
		if json.Unmarshal(data, &head) != nil {
			return typ, bytes.NewReader(data), nil // the transport refuses it
		}
		id, _ := head.ID.(string)
		switch head.Type {
		case "subscribe", "start":
			if id == "" {
				_ = c.WebsocketConn.WriteClose(closeInvalidMessage, "Invalid message received: "+head.Type+" needs a non-empty string id")
				return typ, nil, errMissingID
			}
			dup, why := c.add(id)
			if dup {
				_ = c.WebsocketConn.WriteClose(closeSubscriberTaken, "Subscriber for "+id+" already exists")
				return typ, nil, errDuplicateID
			}
			if why != "" {
				c.refuse(id, why)
				continue // the transport never sees it
			}
		case "complete", "stop":
			c.release(id)
		}
		return typ, bytes.NewReader(data), nil
	}
}

// add counts subscription id against the socket's, the address's and the
// server's limits. It reports an id still active, or the limit hit; neither
// adds it.
func (c *guardedConn) add(id string) (dup bool, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[id] {
		return true, ""
	}
	if len(c.active) >= c.maxSubs {
		return false, fmt.Sprintf("at most %d subscriptions per connection; complete one first", c.maxSubs)
	}
	if c.counts != nil {
		if why := c.counts.acquireSub(c.addr); why != "" {
			return false, why
		}
	}
	c.active[id] = true
	c.countSubs(1)
	return false, ""
}

// refuse answers a subscribe over a limit with an error for its id.
func (c *guardedConn) refuse(id, why string) {
	e := map[string]any{
		"message":    why,
		"extensions": map[string]any{"code": "RATE_LIMITED"},
	}
	var payload any = []any{e}
	if c.Subprotocol() == "graphql-ws" {
		payload = e
	}
	_ = c.WebsocketConn.WriteJSON(map[string]any{"id": id, "type": "error", "payload": payload})
}

func (c *guardedConn) release(id string) {
	c.mu.Lock()
	c.removeLocked(id)
	c.mu.Unlock()
}

// removeLocked ends the count of subscription id, if it is active; c.mu is
// held.
func (c *guardedConn) removeLocked(id string) bool {
	if !c.active[id] {
		return false
	}
	delete(c.active, id)
	c.countSubs(-1)
	return true
}

func (c *guardedConn) countSubs(d int) {
	if c.metrics != nil {
		c.metrics.subs.Add(float64(d))
	}
	if d < 0 && c.counts != nil {
		c.counts.releaseSubs(c.addr, -d)
	}
}

// Close also ends the count of the connection and its subscriptions.
func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.countSubs(-len(c.active))
		clear(c.active)
		c.mu.Unlock()
		if c.metrics != nil {
			c.metrics.wsConns.Dec()
		}
		if c.sockets != nil {
			c.sockets.n.Add(-1)
		}
	})
	return c.WebsocketConn.Close()
}

// WriteJSON sees the transport's own messages: a complete or error for an id
// ends that subscription, and nothing is sent for an id the client already
// completed (gqlgen would report the cancelled resolver as an error).
func (c *guardedConn) WriteJSON(v any) error {
	if rv := reflect.Indirect(reflect.ValueOf(v)); rv.Kind() == reflect.Struct {
		if t, id := rv.FieldByName("Type"), rv.FieldByName("ID"); t.IsValid() && id.IsValid() && id.Kind() == reflect.String && id.String() != "" {
			c.mu.Lock()
			active := c.active[id.String()]
			if s := t.String(); active && (s == "complete" || s == "error") {
				c.removeLocked(id.String())
			}
			c.mu.Unlock()
			if !active {
				return nil
			}
		}
	}
	return c.WebsocketConn.WriteJSON(v)
}

func (c *guardedConn) WriteClose(code int, msg string) error {
	switch {
	case code == transport.WebsocketCloseProtocolError && msg == "connection initialisation timeout":
		code = closeInitTimeout
	case code == transport.WebsocketCloseNormalClosure && c.shuttingDown != nil && c.shuttingDown():
		code, msg = 1001, "server shutting down; reconnect"
	}
	return c.WebsocketConn.WriteClose(code, msg)
}

// The transport uses these optional interfaces when the connection has them.

func (c *guardedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *guardedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
