package main

import (
	"context"
	"sync"
	"time"
)

// loadResult is what a closed-loop load run measured.
type loadResult struct {
	ok       int // successful operations started in the measuring window
	errs     int // failed operations, warm-up included
	all      int // successful operations, warm-up included
	firstErr error
	lat      []time.Duration
	window   time.Duration
}

func (r loadResult) rate() float64 { return float64(r.ok) / r.window.Seconds() }

// runLoad runs op in a closed loop from clients goroutines for warm+dur and
// measures the operations started after the warm-up.
func runLoad(ctx context.Context, clients int, warm, dur time.Duration, op func(ctx context.Context, worker int) error) loadResult {
	start := time.Now()
	from, end := start.Add(warm), start.Add(warm+dur)
	type part struct {
		ok, errs, all int
		err           error
		lat           []time.Duration
	}
	parts := make([]part, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[w]
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := op(ctx, w)
				d := time.Since(t0)
				if err != nil {
					p.errs++
					if p.err == nil {
						p.err = err
					}
					continue
				}
				p.all++
				if t0.Before(from) {
					continue
				}
				p.ok++
				p.lat = append(p.lat, d)
			}
		}()
	}
	wg.Wait()
	r := loadResult{window: dur}
	for _, p := range parts {
		r.ok += p.ok
		r.errs += p.errs
		r.all += p.all
		r.lat = append(r.lat, p.lat...)
		if r.firstErr == nil {
			r.firstErr = p.err
		}
	}
	return r
}

// merge adds another run of the same operation.
func (r loadResult) merge(o loadResult) loadResult {
	r.ok += o.ok
	r.errs += o.errs
	r.all += o.all
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	r.lat = append(r.lat, o.lat...)
	r.window += o.window
	return r
}
