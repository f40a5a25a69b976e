package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"callme/internal/store/storetest"
)

// TestPlannedAnswersSurviveBufferReuse: a planned answer is written from a
// pooled buffer that the next request reuses (graph.answerLoan). Many
// clients at once asking different documents, whose answers differ in
// length and hold CJK text, must each get exactly gqlgen's answer: a buffer
// handed back while its answer was still being written, or kept by the
// public response cache without a copy, shows up here as a mixed-up answer.
func TestPlannedAnswersSurviveBufferReuse(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		clock := newWalkClock()
		dsn := e.DSN(t)
		shared := storetest.Engine{Name: e.Name, DSN: func(testing.TB) string { return dsn }}
		settings := func(plans bool, cache time.Duration) func(*config) {
			return func(c *config) {
				c.now, c.RecallGap, c.MaxActiveTickets, c.PublicCache, c.QueryPlans = clock.now, 0, 1000, cache, plans
			}
		}
		planned := startServer(t, shared, noRateLimits, settings(true, 0))
		w := newWalkWorld(t, planned, clock)
		cached := startServer(t, shared, noRateLimits, settings(true, time.Hour))
		gq := startServer(t, shared, noRateLimits, settings(false, 0))

		const (
			sellers = `query($n: Int) { sellers(first: $n) { edges { node { id name prefix open pickupNote menu { id name priceCents available } } } } }`
			queue   = `query($s: ID!) { queue(sellerId: $s) { id number code status note createdAt seller { id name prefix } } }`
			mine    = `{ myTickets { id number status note createdAt seller { name } } }`
			seller  = `query($s: ID!) { seller(id: $s) { id name personName pickupNote menu { name } } }`
		)
		type ask struct {
			token, doc string
			vars       map[string]any
		}
		asks := []ask{
			{"", sellers, map[string]any{"n": 1}},
			{"", sellers, map[string]any{"n": 2}},
			{"", sellers, map[string]any{"n": 50}},
			{"", seller, map[string]any{"s": w.stallA}},
			{w.tokens["otherCustomer"], sellers, map[string]any{"n": 3}},
			{w.tokens["seller"], queue, map[string]any{"s": w.stallA}},
			{w.tokens["owner"], mine, nil},
			{w.tokens["admin"], sellers, map[string]any{"n": 50}},
		}
		post := func(s *testServer, a ask) ([]byte, error) {
			res, err := http.DefaultClient.Do(s.request(a.token, map[string]any{"query": a.doc, "variables": a.vars}))
			if err != nil {
				return nil, err
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err == nil && res.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d: %s", res.StatusCode, body)
			}
			return body, err
		}
		want := make([][]byte, len(asks))
		for i, a := range asks {
			b, err := post(gq, a)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(`"errors"`)) || !bytes.Contains(b, []byte(`"data":{`)) {
				t.Fatalf("ask %d: %s", i, b)
			}
			want[i] = b
		}
		if !bytes.Contains(want[2], []byte("兰州拉面")) || !bytes.Contains(want[5], []byte("不要香菜")) {
			t.Fatalf("the answers lack the CJK text they are meant to carry:\n%s\n%s", want[2], want[5])
		}
		// An answer is still being written when another request runs
		// (here: inside the first one's Write, on the same goroutine, so the
		// pool hands the second the buffer the first gave back too early).
		for _, s := range []*testServer{planned, cached} {
			first, second := asks[1], asks[3]
			var inner *httptest.ResponseRecorder
			outer := &nestingWriter{ResponseRecorder: httptest.NewRecorder(), during: func() {
				inner = httptest.NewRecorder()
				s.app.handler.ServeHTTP(inner, s.request(second.token, map[string]any{"query": second.doc, "variables": second.vars}))
			}}
			s.app.handler.ServeHTTP(outer, s.request(first.token, map[string]any{"query": first.doc, "variables": first.vars}))
			if got := outer.Body.Bytes(); !bytes.Equal(got, want[1]) {
				t.Errorf("%s: an answer written while another ran:\ngot:  %s\nwant: %s", s.URL, got, want[1])
			}
			if got := inner.Body.Bytes(); !bytes.Equal(got, want[3]) {
				t.Errorf("%s: the answer run inside another's write:\ngot:  %s\nwant: %s", s.URL, got, want[3])
			}
		}

		planned0 := planCount(t, planned, "planned")

		const clients, rounds = 16, 30
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for c := range clients {
			wg.Go(func() {
				for r := range rounds {
					i := (c + r) % len(asks)
					for _, s := range []*testServer{planned, cached} {
						got, err := post(s, asks[i])
						if err == nil && !bytes.Equal(got, want[i]) {
							err = fmt.Errorf("ask %d from %s:\ngot:  %s\nwant: %s", i, s.URL, got, want[i])
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := planCount(t, planned, "planned") - planned0; n < clients*rounds {
			t.Errorf("%d of %d reads were planned: the buffers under test were not used", n, clients*rounds)
		}
	})
}

// nestingWriter runs during before its first Write goes through.
type nestingWriter struct {
	*httptest.ResponseRecorder
	during func()
}

func (w *nestingWriter) Write(p []byte) (int, error) {
	if f := w.during; f != nil {
		w.during = nil
		f()
	}
	return w.ResponseRecorder.Write(p)
}
