package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"callme/internal/pulid"
)

// target is what the WebSocket scenarios drive: callme, or the baseline hub.
type target struct {
	mode   string // "gql" or "base"
	pid    int
	wsURL  string
	stalls []stall
	srv    *server // gql only
	hc     *http.Client

	goroutines func(context.Context) (float64, error)
	subs       func(context.Context) (float64, error)
	call       func(context.Context, stall) error
	finals     func(context.Context) (map[string]int, error)
	stop       func()
}

// startTarget starts callme on a fresh database with stalls that have
// tickets waiting, or the baseline hub.
func (e *env) startTarget(ctx context.Context, mode string, tickets int, profile bool) (*target, error) {
	t := &target{mode: mode, hc: newHTTPClient(64)}
	if mode == "base" {
		h, err := e.startHelper(ctx, "_ws-baseline")
		if err != nil {
			return nil, err
		}
		t.pid, t.stop = h.pid, h.stop
		t.wsURL = "ws" + strings.TrimPrefix(h.url, "http")
		for i := range e.o.sellers {
			t.stalls = append(t.stalls, stall{ID: string(pulid.New("SL")), Prefix: prefixOf(i)})
		}
		get := func(ctx context.Context, path string) ([]byte, error) {
			req, _ := http.NewRequestWithContext(ctx, "GET", h.url+path, nil)
			resp, err := t.hc.Do(req)
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			return io.ReadAll(resp.Body)
		}
		num := func(path string) func(context.Context) (float64, error) {
			return func(ctx context.Context) (float64, error) {
				b, err := get(ctx, path)
				if err != nil {
					return 0, err
				}
				return strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
			}
		}
		t.goroutines, t.subs = num("/goroutines"), num("/subs")
		t.call = func(ctx context.Context, st stall) error {
			req, _ := http.NewRequestWithContext(ctx, "POST", h.url+"/call?seller="+st.ID+"&prefix="+st.Prefix, nil)
			resp, err := t.hc.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return nil
		}
		t.finals = func(ctx context.Context) (map[string]int, error) {
			b, err := get(ctx, "/seqs")
			if err != nil {
				return nil, err
			}
			out := map[string]int{}
			return out, json.Unmarshal(b, &out)
		}
		return t, nil
	}

	dbName, serverDSN, sqlDSN, err := e.freshDB(ctx)
	if err != nil {
		return nil, err
	}
	srv, err := e.startServer(ctx, serverDSN, profile)
	if err != nil {
		e.dropDB(dbName)
		return nil, err
	}
	db, err := sqlDB(sqlDSN, 2)
	if err != nil {
		srv.stop()
		e.dropDB(dbName)
		return nil, err
	}
	t.stop = func() { db.Close(); srv.stop(); e.dropDB(dbName) }
	t.srv, t.pid = srv, srv.pid
	t.wsURL = "ws" + strings.TrimPrefix(srv.url, "http")
	g := &gqlClient{url: srv.url + "/query", hc: t.hc}
	if t.stalls, _, err = g.setupStalls(ctx, e.o.sellers, e.o.sellers); err != nil {
		t.stop()
		return nil, err
	}
	if err := g.issueTickets(ctx, t.stalls, tickets); err != nil {
		t.stop()
		return nil, err
	}
	metric := func(name string) func(context.Context) (float64, error) {
		return func(ctx context.Context) (float64, error) {
			m, err := srv.metrics(ctx)
			return m[name], err
		}
	}
	t.goroutines, t.subs = metric("go_goroutines"), metric("callme_subscriptions_active")
	t.call = func(ctx context.Context, st stall) error {
		var r struct{ CallNext *struct{ ID string } }
		if _, err := g.do(ctx, st.Token, callNextMutation, map[string]any{"s": st.ID}, &r); err != nil {
			return err
		}
		if r.CallNext == nil {
			return errors.New("callNext: nobody waiting")
		}
		return nil
	}
	t.finals = func(ctx context.Context) (map[string]int, error) { return callSeqs(ctx, db) }
	return t, nil
}

func callSeqs(ctx context.Context, db *sql.DB) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, "SELECT id, call_seq FROM sellers")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var seq int
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		out[id] = seq
	}
	return out, rows.Err()
}

// loadClient is the running load generator process.
type loadClient struct {
	h   *helper
	cfg clientConfig
}

func (e *env) startClient(ctx context.Context, t *target, n int) (*loadClient, error) {
	h, err := e.spawn("_fanout-client")
	if err != nil {
		return nil, err
	}
	cfg := clientConfig{Mode: t.mode, URL: t.wsURL, N: n, Parallel: 64}
	for _, st := range t.stalls {
		cfg.Sellers = append(cfg.Sellers, st.ID)
	}
	b, _ := json.Marshal(cfg)
	if err := h.send(string(b)); err != nil {
		h.stop()
		return nil, err
	}
	return &loadClient{h: h, cfg: cfg}, nil
}

// ask sends a command and decodes the answer.
func (c *loadClient) ask(ctx context.Context, cmd clientCmd, timeout time.Duration, out any) error {
	b, _ := json.Marshal(cmd)
	if err := c.h.send(string(b)); err != nil {
		return fmt.Errorf("load client: %w (%s)", err, c.h.stder.String())
	}
	line, err := c.h.readLine(ctx, timeout)
	if err != nil {
		return fmt.Errorf("load client %s: %w", cmd.Cmd, err)
	}
	return json.Unmarshal([]byte(line), out)
}

// expected is the number of deliveries the subscribers should have had.
func (c *loadClient) expected(finals map[string]int) int64 {
	var n int64
	for i := range c.cfg.N {
		n += int64(finals[c.cfg.Sellers[i%len(c.cfg.Sellers)]])
	}
	return n
}

// waitFor polls cond every interval until it holds or timeout passes.
func waitFor(ctx context.Context, timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(interval)
	}
}

// callResult is what the callers measured.
type callResult struct {
	lat      []time.Duration
	errs     int
	firstErr error
}

// runCalls calls once per second per stall, stalls staggered across the
// second, n times each; it returns when the last call returned.
func runCalls(ctx context.Context, t *target, n int) callResult {
	var mu sync.Mutex
	var res callResult
	start := time.Now().Add(100 * time.Millisecond)
	var wg sync.WaitGroup
	for i, st := range t.stalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := time.Duration(i) * time.Second / time.Duration(len(t.stalls))
			for k := range n {
				at := start.Add(time.Duration(k)*time.Second + offset)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				t0 := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := t.call(cctx, st)
				cancel()
				mu.Lock()
				if err != nil {
					res.errs++
					if res.firstErr == nil {
						res.firstErr = err
					}
				} else {
					res.lat = append(res.lat, time.Since(t0))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return res
}

// fanoutResult is one fan-out run against one target.
type fanoutResult struct {
	mode            string
	n               int
	connected       int
	connectSecs     float64
	idleRSS, subRSS int64 // KB
	peakRSS         int64
	idleG, subG     float64
	cpu             float64 // server CPU seconds over calls + drain
	rep             clientReport
	calls           callResult
	expected        int64
	leftSecs        float64 // time for goroutines to return to idle, -1: not within 30 s
	leftG           float64
	profile         string
	memProfile      string
}

const idleSlack = 25 // goroutines above idle still counted as idle (DB pool watchers, keep-alive conns)

func (e *env) fanoutRun(ctx context.Context, mode string, n int, dur time.Duration, profile bool) (*fanoutResult, error) {
	calls := int(dur / time.Second)
	t, err := e.startTarget(ctx, mode, calls+5, profile)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	r := &fanoutResult{mode: mode, n: n, leftSecs: -1}
	t.hc.CloseIdleConnections()
	time.Sleep(time.Second)
	if r.idleG, err = t.goroutines(ctx); err != nil {
		return nil, err
	}
	p, err := readProc(t.pid)
	if err != nil {
		return nil, err
	}
	r.idleRSS = p.RSSKB

	c, err := e.startClient(ctx, t, n)
	if err != nil {
		return nil, err
	}
	defer c.h.stop()
	var conn struct {
		Connected int     `json:"connected"`
		Secs      float64 `json:"secs"`
	}
	if err := c.ask(ctx, clientCmd{Cmd: "connect"}, time.Duration(n/20)*time.Second+60*time.Second, &conn); err != nil {
		return nil, err
	}
	r.connected, r.connectSecs = conn.Connected, conn.Secs
	fmt.Printf("  %s: %d/%d subscribers connected in %.1fs\n", mode, conn.Connected, n, conn.Secs)
	waitFor(ctx, 60*time.Second, 250*time.Millisecond, func() bool {
		v, err := t.subs(ctx)
		return err == nil && v >= float64(conn.Connected)
	})
	time.Sleep(2 * time.Second) // let the last subscriptions settle
	if r.subG, err = t.goroutines(ctx); err != nil {
		return nil, err
	}
	if p, err = readProc(t.pid); err != nil {
		return nil, err
	}
	r.subRSS = p.RSSKB
	if profile {
		r.memProfile = e.pprofMemory(ctx, t.srv, fmt.Sprintf("fanout-%d", n))
	}
	if p, err = readProc(t.pid); err != nil {
		return nil, err
	}
	cpu0 := p.CPU

	var prof <-chan string
	if profile {
		prof = e.startProfile(ctx, t.srv, time.Second, time.Duration(max(1, calls-3))*time.Second, fmt.Sprintf("fanout-%d", n))
	}
	r.calls = runCalls(ctx, t, calls)
	finals, err := t.finals(ctx)
	if err != nil {
		return nil, err
	}
	r.expected = c.expected(finals)
	waitFor(ctx, 20*time.Second, 100*time.Millisecond, func() bool {
		var cnt struct{ Received int64 }
		return c.ask(ctx, clientCmd{Cmd: "count"}, 30*time.Second, &cnt) == nil && cnt.Received >= r.expected
	})
	if p, err = readProc(t.pid); err != nil {
		return nil, err
	}
	r.cpu, r.peakRSS = p.CPU-cpu0, p.RSSKB
	if prof != nil {
		r.profile = <-prof
	}
	if err := c.ask(ctx, clientCmd{Cmd: "report", Final: finals}, 60*time.Second, &r.rep); err != nil {
		return nil, err
	}
	var closed struct{ Closed bool }
	if err := c.ask(ctx, clientCmd{Cmd: "close"}, 60*time.Second, &closed); err != nil {
		return nil, err
	}
	c.h.stop()
	t.hc.CloseIdleConnections()
	left := time.Now()
	if waitFor(ctx, 30*time.Second, 250*time.Millisecond, func() bool {
		v, err := t.goroutines(ctx)
		r.leftG = v
		return err == nil && v <= r.idleG+idleSlack
	}) {
		r.leftSecs = time.Since(left).Seconds()
	}
	return r, nil
}

func (r *fanoutResult) rssPerSub() float64 {
	return float64(r.subRSS-r.idleRSS) / float64(max(1, r.connected))
}

func (r *fanoutResult) goroutinesPerSub() float64 {
	return (r.subG - r.idleG) / float64(max(1, r.connected))
}

func (r *fanoutResult) cpuPer1000() float64 {
	if r.rep.Deliveries == 0 {
		return 0
	}
	return r.cpu / (float64(r.rep.Deliveries) / 1000)
}

func (r *fanoutResult) ok() bool {
	return r.rep.Lost == 0 && r.rep.Dup == 0 && r.rep.Beyond == 0 && r.rep.Errors == 0 &&
		r.calls.errs == 0 && r.connected == r.n
}

func (r *fanoutResult) leftString() string {
	if r.leftSecs < 0 {
		return fmt.Sprintf("no (%.0f → %.0f)", r.idleG, r.leftG)
	}
	return fmt.Sprintf("yes, %.1f s", r.leftSecs)
}

// runFanout: calledNumbers to K subscribers vs the baseline hub.
func runFanout(ctx context.Context, e *env) error {
	dur := e.o.duration
	if dur == 0 {
		dur = 20 * time.Second
		if e.o.smoke {
			dur = 10 * time.Second
		}
	}
	def := "1000,5000"
	if e.o.smoke {
		def = "1000"
	}
	if e.o.subscribers != "" {
		def = e.o.subscribers
	}
	ks, err := intList(def)
	if err != nil {
		return fmt.Errorf("-subscribers: %w", err)
	}
	s := &section{
		key:   "fanout",
		title: "fanout: calledNumbers to K subscribers vs a plain WebSocket hub",
		intro: fmt.Sprintf("K sockets, one `calledNumbers` subscription each (like phones), spread over %d stalls; every stall calls once per second (staggered), %d calls per stall. "+
			"The load generator is a separate process (`bench _fanout-client`); so is the baseline (`bench _ws-baseline`: coder/websocket like callme, a hub per stall, no GraphQL, no database, the same JSON message). "+
			"Latency: receive time minus the event's `calledAt` (stamped inside the call transaction, before its commit), same clock. "+
			"RSS/subscriber: VmRSS after connecting minus before, over K; CPU: the server's utime+stime from the first call to the last delivery; goroutines from `go_goroutines` (/metrics) and `runtime.NumGoroutine` (baseline). "+
			"\"Back to idle\": goroutines ≤ idle + %d within 30 s of the clients' normal close.", e.o.sellers, int(dur/time.Second), idleSlack),
		header: []string{"K", "server", "p50 ms", "p99 ms", "max ms", "p99 ratio", "lost", "dup", "deliveries", "RSS KB/sub", "RSS ratio", "CPU s/1k deliveries", "CPU ratio", "goroutines/sub", "back to idle", "connect s", "call p99 ms"},
	}
	failed := false
	var profiles []string
	for _, k := range ks {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		profile := e.o.pprof && k == ks[len(ks)-1]
		g, err := e.fanoutRun(ctx, "gql", k, dur, profile)
		if err != nil {
			return fmt.Errorf("fanout %d (callme): %w", k, err)
		}
		var b *fanoutResult
		if !e.o.smoke {
			if b, err = e.fanoutRun(ctx, "base", k, dur, false); err != nil {
				return fmt.Errorf("fanout %d (baseline): %w", k, err)
			}
		}
		for _, r := range []*fanoutResult{g, b} {
			if r == nil {
				continue
			}
			name := map[string]string{"gql": "callme", "base": "baseline"}[r.mode]
			cp := pcts(r.calls.lat, 99)
			p99r, rssr, cpur := "–", "–", "–"
			if r.mode == "gql" && b != nil {
				p99r, rssr, cpur = ratio(g.rep.P99, b.rep.P99), ratio(g.rssPerSub(), b.rssPerSub()), ratio(g.cpuPer1000(), b.cpuPer1000())
			}
			s.add(strconv.Itoa(k), name,
				fmt.Sprintf("%.1f", r.rep.P50), fmt.Sprintf("%.1f", r.rep.P99), fmt.Sprintf("%.0f", r.rep.Max), p99r,
				strconv.FormatInt(r.rep.Lost, 10), strconv.FormatInt(r.rep.Dup, 10),
				fmt.Sprintf("%d/%d", r.rep.Deliveries, r.expected),
				fmt.Sprintf("%.1f", r.rssPerSub()), rssr,
				fmt.Sprintf("%.3f", r.cpuPer1000()), cpur,
				fmt.Sprintf("%.2f", r.goroutinesPerSub()), r.leftString(),
				fmt.Sprintf("%.1f", r.connectSecs), ms(cp[0]))
			fmt.Printf("  K=%d %s: p50 %.1f p99 %.1f max %.0f ms, lost %d dup %d, deliveries %d/%d, RSS %.1f KB/sub (%d→%d KB, peak %d), CPU %.2fs (%.3f s/1k; load generator %.1fs), goroutines %.0f→%.0f (%.2f/sub), back to idle: %s, calls %d ok/%d errors\n",
				k, name, r.rep.P50, r.rep.P99, r.rep.Max, r.rep.Lost, r.rep.Dup, r.rep.Deliveries, r.expected,
				r.rssPerSub(), r.idleRSS, r.subRSS, r.peakRSS, r.cpu, r.cpuPer1000(), r.rep.CPU, r.idleG, r.subG, r.goroutinesPerSub(),
				r.leftString(), len(r.calls.lat), r.calls.errs)
			if !r.ok() {
				failed = true
				msg := fmt.Sprintf("**check failed** (K=%d, %s): connected %d/%d, lost %d, dup %d, beyond %d, out of order %d, client errors %d %v, call errors %d %v",
					k, name, r.connected, r.n, r.rep.Lost, r.rep.Dup, r.rep.Beyond, r.rep.OutOfOrder, r.rep.Errors, r.rep.ErrorSample, r.calls.errs, r.calls.firstErr)
				fmt.Println("  " + msg)
				s.notes = append(s.notes, msg)
			}
			if r.profile != "" {
				profiles = append(profiles, fmt.Sprintf("K=%d: %s\n%s", k, r.profile, r.memProfile))
			}
		}
		if b != nil {
			// Issue 14's targets (at 10k): RSS and CPU per delivery ≤ 1.3× the
			// baseline's, p99 ≤ 2× the baseline's and under 50 ms on a quiet box.
			s.notes = append(s.notes, fmt.Sprintf("K=%d targets: RSS %.1f KB/sub = %s the baseline's %.1f (≤ 1.3×); CPU %s per delivery (≤ 1.3×); p99 %.0f ms = %s the baseline's %.0f (≤ 2×, < 50 ms on a quiet box); lost %d, dup %d.",
				k, g.rssPerSub(), ratio(g.rssPerSub(), b.rssPerSub()), b.rssPerSub(), ratio(g.cpuPer1000(), b.cpuPer1000()),
				g.rep.P99, ratio(g.rep.P99, b.rep.P99), b.rep.P99, g.rep.Lost, g.rep.Dup))
		}
	}
	for _, p := range profiles {
		fmt.Println(p)
	}
	e.publish(ctx, s)
	if failed {
		return errCheckFailed
	}
	return nil
}
