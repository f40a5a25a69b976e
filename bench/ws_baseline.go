package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The fan-out baseline (`bench _ws-baseline`): a minimal WebSocket broadcast
// server on the same library as callme (coder/websocket), without GraphQL or
// a database. Per stall a hub keeps its sockets and its calls in memory;
// POST /call?seller=ID&prefix=A makes the next call and queues one
// pre-encoded message (the same JSON as callme's "next" message) to every
// socket of the stall. /ws?seller=ID&after=N replays the calls after N, like
// calledNumbers(after:). Per socket: the handler goroutine writes, a second
// goroutine (CloseRead) reads control frames. No keep-alive pings.

type wsHub struct {
	mu      sync.Mutex
	seq     int
	history [][]byte
	conns   map[*wsConn]struct{}
}

type wsConn struct{ ch chan []byte }

type wsBaseline struct {
	mu      sync.Mutex
	hubs    map[string]*wsHub
	subs    atomic.Int64
	dropped atomic.Int64
}

func (b *wsBaseline) hub(id string) *wsHub {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hubs[id]
	if h == nil {
		h = &wsHub{conns: map[*wsConn]struct{}{}}
		b.hubs[id] = h
	}
	return h
}

func wsBaselineMain(args []string) error {
	raiseNoFile()
	b := &wsBaseline{hubs: map[string]*wsHub{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", b.serveWS)
	mux.HandleFunc("POST /call", b.call)
	mux.HandleFunc("GET /goroutines", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	mux.HandleFunc("GET /subs", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, b.subs.Load())
	})
	mux.HandleFunc("GET /seqs", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]int{}
		b.mu.Lock()
		for id, h := range b.hubs {
			h.mu.Lock()
			out[id] = h.seq
			h.mu.Unlock()
		}
		b.mu.Unlock()
		writeJSON(w, out)
	})
	return serveHelper(mux)
}

func (b *wsBaseline) serveWS(w http.ResponseWriter, r *http.Request) {
	h := b.hub(r.URL.Query().Get("seller"))
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	wc := &wsConn{ch: make(chan []byte, 64)}
	h.mu.Lock()
	var backlog [][]byte
	if after >= 0 && after < len(h.history) {
		backlog = append(backlog, h.history[after:]...)
	}
	h.conns[wc] = struct{}{}
	h.mu.Unlock()
	b.subs.Add(1)
	defer func() {
		h.mu.Lock()
		delete(h.conns, wc)
		h.mu.Unlock()
		b.subs.Add(-1)
	}()
	write := func(m []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, m) == nil
	}
	for _, m := range backlog {
		if !write(m) {
			return
		}
	}
	for {
		select {
		case m := <-wc.ch:
			if !write(m) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (b *wsBaseline) call(w http.ResponseWriter, r *http.Request) {
	h := b.hub(r.URL.Query().Get("seller"))
	prefix := r.URL.Query().Get("prefix")
	h.mu.Lock()
	h.seq++
	code := fmt.Sprintf("%s%04d", prefix, h.seq)
	msg, _ := json.Marshal(map[string]any{
		"id": "1", "type": "next",
		"payload": map[string]any{"data": map[string]any{"calledNumbers": map[string]any{
			"seq": h.seq, "code": code, "announcement": "请 " + code + " 号取餐",
			"calledAt": time.Now().UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano),
		}}},
	})
	h.history = append(h.history, msg)
	for wc := range h.conns {
		select {
		case wc.ch <- msg:
		default:
			b.dropped.Add(1) // a stuck socket; the resume covers it
		}
	}
	seq := h.seq
	h.mu.Unlock()
	writeJSON(w, map[string]int{"seq": seq})
}
