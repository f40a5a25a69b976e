package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// gqlClient posts GraphQL requests to a callme.
type gqlClient struct {
	url string // http://host:port/query
	hc  *http.Client
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

func newGQL(base string, conns int) *gqlClient {
	return &gqlClient{url: base + "/query", hc: newHTTPClient(conns)}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlErrors []gqlError

func (e gqlErrors) Error() string {
	var parts []string
	for _, g := range e {
		parts = append(parts, fmt.Sprintf("%s (%v)", g.Message, g.Extensions["code"]))
	}
	return "graphql: " + strings.Join(parts, "; ")
}

// body is a request body for send: the operation marshalled once.
func body(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// send posts a marshalled operation and checks its answer as cheaply as the
// baselines' clients check theirs (status, and no "errors" key), so a load
// loop's own CPU, which shares the box with the server, is the same on both
// sides of a ratio. The full answer is checked once, before the load (do).
func (g *gqlClient) send(ctx context.Context, token string, body []byte) error {
	status, b, err := g.post(ctx, token, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
		return fmt.Errorf("HTTP %d: %.200s", status, b)
	}
	return nil
}

// post posts a request body as token's holder ("" for none) and reads the
// whole answer.
func (g *gqlClient) post(ctx context.Context, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", g.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

// do runs one operation; out receives data (may be nil). It returns the
// response body too, for comparisons.
func (g *gqlClient) do(ctx context.Context, token, query string, vars map[string]any, out any) ([]byte, error) {
	status, b, err := g.post(ctx, token, body(query, vars))
	if err != nil {
		return nil, err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors gqlErrors       `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return b, fmt.Errorf("HTTP %d: %.200s", status, b)
	}
	if len(r.Errors) > 0 {
		return b, r.Errors
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return b, err
		}
	}
	return b, nil
}

// stall is a seller set up for a scenario: its id, prefix and the token of
// its claimed seller account.
type stall struct {
	ID     string
	Name   string
	Prefix string
	Token  string
	UserID string
}

// prefixOf names stalls A..Z, AA..ZZ.
func prefixOf(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return string(rune('A'+(i/26-1)%26)) + string(rune('A'+i%26))
}

func (g *gqlClient) login(ctx context.Context, code string) (string, error) {
	var r struct {
		Login struct {
			Token string `json:"token"`
			User  struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"login"`
	}
	_, err := g.do(ctx, "", `mutation($c: String!) { login(input: {app: SELLER, code: $c}) { token user { id } } }`,
		map[string]any{"c": code}, &r)
	return r.Login.Token, err
}

// customer is a logged-in customer account.
type customer struct{ Token, UserID string }

// warmSessions sends one authenticated request per customer, as a phone's
// first screen does, so the server's session cache holds their sessions:
// otherwise the first point customers appear in measures a session lookup
// per fetch. Sessions stay cached for -session-cache (5 minutes), so call
// it right before the customers' points.
func (g *gqlClient) warmSessions(ctx context.Context, cs []customer) error {
	return eightAtATime(len(cs), func(i int) error {
		if _, err := g.do(ctx, cs[i].Token, `{ me { id } }`, nil, nil); err != nil {
			return fmt.Errorf("customer session: %w", err)
		}
		return nil
	})
}

// loginCustomers logs n customers in through the customer app.
func (g *gqlClient) loginCustomers(ctx context.Context, n int) ([]customer, error) {
	out := make([]customer, n)
	err := eightAtATime(n, func(i int) error {
		var lr struct {
			Login struct {
				Token string
				User  struct{ ID string }
			}
		}
		if _, err := g.do(ctx, "", `mutation($c: String!) { login(input: {app: CUSTOMER, code: $c}) { token user { id } } }`,
			map[string]any{"c": fmt.Sprintf("dev:bench-customer-%d", i)}, &lr); err != nil {
			return fmt.Errorf("customer login: %w", err)
		}
		out[i] = customer{Token: lr.Login.Token, UserID: lr.Login.User.ID}
		return nil
	})
	return out, err
}

// eightAtATime runs f(0) … f(n-1) on 8 goroutines and answers the first
// error; a goroutine stops at its first.
func eightAtATime(n int, f func(i int) error) error {
	errs := make(chan error, 8)
	var next atomic.Int64
	for range 8 {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					errs <- nil
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for range 8 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// setupStalls creates n paid, open stalls with their own seller accounts
// (maxNumber 9999, so no wrap during a run). Stalls from claimN on stay
// unclaimed and closed (listing only).
func (g *gqlClient) setupStalls(ctx context.Context, n, claimN int) ([]stall, string, error) {
	admin, err := g.login(ctx, "dev:admin")
	if err != nil {
		return nil, "", fmt.Errorf("admin login: %w", err)
	}
	out := make([]stall, n)
	for i := range out {
		st := &out[i]
		st.Prefix = prefixOf(i)
		st.Name = fmt.Sprintf("Bench stall %s", st.Prefix)
		var cr struct {
			CreateSeller struct {
				Seller     struct{ ID string }
				InviteCode string
			}
		}
		_, err := g.do(ctx, admin, `mutation($n: String!, $p: String!) { createSeller(input: {name: $n, prefix: $p, maxNumber: 9999, paidUntil: "2030-01-01T00:00:00Z"}) { seller { id } inviteCode } }`,
			map[string]any{"n": st.Name, "p": st.Prefix}, &cr)
		if err != nil {
			return nil, "", fmt.Errorf("createSeller: %w", err)
		}
		st.ID = cr.CreateSeller.Seller.ID
		if i >= claimN {
			continue
		}
		var lr struct {
			Login struct {
				Token string
				User  struct{ ID string }
			}
		}
		if _, err := g.do(ctx, "", `mutation($c: String!) { login(input: {app: SELLER, code: $c}) { token user { id } } }`,
			map[string]any{"c": "dev:bench-seller-" + st.Prefix}, &lr); err != nil {
			return nil, "", fmt.Errorf("seller login: %w", err)
		}
		st.Token, st.UserID = lr.Login.Token, lr.Login.User.ID
		if _, err := g.do(ctx, st.Token, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`,
			map[string]any{"c": cr.CreateSeller.InviteCode}, nil); err != nil {
			return nil, "", fmt.Errorf("claimSeller: %w", err)
		}
		if _, err := g.do(ctx, st.Token, `mutation($s: ID!) { setOpen(sellerId: $s, open: true) { id } }`,
			map[string]any{"s": st.ID}, nil); err != nil {
			return nil, "", fmt.Errorf("setOpen: %w", err)
		}
	}
	return out, admin, nil
}

const fetchMutation = `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id number code } }`
const callNextMutation = `mutation($s: ID!) { callNext(sellerId: $s) { id code } }`

// issueTickets fetches n tickets at each stall (as its seller). The first
// fetch of each stall runs alone: many first fetches of the day at once
// deadlock on the day counters' gap locks and may exhaust callme's retries
// (see BENCHMARKS.md), which is not what a set-up should measure.
func (g *gqlClient) issueTickets(ctx context.Context, stalls []stall, n int) error {
	if n == 0 {
		return nil
	}
	for _, st := range stalls {
		if _, err := g.do(ctx, st.Token, fetchMutation, map[string]any{"s": st.ID}, nil); err != nil {
			return fmt.Errorf("fetch at %s: %w", st.Prefix, err)
		}
	}
	n--
	errc := make(chan error, len(stalls))
	for _, st := range stalls {
		go func() {
			for range n {
				if _, err := g.do(ctx, st.Token, fetchMutation, map[string]any{"s": st.ID}, nil); err != nil {
					errc <- fmt.Errorf("fetch at %s: %w", st.Prefix, err)
					return
				}
			}
			errc <- nil
		}()
	}
	var first error
	for range stalls {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
