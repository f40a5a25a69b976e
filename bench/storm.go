package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// stormResult is one reconnect storm against one target.
type stormResult struct {
	mode      string
	n         int
	connected int
	stat      stormStat
	minSubs   float64 // server's subscriptions during the storm (min seen)
	cpu       float64 // server CPU seconds over the storm window + 5 s
	rep       clientReport
	calls     callResult
	expected  int64
}

// runStorm: every subscriber drops and reconnects within the window,
// resuming with after, while every stall keeps calling once per second.
func runStorm(ctx context.Context, e *env) error {
	window := e.o.duration
	if window == 0 {
		window = 10 * time.Second
	}
	n := e.o.stormSubs
	if n <= 0 {
		return fmt.Errorf("-storm-subscribers must be positive")
	}
	s := &section{
		key:   "storm",
		title: "storm: subscribers drop and reconnect, resuming with after",
		intro: fmt.Sprintf("%d subscribers over %d stalls; every stall calls once per second throughout (3 s before, during and 15 s after the storm). "+
			"In the storm each socket is dropped without a close handshake at a random moment within %s and reconnected at once, subscribing with `after` = the last seq it saw (the baseline hub replays from memory). "+
			"Reconnect: one socket's drop → subscribe sent again on a new socket (dial, upgrade, connection_init/ack). Re-subscribed: the subscribe message went out again; receiving: the first event (replayed or live) arrived on the new socket, both in seconds after the storm began (calls come every second, so add up to 1 s). "+
			"Lost/dup: every subscriber must hold each seq of its stall exactly once at the end. CPU: the server's over the storm window + 5 s.", n, e.o.sellers, window),
		header: []string{"server", "subscribers", "re-subscribed", "failed", "reconnect p50 ms", "reconnect p99 ms", "reconnect max ms", "last re-subscribe s", "all receiving s", "ratio", "≤ 15 s", "server CPU s", "CPU ratio", "replayed", "lost", "dup"},
	}
	g, err := e.stormRun(ctx, "gql", n, window)
	if err != nil {
		return fmt.Errorf("storm (callme): %w", err)
	}
	b, err := e.stormRun(ctx, "base", n, window)
	if err != nil {
		return fmt.Errorf("storm (baseline): %w", err)
	}
	failed := false
	for _, r := range []*stormResult{g, b} {
		name := map[string]string{"gql": "callme", "base": "baseline"}[r.mode]
		within := r.stat.Failed == 0 && r.stat.Receiving == r.n && r.stat.LastReceiving <= 15
		rr, cr := "–", "–"
		if r == g {
			rr, cr = ratio(g.stat.LastReceiving, b.stat.LastReceiving), ratio(g.cpu, b.cpu)
		}
		s.add(name, strconv.Itoa(r.n), strconv.Itoa(r.stat.Reconnected), strconv.Itoa(r.stat.Failed),
			fmt.Sprintf("%.1f", r.stat.ReconnectP50), fmt.Sprintf("%.1f", r.stat.ReconnectP99), fmt.Sprintf("%.0f", r.stat.ReconnectMax),
			fmt.Sprintf("%.1f", r.stat.LastSubscribe), fmt.Sprintf("%.1f", r.stat.LastReceiving), rr,
			map[bool]string{true: "yes", false: "**no**"}[within],
			fmt.Sprintf("%.1f", r.cpu), cr,
			strconv.FormatInt(r.rep.Replayed, 10), strconv.FormatInt(r.rep.Lost, 10), strconv.FormatInt(r.rep.Dup, 10))
		fmt.Printf("  %s: re-subscribed %d/%d (failed %d) by %.1fs, receiving %d by %.1fs; server subscriptions min %.0f; CPU %.1fs; replayed %d, lost %d, dup %d, out of order %d; deliveries %d/%d; calls %d ok/%d errors\n",
			name, r.stat.Reconnected, r.n, r.stat.Failed, r.stat.LastSubscribe, r.stat.Receiving, r.stat.LastReceiving,
			r.minSubs, r.cpu, r.rep.Replayed, r.rep.Lost, r.rep.Dup, r.rep.OutOfOrder, r.rep.Deliveries, r.expected, len(r.calls.lat), r.calls.errs)
		if !within || r.rep.Lost != 0 || r.rep.Dup != 0 || r.rep.Beyond != 0 || r.calls.errs != 0 || r.connected != r.n {
			failed = true
			msg := fmt.Sprintf("**check failed** (%s): connected %d/%d, re-subscribed %d, receiving %d by %.1fs, lost %d, dup %d, beyond %d, client errors %d %s, call errors %d %v",
				name, r.connected, r.n, r.stat.Reconnected, r.stat.Receiving, r.stat.LastReceiving, r.rep.Lost, r.rep.Dup, r.rep.Beyond,
				r.rep.Errors, strings.Join(r.rep.ErrorSample, "; "), r.calls.errs, r.calls.firstErr)
			fmt.Println("  " + msg)
			s.notes = append(s.notes, msg)
		}
	}
	s.notes = append(s.notes, fmt.Sprintf("callme's subscriptions gauge fell to %.0f during the storm (sockets are dropped and re-opened one by one, not all at once).", g.minSubs))
	e.publish(ctx, s)
	if failed {
		return errCheckFailed
	}
	return nil
}

func (e *env) stormRun(ctx context.Context, mode string, n int, window time.Duration) (*stormResult, error) {
	const before, after = 3 * time.Second, 15 * time.Second
	calls := int((before + window + after) / time.Second)
	t, err := e.startTarget(ctx, mode, calls+5, false)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	r := &stormResult{mode: mode, n: n, minSubs: -1}
	c, err := e.startClient(ctx, t, n)
	if err != nil {
		return nil, err
	}
	defer c.h.stop()
	var conn struct{ Connected int }
	if err := c.ask(ctx, clientCmd{Cmd: "connect"}, time.Duration(n/20)*time.Second+60*time.Second, &conn); err != nil {
		return nil, err
	}
	r.connected = conn.Connected
	fmt.Printf("  %s: %d/%d subscribers connected\n", mode, conn.Connected, n)
	waitFor(ctx, 60*time.Second, 250*time.Millisecond, func() bool {
		v, err := t.subs(ctx)
		return err == nil && v >= float64(conn.Connected)
	})
	time.Sleep(time.Second)

	done := make(chan callResult, 1)
	go func() { done <- runCalls(ctx, t, calls) }()
	time.Sleep(before)
	p0, err := readProc(t.pid)
	if err != nil {
		return nil, err
	}
	// Watch the server's subscriptions while the storm runs.
	stop := make(chan struct{})
	watched := make(chan float64, 1)
	go func() {
		low := -1.0
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				watched <- low
				return
			case <-tick.C:
				if v, err := t.subs(ctx); err == nil && (low < 0 || v < low) {
					low = v
				}
			}
		}
	}()
	stormAt := time.Now()
	if err := c.ask(ctx, clientCmd{Cmd: "storm", Secs: window.Seconds()}, window+90*time.Second, &r.stat); err != nil {
		close(stop)
		return nil, err
	}
	// Until everyone received again (calls keep coming every second), at most 15 s after the window.
	waitFor(ctx, time.Until(stormAt.Add(window+15*time.Second)), 250*time.Millisecond, func() bool {
		return c.ask(ctx, clientCmd{Cmd: "stormstat"}, 30*time.Second, &r.stat) == nil && r.stat.Receiving+r.stat.Failed >= n
	})
	time.Sleep(time.Until(stormAt.Add(window + 5*time.Second)))
	p1, err := readProc(t.pid)
	if err != nil {
		close(stop)
		return nil, err
	}
	r.cpu = p1.CPU - p0.CPU
	close(stop)
	r.minSubs = <-watched
	r.calls = <-done
	finals, err := t.finals(ctx)
	if err != nil {
		return nil, err
	}
	r.expected = c.expected(finals)
	waitFor(ctx, 20*time.Second, 100*time.Millisecond, func() bool {
		var cnt struct{ Received int64 }
		return c.ask(ctx, clientCmd{Cmd: "count"}, 30*time.Second, &cnt) == nil && cnt.Received >= r.expected
	})
	if err := c.ask(ctx, clientCmd{Cmd: "stormstat"}, 30*time.Second, &r.stat); err != nil {
		return nil, err
	}
	if err := c.ask(ctx, clientCmd{Cmd: "report", Final: finals}, 60*time.Second, &r.rep); err != nil {
		return nil, err
	}
	var closed struct{ Closed bool }
	_ = c.ask(ctx, clientCmd{Cmd: "close"}, 60*time.Second, &closed)
	return r, nil
}
