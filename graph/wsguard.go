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
	closeInitTimeout     = 4408
	closeSubscriberTaken = 4409
)

// guardedWS enforces what the graphql-transport-ws protocol requires and
// gqlgen does not: a second subscribe with an id that is still active closes
// the socket with 4409 (gqlgen would overwrite it and leak the first one), a
// socket holds at most maxSubs subscriptions, and the init timeout closes with
// 4408. It wraps another implementation and inspects message headers only.
type guardedWS struct {
	inner   transport.WebsocketImplementation
	maxSubs int
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
	return &guardedConn{WebsocketConn: c, guardedWS: g, active: map[string]bool{}}, nil
}

type guardedConn struct {
	transport.WebsocketConn
	guardedWS
	closeOnce sync.Once

	mu     sync.Mutex
	active map[string]bool
}

var errDuplicateID = errors.New("duplicate subscription id")

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
		var head struct{ ID, Type string }
		if json.Unmarshal(data, &head) == nil && head.ID != "" {
			switch head.Type {
			case "subscribe", "start":
				c.mu.Lock()
				dup, full := c.active[head.ID], len(c.active) >= c.maxSubs
				if !dup && !full {
					c.active[head.ID] = true
					c.countSubs(1)
				}
				c.mu.Unlock()
				if dup {
					_ = c.WebsocketConn.WriteClose(closeSubscriberTaken, "Subscriber for "+head.ID+" already exists")
					return typ, nil, errDuplicateID
				}
				if full {
					c.refuse(head.ID)
					continue // the transport never sees it
				}
			case "complete", "stop":
				c.release(head.ID)
			}
		}
		return typ, bytes.NewReader(data), nil
	}
}

// refuse answers a subscribe over the cap with an error for its id.
func (c *guardedConn) refuse(id string) {
	e := map[string]any{
		"message":    fmt.Sprintf("at most %d subscriptions per connection; complete one first", c.maxSubs),
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
	if c.active[id] {
		delete(c.active, id)
		c.countSubs(-1)
	}
	c.mu.Unlock()
}

func (c *guardedConn) countSubs(d float64) {
	if c.metrics != nil {
		c.metrics.subs.Add(d)
	}
}

// Close also ends the count of the connection and its subscriptions.
func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.countSubs(-float64(len(c.active)))
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
				delete(c.active, id.String())
				c.countSubs(-1)
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
