package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket load generator: a separate process (`bench _fanout-client`)
// holding one socket and one subscription per simulated phone. The parent
// sends a JSON config line, then commands, one JSON line each, and reads one
// JSON line per answer.

const calledNumbersSub = `subscription($s: ID!, $a: Int) { calledNumbers(sellerId: $s, after: $a) { seq code announcement calledAt } }`

type clientConfig struct {
	Mode     string   `json:"mode"` // "gql" (graphql-transport-ws at /query) or "base" (the baseline hub at /ws)
	URL      string   `json:"url"`  // ws://host:port
	Sellers  []string `json:"sellers"`
	N        int      `json:"n"`
	Parallel int      `json:"parallel"`
}

type clientCmd struct {
	Cmd   string         `json:"cmd"` // connect, count, storm, stormstat, report, close
	Secs  float64        `json:"secs,omitempty"`
	Final map[string]int `json:"final,omitempty"`
}

// clientReport is the answer to "report".
type clientReport struct {
	Conns       int     `json:"conns"`
	Deliveries  int64   `json:"deliveries"`
	Lost        int64   `json:"lost"`
	Dup         int64   `json:"dup"`
	OutOfOrder  int64   `json:"outOfOrder"`
	Beyond      int64   `json:"beyond"` // seqs above the final one: impossible
	Replayed    int64   `json:"replayed"`
	Samples     int     `json:"samples"`
	P50, P99    float64 // ms
	Max         float64
	Errors      int64    `json:"errors"`
	ErrorSample []string `json:"errorSample"`
	CPU         float64  `json:"cpu"` // this process's CPU seconds so far
}

type stormStat struct {
	Reconnected   int     `json:"reconnected"`
	Failed        int     `json:"failed"`
	Attempts      int64   `json:"attempts"`
	LastSubscribe float64 `json:"lastSubscribe"` // s after the storm began
	Receiving     int     `json:"receiving"`     // subscribers that got an event since re-subscribing
	LastReceiving float64 `json:"lastReceiving"` // s after the storm began
	// Drop → subscribe sent again, per socket (ms).
	ReconnectP50, ReconnectP99, ReconnectMax float64
}

type subscriber struct {
	cfg    *clientConfig
	seller string
	hc     *http.Client

	mu        sync.Mutex
	conn      *websocket.Conn
	gen       int
	seqs      []int32
	lats      []int32 // µs, live events only
	last      int
	outOfOrd  int64
	replayed  int64
	subAt     time.Time // when the current subscription was sent
	firstRecv time.Time // first event of the current subscription
	droppedAt time.Time // storm: when the socket was dropped
}

type fanoutClient struct {
	cfg  clientConfig
	subs []*subscriber
	recv atomic.Int64
	errs atomic.Int64

	errMu  sync.Mutex
	errSmp []string

	stormAt time.Time
}

func (fc *fanoutClient) fail(format string, args ...any) {
	fc.errs.Add(1)
	fc.errMu.Lock()
	if len(fc.errSmp) < 5 {
		fc.errSmp = append(fc.errSmp, fmt.Sprintf(format, args...))
	}
	fc.errMu.Unlock()
}

func fanoutClientMain() error {
	limit := raiseNoFile()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	if !in.Scan() {
		return errors.New("no config")
	}
	fc := &fanoutClient{}
	if err := json.Unmarshal(in.Bytes(), &fc.cfg); err != nil {
		return err
	}
	if uint64(fc.cfg.N)+64 > limit {
		fmt.Fprintf(os.Stderr, "fanout client: open-files limit %d is below %d sockets\n", limit, fc.cfg.N)
	}
	if fc.cfg.Parallel <= 0 {
		fc.cfg.Parallel = 64
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		DisableKeepAlives: true,
	}}
	for i := range fc.cfg.N {
		fc.subs = append(fc.subs, &subscriber{cfg: &fc.cfg, seller: fc.cfg.Sellers[i%len(fc.cfg.Sellers)], hc: hc})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for in.Scan() {
		var cmd clientCmd
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			return err
		}
		switch cmd.Cmd {
		case "connect":
			t0 := time.Now()
			ok := fc.connectAll(ctx)
			_ = out.Encode(map[string]any{"connected": ok, "secs": time.Since(t0).Seconds(), "errors": fc.errs.Load(), "errorSample": fc.errSample()})
		case "count":
			_ = out.Encode(map[string]any{"received": fc.recv.Load(), "errors": fc.errs.Load()})
		case "storm":
			fc.storm(ctx, time.Duration(cmd.Secs*float64(time.Second)))
			_ = out.Encode(fc.stormStat())
		case "stormstat":
			_ = out.Encode(fc.stormStat())
		case "report":
			_ = out.Encode(fc.report(cmd.Final))
		case "close":
			fc.closeAll()
			_ = out.Encode(map[string]any{"closed": true})
			return nil
		default:
			return fmt.Errorf("unknown command %q", cmd.Cmd)
		}
	}
	// stdin closed: the bench is gone.
	return nil
}

func (fc *fanoutClient) errSample() []string {
	fc.errMu.Lock()
	defer fc.errMu.Unlock()
	return slices.Clone(fc.errSmp)
}

func (fc *fanoutClient) connectAll(ctx context.Context) int {
	sem := make(chan struct{}, fc.cfg.Parallel)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for _, s := range fc.subs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			// A refused or reset connect (accept queue full) is retried a few times.
			var err error
			for attempt := range 5 {
				if attempt > 0 {
					time.Sleep(time.Duration(100*attempt) * time.Millisecond)
				}
				if err = fc.connect(ctx, s, nil); err == nil {
					ok.Add(1)
					return
				}
			}
			fc.fail("connect: %v", err)
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

// connect opens a socket and subscribes (resuming after *after if set).
func (fc *fanoutClient) connect(ctx context.Context, s *subscriber, after *int) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := fc.cfg.URL + "/query"
	if fc.cfg.Mode == "base" {
		url = fmt.Sprintf("%s/ws?seller=%s", fc.cfg.URL, s.seller)
		if after != nil {
			url += fmt.Sprintf("&after=%d", *after)
		}
	}
	c, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{
		HTTPClient:   s.hc,
		Subprotocols: []string{"graphql-transport-ws"},
	})
	if err != nil {
		return err
	}
	c.SetReadLimit(1 << 20)
	if fc.cfg.Mode == "gql" {
		if err := c.Write(dctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
			c.CloseNow()
			return err
		}
		for {
			_, b, err := c.Read(dctx)
			if err != nil {
				c.CloseNow()
				return fmt.Errorf("waiting for connection_ack: %w", err)
			}
			var m struct{ Type string }
			_ = json.Unmarshal(b, &m)
			if m.Type == "connection_ack" {
				break
			}
			if m.Type == "ping" {
				_ = c.Write(dctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			}
		}
		vars := map[string]any{"s": s.seller}
		if after != nil {
			vars["a"] = *after
		}
		msg, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": calledNumbersSub, "variables": vars}})
		if err := c.Write(dctx, websocket.MessageText, msg); err != nil {
			c.CloseNow()
			return err
		}
	}
	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.conn = c
	s.subAt = time.Now()
	s.firstRecv = time.Time{}
	s.mu.Unlock()
	go fc.readLoop(ctx, s, c, gen)
	return nil
}

type wsMessage struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

type nextPayload struct {
	Data struct {
		CalledNumbers struct {
			Seq      int       `json:"seq"`
			CalledAt time.Time `json:"calledAt"`
		} `json:"calledNumbers"`
	} `json:"data"`
	Errors json.RawMessage `json:"errors"`
}

func (fc *fanoutClient) readLoop(ctx context.Context, s *subscriber, c *websocket.Conn, gen int) {
	current := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.gen == gen
	}
	buf := make([]byte, 0, 512)
	for {
		var err error
		buf, err = readMessage(ctx, c, buf[:0])
		now := time.Now()
		b := buf
		if err != nil {
			if current() && ctx.Err() == nil {
				fc.fail("read: %v", err)
			}
			return
		}
		// The load generator shares the CPU with the server: read "next"
		// messages without a full JSON decode.
		if seq, at, ok := quickNext(b); ok {
			fc.record(s, gen, seq, at, now)
			continue
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			fc.fail("bad message %.100s", b)
			continue
		}
		switch m.Type {
		case "next":
			var p nextPayload
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				fc.fail("bad next %.200s", b)
				continue
			}
			ev := p.Data.CalledNumbers
			fc.record(s, gen, ev.Seq, ev.CalledAt, now)
		case "ping":
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case "pong", "ka":
		default:
			fc.fail("unexpected %.200s", b)
		}
	}
}

// record notes one delivered call.
func (fc *fanoutClient) record(s *subscriber, gen, seq int, calledAt, now time.Time) {
	s.mu.Lock()
	if s.gen != gen {
		s.mu.Unlock()
		return
	}
	if seq <= s.last {
		s.outOfOrd++
	} else {
		s.last = seq
	}
	s.seqs = append(s.seqs, int32(seq))
	if calledAt.After(s.subAt) {
		s.lats = append(s.lats, int32(now.Sub(calledAt)/time.Microsecond))
	} else {
		s.replayed++
	}
	if s.firstRecv.IsZero() {
		s.firstRecv = now
	}
	s.mu.Unlock()
	fc.recv.Add(1)
}

// readMessage reads one message into buf (reused across messages).
func readMessage(ctx context.Context, c *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := c.Reader(ctx)
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// quickNext extracts seq and calledAt from a "next" message of the
// calledNumbers subscription (callme's or the baseline's: the same JSON), or
// reports false for anything else.
func quickNext(b []byte) (seq int, at time.Time, ok bool) {
	if !bytes.Contains(b, []byte(`"type":"next"`)) || bytes.Contains(b, []byte(`"errors"`)) {
		return 0, at, false
	}
	i := bytes.Index(b, []byte(`"seq":`))
	if i < 0 {
		return 0, at, false
	}
	j := i + len(`"seq":`)
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		seq = seq*10 + int(b[j]-'0')
		j++
	}
	k := bytes.Index(b, []byte(`"calledAt":"`))
	if k < 0 || j == i+len(`"seq":`) {
		return 0, at, false
	}
	k += len(`"calledAt":"`)
	end := bytes.IndexByte(b[k:], '"')
	if end < 0 {
		return 0, at, false
	}
	at, err := time.Parse(time.RFC3339Nano, string(b[k:k+end]))
	return seq, at, err == nil
}

// storm drops every socket at a random moment within d and reconnects it
// at once, resuming after the last seq it saw.
func (fc *fanoutClient) storm(ctx context.Context, d time.Duration) {
	fc.stormAt = time.Now()
	var wg sync.WaitGroup
	for _, s := range fc.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.Int64N(int64(d))))
			s.mu.Lock()
			old := s.conn
			s.gen++ // the old read loop's error is expected
			after := s.last
			s.droppedAt = time.Now()
			s.mu.Unlock()
			if old != nil {
				old.CloseNow() // like a phone losing its network: no close handshake
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				err := fc.connect(ctx, s, &after)
				if err == nil {
					return
				}
				if time.Now().After(deadline) {
					fc.fail("reconnect: %v", err)
					s.mu.Lock()
					s.subAt = time.Time{}
					s.mu.Unlock()
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

func (fc *fanoutClient) stormStat() stormStat {
	var st stormStat
	var recon []time.Duration
	for _, s := range fc.subs {
		s.mu.Lock()
		if s.subAt.After(fc.stormAt) {
			st.Reconnected++
			recon = append(recon, s.subAt.Sub(s.droppedAt))
			st.LastSubscribe = max(st.LastSubscribe, s.subAt.Sub(fc.stormAt).Seconds())
			if !s.firstRecv.IsZero() {
				st.Receiving++
				st.LastReceiving = max(st.LastReceiving, s.firstRecv.Sub(fc.stormAt).Seconds())
			}
		} else {
			st.Failed++
		}
		s.mu.Unlock()
	}
	p := pcts(recon, 50, 99, 100)
	st.ReconnectP50, st.ReconnectP99, st.ReconnectMax = float64(p[0])/1e6, float64(p[1])/1e6, float64(p[2])/1e6
	return st
}

func (fc *fanoutClient) report(final map[string]int) clientReport {
	r := clientReport{Conns: len(fc.subs)}
	var lats []int32
	for _, s := range fc.subs {
		s.mu.Lock()
		f := final[s.seller]
		seen := make(map[int32]bool, len(s.seqs))
		for _, q := range s.seqs {
			if int(q) > f {
				r.Beyond++
			}
			if seen[q] {
				r.Dup++
			}
			seen[q] = true
		}
		for q := 1; q <= f; q++ {
			if !seen[int32(q)] {
				r.Lost++
			}
		}
		r.Deliveries += int64(len(s.seqs))
		r.OutOfOrder += s.outOfOrd
		r.Replayed += s.replayed
		lats = append(lats, s.lats...)
		s.mu.Unlock()
	}
	slices.Sort(lats)
	r.Samples = len(lats)
	at := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := max(0, min(len(lats)-1, int(p/100*float64(len(lats))+0.5)-1))
		return float64(lats[i]) / 1000
	}
	r.P50, r.P99, r.Max = at(50), at(99), at(100)
	r.Errors = fc.errs.Load()
	r.ErrorSample = fc.errSample()
	if p, err := readProc(os.Getpid()); err == nil {
		r.CPU = p.CPU
	}
	return r
}

// closeAll leaves like phones closing the page: a normal close handshake.
func (fc *fanoutClient) closeAll() {
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	for _, s := range fc.subs {
		s.mu.Lock()
		c := s.conn
		s.gen++
		s.mu.Unlock()
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = c.Close(websocket.StatusNormalClosure, "bye")
		}()
	}
	wg.Wait()
}
