package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The WebSocket transport: graphql-transport-ws and the legacy graphql-ws
// over github.com/coder/websocket, with gqlgen's executor running every
// selection set. It is ours rather than gqlgen's transport.Websocket because
// phones waiting for a call are most of what the server holds, and the stock
// transport spends four goroutines per subscription (read loop, ping loop,
// closeOnCancel, a pump per subscription) and closes with 1002 where the
// protocol wants 4400/4408. Here a socket costs one goroutine, its reader; a
// writer runs only while frames are queued; keep-alives are timers; a
// subscription's values are encoded on the goroutine that produces them
// (canteen.WithStreamSend) and calledNumbers subscribers share one execution
// per event (see callfeed.go).

// Close codes of the graphql-transport-ws protocol.
const (
	closeInvalidMessage  = 4400
	closeUnauthorized    = 4401
	closeInitTimeout     = 4408
	closeSubscriberTaken = 4409
	closeTooManyInits    = 4429
)

const (
	protoTransportWS = "graphql-transport-ws"
	protoGraphQLWS   = "graphql-ws"
)

// wsWriteTimeout bounds one frame's write: a phone that stops reading is cut
// instead of holding its queue forever.
const wsWriteTimeout = 10 * time.Second

// wsQueueBytes bounds what one socket may have queued and unwritten. A
// socket beyond it is closed with 1013 (try again later): its client
// reconnects and resumes with `after`, so it loses nothing and slows no one.
const wsQueueBytes = 1 << 20

// Sockets counts open GraphQL WebSockets, so shutdown can wait for their
// close frames to go out.
type Sockets struct{ n atomic.Int64 }

// Open returns the number of open sockets.
func (s *Sockets) Open() int64 { return s.n.Load() }

// wsTransport is the graphql.Transport for WebSocket upgrades.
type wsTransport struct {
	accept      websocket.AcceptOptions
	initFunc    func(ctx context.Context, payload map[string]any) (context.Context, error)
	keepAlive   time.Duration
	initTimeout time.Duration
	readLimit   int64
	maxSubs     int
	counts      *socketCounts
	metrics     *Metrics // may be nil
	// shuttingDown turns the close when the server's context ends into 1001
	// "going away", so clients reconnect (to another instance) at once.
	shuttingDown func() bool
	sockets      *Sockets
	execs        *feedExecs // shared calledNumbers executors
	log          *slog.Logger
	// present is the schema's error presenter, for an error that ends a
	// subscription when no resolver's context is left to carry it.
	present graphql.ErrorPresenterFunc
}

var _ graphql.Transport = wsTransport{}

// errorContext carries the schema's error presenter for an error that ends
// an operation when no resolver's context is at hand.
func (t *wsTransport) errorContext() context.Context {
	return graphql.WithResponseContext(context.Background(), t.present, nil)
}

func (t wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	opts := t.accept
	opts.Subprotocols = []string{protoTransportWS, protoGraphQLWS}
	conn, err := websocket.Accept(w, r, &opts)
	if err != nil {
		return // Accept answered the handshake (403 for a foreign origin)
	}
	conn.SetReadLimit(t.readLimit)
	proto := conn.Subprotocol()
	if proto == "" {
		proto = protoGraphQLWS // what gqlgen assumed for clients that name none
	}
	if t.metrics != nil {
		t.metrics.wsConns.Inc()
		defer t.metrics.wsConns.Dec()
	}
	if t.sockets != nil {
		t.sockets.n.Add(1)
		defer t.sockets.n.Add(-1)
	}
	addr, _ := r.Context().Value(socketAddrKey{}).(string)
	s := &wsSocket{
		t:      &t,
		conn:   conn,
		proto:  proto,
		exec:   exec,
		ctx:    r.Context(),
		header: r.Header,
		addr:   addr,
		subs:   map[string]*wsSub{},
	}
	s.initTimer = time.AfterFunc(t.initTimeout, func() {
		s.mu.Lock()
		late := !s.inited
		s.mu.Unlock()
		if late {
			s.close(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	// The server's base context ends on shutdown: every socket closes, with
	// 1001 then.
	stop := context.AfterFunc(r.Context(), func() {
		if t.shuttingDown != nil && t.shuttingDown() {
			s.close(websocket.StatusGoingAway, "server shutting down; reconnect")
			return
		}
		s.close(websocket.StatusNormalClosure, "terminated")
	})
	defer stop()
	s.read()
}

// wsSocket is one open WebSocket.
type wsSocket struct {
	t      *wsTransport
	conn   *websocket.Conn
	proto  string
	exec   graphql.GraphExecutor
	ctx    context.Context // the upgrade request's; after connection_init, the socket's token
	header http.Header
	addr   string // the client's address key in counts

	initTimer *time.Timer
	kaTimer   *time.Timer
	heard     atomic.Int64 // when the client last sent a message (UnixNano)

	mu      sync.Mutex
	inited  bool
	closed  bool
	subs    map[string]*wsSub // active operations by id
	queue   []*[]byte         // frames to write, oldest first
	queued  int               // their bytes
	writing bool              // a writer goroutine drains queue
}

// read is the socket's one long-lived goroutine: it reads and handles the
// client's messages until the socket closes, then ends its operations.
func (s *wsSocket) read() {
	defer s.cleanup()
	// Not the request's context: its end (shutdown) closes the socket with
	// a code of our choosing instead of coder/websocket's.
	ctx := context.WithoutCancel(s.ctx)
	for {
		_, data, err := s.conn.Read(ctx)
		if err != nil {
			return
		}
		s.heard.Store(time.Now().UnixNano())
		if !s.handle(data) {
			return
		}
	}
}

func (s *wsSocket) cleanup() {
	s.initTimer.Stop()
	s.mu.Lock()
	s.closed = true
	if s.kaTimer != nil {
		s.kaTimer.Stop()
	}
	subs := s.subs
	s.subs = map[string]*wsSub{}
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	for _, sub := range subs {
		// nil: a placeholder of add whose start found the socket closed
		// (close runs from other goroutines too). It holds a place all the
		// same, given back with the others.
		if sub != nil {
			sub.stop()
		}
	}
	s.countSubs(-len(subs))
	s.conn.CloseNow()
}

// onSide runs f on a goroutine of its own and waits for it. Subscribing
// runs gqlgen, the resolver and a database read, deep calls that would grow
// the reader's stack for as long as the socket lives; on a goroutine that
// ends, the reader keeps the small stack it needs to wait for the next
// message.
func onSide(f func()) {
	done := make(chan struct{})
	var p any
	go func() {
		defer close(done)
		defer func() { p = recover() }()
		f()
	}()
	<-done
	if p != nil {
		panic(p) // on the reader, where net/http recovers it
	}
}

// wsMessage is a message of either protocol, as the client sends it. The id
// is any JSON value so that a non-string id can be refused rather than
// failing the decoding.
type wsInbound struct {
	ID      any             `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// handle acts on one client message; false closes the socket.
func (s *wsSocket) handle(data []byte) bool {
	var m wsInbound
	if json.Unmarshal(data, &m) != nil {
		return s.refuseSocket(closeInvalidMessage, "Invalid message received: not JSON")
	}
	s.mu.Lock()
	inited := s.inited
	s.mu.Unlock()
	id, _ := m.ID.(string)
	switch m.Type {
	case "connection_init":
		if inited {
			return s.refuseSocket(closeTooManyInits, "Too many initialisation requests")
		}
		var ok bool
		onSide(func() { ok = s.init(m.Payload) })
		return ok
	case "connection_terminate":
		return s.refuseSocket(websocket.StatusNormalClosure, "terminated")
	case "ping":
		if s.proto == protoTransportWS {
			s.enqueue(s.frame("", "pong", m.Payload))
		}
		return true
	case "pong":
		return true
	}
	if !inited {
		if m.Type == "subscribe" || m.Type == "start" {
			return s.refuseSocket(closeUnauthorized, "Unauthorized")
		}
		return s.refuseSocket(closeInvalidMessage, "Invalid message received: "+m.Type+" before connection_init")
	}
	switch {
	case m.Type == "subscribe" && s.proto == protoTransportWS, m.Type == "start" && s.proto == protoGraphQLWS:
		if id == "" {
			return s.refuseSocket(closeInvalidMessage, "Invalid message received: "+m.Type+" needs a non-empty string id")
		}
		dup, why := s.add(id)
		if dup {
			return s.refuseSocket(closeSubscriberTaken, "Subscriber for "+id+" already exists")
		}
		if why != "" {
			s.refuse(id, why)
			return true
		}
		onSide(func() { s.start(id, m.Payload) })
	case m.Type == "complete" && s.proto == protoTransportWS, m.Type == "stop" && s.proto == protoGraphQLWS:
		if sub := s.remove(id); sub != nil {
			sub.stop()
		}
	default:
		return s.refuseSocket(closeInvalidMessage, "Invalid message received: unexpected type "+strconv.Quote(m.Type))
	}
	return true
}

// init authenticates connection_init's token and acknowledges it.
func (s *wsSocket) init(payload json.RawMessage) bool {
	s.initTimer.Stop()
	var p map[string]any
	if len(payload) > 0 && string(payload) != "null" {
		if json.Unmarshal(payload, &p) != nil {
			return s.refuseSocket(closeInvalidMessage, "Invalid message received: connection_init payload is not an object")
		}
	}
	ctx, err := s.t.initFunc(s.ctx, p)
	if err != nil {
		s.t.log.ErrorContext(s.ctx, "authenticating a WebSocket", "err", err)
		if s.proto == protoGraphQLWS {
			b, _ := json.Marshal(&gqlerror.Error{Message: "internal error; it has been logged", Extensions: map[string]any{"code": string(canteen.CodeInternal)}})
			s.write(s.frame("", "connection_error", b))
		}
		return s.refuseSocket(websocket.StatusInternalError, "internal error")
	}
	s.mu.Lock()
	s.ctx, s.inited = ctx, true
	s.mu.Unlock()
	s.enqueue(s.frame("", "connection_ack", nil))
	if s.proto == protoGraphQLWS {
		s.enqueue(s.frame("", "ka", nil))
	}
	s.mu.Lock()
	if !s.closed {
		s.kaTimer = time.AfterFunc(s.t.keepAlive, s.keepAlive)
	}
	s.mu.Unlock()
	return true
}

// keepAlive runs every keep-alive interval, on a timer. graphql-transport-ws
// clients get a "ping" and must answer (any message does) within two
// intervals; graphql-ws clients get the "ka" their protocol promises and a
// WebSocket ping their WebSocket stack answers (in browsers too), also within
// two intervals. Either way dead phones free their subscriptions instead of
// lingering until TCP gives up. A goroutine exists only while a WebSocket
// ping waits for its pong.
func (s *wsSocket) keepAlive() {
	if s.proto == protoTransportWS {
		if time.Since(time.Unix(0, s.heard.Load())) > 2*s.t.keepAlive {
			s.conn.CloseNow() // the reader ends and cleans up
			return
		}
		s.enqueue(s.frame("", "ping", nil))
	} else {
		s.enqueue(s.frame("", "ka", nil))
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.t.keepAlive)
		err := s.conn.Ping(ctx)
		cancel()
		if err != nil {
			s.conn.CloseNow()
			return
		}
	}
	s.mu.Lock()
	if !s.closed {
		s.kaTimer.Reset(s.t.keepAlive)
	}
	s.mu.Unlock()
}

// add counts operation id against the socket's, the address's and the
// server's limits. It reports an id still active, or the limit hit; neither
// adds it.
func (s *wsSocket) add(id string) (dup bool, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[id]; ok {
		return true, ""
	}
	if len(s.subs) >= s.t.maxSubs {
		return false, fmt.Sprintf("at most %d subscriptions per connection; complete one first", s.t.maxSubs)
	}
	if s.t.counts != nil {
		if why := s.t.counts.acquireSub(s.addr); why != "" {
			return false, why
		}
	}
	s.subs[id] = nil // its operation follows (start)
	s.countSubsLocked(1)
	return false, ""
}

// remove ends the count of operation id and returns it, or nil when it was
// not active (or not started yet).
func (s *wsSocket) remove(id string) *wsSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[id]
	if !ok {
		return nil
	}
	delete(s.subs, id)
	s.countSubsLocked(-1)
	return sub
}

// release ends sub's count if it is still the active operation of its id;
// it reports whether it was (and so whether its end is still to be told).
func (s *wsSocket) release(sub *wsSub) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.subs[sub.id]; !ok || cur != sub {
		return false
	}
	delete(s.subs, sub.id)
	s.countSubsLocked(-1)
	return true
}

func (s *wsSocket) active(sub *wsSub) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[sub.id] == sub && !s.closed
}

func (s *wsSocket) countSubsLocked(d int) { s.countSubs(d) }

func (s *wsSocket) countSubs(d int) {
	if d == 0 {
		return
	}
	if s.t.metrics != nil {
		s.t.metrics.subs.Add(float64(d))
	}
	if d < 0 && s.t.counts != nil {
		s.t.counts.releaseSubs(s.addr, -d)
	}
}

// refuse answers a subscribe over a limit with an error for its id.
func (s *wsSocket) refuse(id, why string) {
	e := map[string]any{
		"message":    why,
		"extensions": map[string]any{"code": string(canteen.CodeRateLimited)},
	}
	var payload any = []any{e}
	if s.proto == protoGraphQLWS {
		payload = e
	}
	b, _ := json.Marshal(payload)
	s.enqueue(s.frame(id, "error", b))
}

// refuseSocket closes the socket with code from the reader and reports
// false (the reader ends).
func (s *wsSocket) refuseSocket(code websocket.StatusCode, reason string) bool {
	s.close(code, reason)
	return false
}

// close sends a close frame and ends the socket; later calls do nothing.
// Frames still queued are dropped: the client resumes with `after`.
func (s *wsSocket) close(code websocket.StatusCode, reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	if len(reason) > 120 {
		reason = reason[:120] // close frames carry at most 123 bytes
	}
	_ = s.conn.Close(code, reason)
}

// frame encodes a server message; payload is raw JSON or nil.
func (s *wsSocket) frame(id, typ string, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+len(id)+48)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if id != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, id)
	}
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// dataType is the message type of a result in the socket's protocol.
func (s *wsSocket) dataType() string {
	if s.proto == protoGraphQLWS {
		return "data"
	}
	return "next"
}

// framePool recycles result frames: a call's result is copied into one
// frame per subscriber, written, and returned.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// enqueueResult queues a result frame of sub around payload (shared by a
// group of subscribers: read only).
func (s *wsSocket) enqueueResult(sub *wsSub, payload []byte) {
	bp := framePool.Get().(*[]byte)
	b := append((*bp)[:0], sub.head...)
	b = append(b, payload...)
	*bp = append(b, '}')
	s.enqueueBuf(bp, sub)
}

// enqueue queues a frame for the writer and starts one if none runs. It
// never blocks: a socket whose queue outgrows wsQueueBytes is closed.
func (s *wsSocket) enqueue(b []byte) { s.enqueueBuf(&b, nil) }

// enqueueBuf queues *bp; with sub, only while sub is active (nothing is sent
// for an id the client completed).
func (s *wsSocket) enqueueBuf(bp *[]byte, sub *wsSub) {
	b := *bp
	s.mu.Lock()
	if s.closed || (sub != nil && s.subs[sub.id] != sub) {
		s.mu.Unlock()
		return
	}
	if s.queued+len(b) > wsQueueBytes {
		s.mu.Unlock()
		go s.close(websocket.StatusTryAgainLater, "too slow to read; reconnect and resume with after")
		return
	}
	s.queue = append(s.queue, bp)
	s.queued += len(b)
	if !s.writing {
		s.writing = true
		go s.drain()
	}
	s.mu.Unlock()
}

// write queues a frame and waits until the queue is written (for the last
// words before a close).
func (s *wsSocket) write(b []byte) {
	s.enqueue(b)
	for i := 0; i < 100; i++ {
		s.mu.Lock()
		idle := !s.writing || s.closed
		s.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drain writes the queue in order and ends when it is empty.
func (s *wsSocket) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.closed {
			s.writing = false
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for i, bp := range batch {
			b := *bp
			ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
			err := s.conn.Write(ctx, websocket.MessageText, b)
			cancel()
			if cap(b) <= 4096 {
				*bp = b[:0]
				framePool.Put(bp)
			}
			batch[i] = nil
			if err != nil {
				s.mu.Lock()
				s.writing = false
				s.mu.Unlock()
				s.conn.CloseNow()
				return
			}
			s.mu.Lock()
			s.queued -= len(b)
			s.mu.Unlock()
		}
	}
}

func (s *wsSocket) sendResponse(id string, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err)
	}
	s.enqueue(s.frame(id, s.dataType(), b))
}

func (s *wsSocket) sendError(id string, errs ...*gqlerror.Error) {
	b, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	s.enqueue(s.frame(id, "error", b))
}

func (s *wsSocket) complete(id string) { s.enqueue(s.frame(id, "complete", nil)) }

// wsSub is one running operation of a socket.
type wsSub struct {
	s      *wsSocket
	id     string
	ctx    context.Context // the operation's, cancelled by stop
	cancel context.CancelFunc
	// ready closes once the operation was dispatched: next and octx are set
	// and the stream may hand values.
	ready     chan struct{}
	readyOnce sync.Once
	next      graphql.ResponseHandler
	octx      context.Context
	// push puts a stream's value on the channel gqlgen's subscription field
	// reads (set by channel, nil when no stream started).
	push func(v any)
	// feed is the shared call feed's entry of a calledNumbers subscription
	// (nil otherwise), feedKey its group key and exec the executor it shares
	// (guarded by wsTransport.execs.mu).
	feed       *canteen.CallMember
	feedKey    string
	exec       *feedExec
	presentCtx context.Context // until it joined: the resolver's, for its errors
	// head is the start of its result frames, up to the payload.
	head []byte
}

type subKey struct{}

// subFrom returns the WebSocket operation ctx belongs to, or nil.
func subFrom(ctx context.Context) *wsSub {
	sub, _ := ctx.Value(subKey{}).(*wsSub)
	return sub
}

// openReady closes ready, once.
func (sub *wsSub) openReady() { sub.readyOnce.Do(func() { close(sub.ready) }) }

func (sub *wsSub) stop() {
	sub.cancel()
	if sub.feed != nil {
		sub.feed.Leave()
		sub.s.t.execs.release(sub)
	}
}

// start runs operation id: queries and mutations on a goroutine of their own
// until answered, subscriptions wherever their values are produced.
func (s *wsSocket) start(id string, payload json.RawMessage) {
	start := graphql.Now()
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // variables keep integers as integers
	if err := dec.Decode(params); err != nil {
		// As the same body over POST: bad input, with its code. The error
		// ends the operation (no complete); the socket goes on.
		s.sendError(id, &gqlerror.Error{Message: "invalid json: the payload is not a GraphQL request", Extensions: map[string]any{"code": string(canteen.CodeBadUserInput)}})
		s.remove(id)
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = s.header
	s.mu.Lock()
	base := s.ctx
	s.mu.Unlock()
	ctx := graphql.StartOperationTrace(base)
	rc, errs := s.exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := s.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			s.sendError(id, resp.Errors...) // error ends it: no complete
		} else {
			s.sendResponse(id, &graphql.Response{Errors: errs})
			s.complete(id)
		}
		s.remove(id)
		return
	}
	// Not a child of the request's context: the socket's end stops its
	// operations, and a child would cost a place in the parent's map.
	ctx, cancel := context.WithCancel(context.WithoutCancel(graphql.WithOperationContext(ctx, rc)))
	sub := &wsSub{s: s, id: id, ctx: ctx, cancel: cancel, ready: make(chan struct{})}
	sub.head = s.frame(id, s.dataType(), []byte("-"))
	sub.head = sub.head[:len(sub.head)-2] // without the payload and the closing brace
	s.mu.Lock()
	if _, ok := s.subs[id]; !ok || s.closed { // completed meanwhile
		s.mu.Unlock()
		cancel()
		return
	}
	s.subs[id] = sub
	s.mu.Unlock()
	if rc.Operation.Operation != ast.Subscription {
		go sub.once(ctx, rc)
		return
	}
	defer sub.openReady() // whatever happens: end waits for it
	defer s.recoverOp(sub)
	ctx = canteen.WithStreamSend(context.WithValue(ctx, subKey{}, sub), sub.send)
	sub.next, sub.octx = s.exec.DispatchOperation(ctx, rc)
	if sub.push == nil { // refused or failed before any stream
		sub.once(nil, rc)
		return
	}
	if sub.feed != nil {
		s.t.execs.adopt(sub)
		// A context of its own, holding nothing of the operation it came
		// from (the shared executor runs it).
		ctx, cancel := context.WithCancel(context.Background())
		old := sub.cancel
		sub.ctx, sub.cancel = ctx, cancel
		old()
		sub.openReady()
		sub.feed.Start()
		return
	}
	sub.openReady()
}

// once runs a query, a mutation or a subscription that ended before it
// started: one response, then complete.
func (sub *wsSub) once(ctx context.Context, rc *graphql.OperationContext) {
	s := sub.s
	defer s.recoverOp(sub)
	if ctx != nil {
		sub.next, sub.octx = s.exec.DispatchOperation(ctx, rc)
	}
	sub.openReady()
	if resp := sub.next(sub.octx); resp != nil && s.active(sub) {
		s.sendResponse(sub.id, resp)
	}
	sub.end(nil)
}

// recoverOp turns a panic while running sub into an error for it.
func (s *wsSocket) recoverOp(sub *wsSub) {
	if r := recover(); r != nil {
		s.t.log.ErrorContext(sub.ctx, "panic in a WebSocket operation", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		// Through the schema's presenter, as a resolver's panic is: INTERNAL,
		// no detail.
		errs := presentEnd(s.t.errorContext(), fmt.Errorf("panic: %v", r))
		if s.release(sub) {
			s.sendError(sub.id, errs...)
		}
		// stop, not only cancel: a panic after the subscription joined its
		// call feed would leave the member (and its session's watch) in the
		// topic, and once released here, cleanup no longer stops it.
		sub.stop()
	}
}

// send is the stream's hand (canteen.WithStreamSend): it runs the
// subscription's selection set on v and queues the result, on the stream's
// goroutine.
func (sub *wsSub) send(v any) bool {
	select {
	case <-sub.ready:
	case <-sub.ctx.Done():
		return false
	}
	if !sub.s.active(sub) {
		return false
	}
	defer sub.s.recoverOp(sub)
	sub.push(v)
	resp := sub.next(sub.octx)
	if resp == nil {
		return false
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err)
	}
	sub.s.enqueueResult(sub, b)
	return true
}

// end tells the client that sub ended, with errs or as complete, unless it
// ended because the client completed it or the socket closed.
func (sub *wsSub) end(errs gqlerror.List) {
	<-sub.ready // a stream may end while start still dispatches it
	defer sub.stop()
	if !sub.s.release(sub) {
		return
	}
	if len(errs) > 0 {
		sub.s.sendError(sub.id, errs...)
		return
	}
	sub.s.complete(sub.id)
}
