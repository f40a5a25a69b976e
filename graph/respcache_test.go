package graph

import (
	"context"
	"strings"
	"testing"
	"time"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
)

func TestPublicSelection(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	const no, stalls, queues = 0, 1, 2
	for _, tc := range []struct {
		query string
		want  int
	}{
		{`{ sellers(first: 10) { edges { cursor node { id name prefix open menu { id name priceCents available } } } pageInfo { hasNextPage endCursor } totalCount } }`, stalls},
		{`query($id: ID!) { seller(id: $id) { __typename name open paidUntil photoURL } }`, stalls},
		{`query($m: Boolean!) { sellers { edges { node { name menu @include(if: $m) { name } } } } }`, stalls},
		{`{ sellers { edges { node { ...S } } } } fragment S on Seller { name open }`, stalls},
		{`{ sellers { edges { node { ... on Seller { name } } } } }`, stalls},
		// The mini-program's stall list and the call board: queue fields.
		{`{ sellers { edges { node { name waitingCount lastCalled { id code } menu { name } } } } }`, queues},
		{`query($id: ID!) { seller(id: $id) { id name waitingCount lastCalled { code } } }`, queues},
		{`{ sellers { edges { node { ...S } } } } fragment S on Seller { lastCalled { number } }`, queues},
		// What differs by viewer or changes without an event: never.
		{`{ sellers { edges { node { lastCalled { code note } } } } }`, no},
		{`{ sellers { edges { node { lastCalled { code claimCode } } } } }`, no},
		{`{ sellers { edges { node { lastCalled { code status } } } } }`, no},
		{`{ sellers { edges { node { name averageWaitSeconds } } } }`, no},
		{`{ sellers { edges { node { name photoStatus } } } }`, no},
		{`{ me { id } }`, no},
		{`{ sellers { edges { node { name } } } me { id } }`, no},
	} {
		doc, err := gqlparser.LoadQueryWithRules(schema, tc.query, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		p, q := publicSelection(doc.Operations[0].SelectionSet, 0)
		got := no
		if p {
			got = stalls
			if q {
				got = queues
			}
		}
		if got != tc.want {
			t.Errorf("%s: %d, want %d (0 not cached, 1 cached, 2 cached as queues)", tc.query, got, tc.want)
		}
	}
}

// TestResponseCacheLifetime: an answer is kept until the first of ttl, the
// end of a shown stall's paid period (it then shows closed with no write to
// announce it) and a change to the stalls.
func TestResponseCacheLifetime(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	const q = `{ sellers { edges { node { name open } } } }`
	doc, err := gqlparser.LoadQueryWithRules(schema, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := start
	var v canteen.PublicVersions
	dayEnds := start.Add(time.Hour)
	c := newResponseCache(time.Minute, 1<<20, func() time.Time { return clock }, func() time.Time { return dayEnds },
		func() canteen.PublicVersions { return v })
	runs := 0
	read := func(paid ...time.Time) {
		ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{RawQuery: q, Operation: doc.Operations[0]})
		ctx = context.WithValue(ctx, loadersKey{}, &loaders{})
		c.intercept(ctx, func(ctx context.Context) *graphql.Response {
			runs++
			ctx.Value(loadersKey{}).(*loaders).paid = paid
			return &graphql.Response{Data: []byte(`{"sellers":{"edges":[]}}`)}
		})
	}
	for _, step := range []struct {
		name    string
		advance time.Duration
		publish bool
		runs    int
	}{
		{"first read", 0, false, 1},
		{"repeated", 10 * time.Second, false, 1},
		{"a paid period ended", 20 * time.Second, false, 2},
		{"within the new answer's ttl", 50 * time.Second, false, 2},
		{"past ttl", 11 * time.Second, false, 3},
		{"after a public change", 0, true, 4},
		{"repeated after the change", time.Second, false, 4},
	} {
		clock = clock.Add(step.advance)
		if step.publish {
			v.Stalls++
		}
		// The first answer shows a stall paid until start+30s (and one whose
		// period already ended, which bounds nothing); later ones none.
		read(start.Add(30*time.Second), start.Add(-time.Hour))
		if runs != step.runs {
			t.Fatalf("%s: %d runs, want %d", step.name, runs, step.runs)
		}
	}
}

// TestResponseCacheQueues: a ticket or call change drops the answers with
// queue fields and keeps the others; those also end with the business day.
func TestResponseCacheQueues(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock, dayEnds := start, start.Add(30*time.Second)
	var v canteen.PublicVersions
	c := newResponseCache(time.Minute, 1<<20, func() time.Time { return clock }, func() time.Time { return dayEnds },
		func() canteen.PublicVersions { return v })
	runs := map[string]int{}
	read := func(q string) {
		doc, err := gqlparser.LoadQueryWithRules(schema, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{RawQuery: q, Operation: doc.Operations[0]})
		c.intercept(ctx, func(context.Context) *graphql.Response {
			runs[q]++
			return &graphql.Response{Data: []byte(`{}`)}
		})
	}
	const menus, waiting = `{ sellers { edges { node { name menu { name } } } } }`, `{ sellers { edges { node { name waitingCount } } } }`
	for _, step := range []struct {
		name            string
		advance         time.Duration
		stalls, tickets uint64 // changes
		menus, waiting  int
	}{
		{"first reads", 0, 0, 0, 1, 1},
		{"repeated", time.Second, 0, 0, 1, 1},
		{"after a fetch", 0, 0, 1, 1, 2},
		{"repeated after it", time.Second, 0, 0, 1, 2},
		{"after setOpen", 0, 1, 0, 2, 3},
		{"the business day ended", 30 * time.Second, 0, 0, 2, 4},
	} {
		clock = clock.Add(step.advance)
		v.Stalls += step.stalls
		v.Queues += step.tickets
		read(menus)
		read(waiting)
		if runs[menus] != step.menus || runs[waiting] != step.waiting {
			t.Fatalf("%s: ran %d and %d times, want %d and %d", step.name, runs[menus], runs[waiting], step.menus, step.waiting)
		}
		if step.name == "the business day ended" {
			dayEnds = dayEnds.Add(24 * time.Hour)
		}
	}
}

// TestResponseCacheChangeDuringRead: an answer read while a write committed
// may predate it, and is not kept.
func TestResponseCacheChangeDuringRead(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	const q = `{ sellers { edges { node { name open } } } }`
	doc, err := gqlparser.LoadQueryWithRules(schema, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var v canteen.PublicVersions
	c := newResponseCache(time.Minute, 1<<20, func() time.Time { return now }, func() time.Time { return now.Add(time.Hour) },
		func() canteen.PublicVersions { return v })
	runs := 0
	read := func(during func()) {
		ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{RawQuery: q, Operation: doc.Operations[0]})
		c.intercept(ctx, func(context.Context) *graphql.Response {
			runs++
			during()
			return &graphql.Response{Data: []byte(`{}`)}
		})
	}
	read(func() { v.Stalls++ }) // setOpen commits while the list is read
	read(func() {})
	read(func() {})
	if runs != 2 {
		t.Fatalf("%d runs, want 2: the answer read during the change must not be kept, the next one must", runs)
	}
}

// TestResponseCacheBytes: the cache holds at most maxBytes, making room by
// dropping the oldest entries, keeps no answer larger than that, and frees
// entries once they are stale (on sight) or expired (by the sweep), without
// waiting to be full.
func TestResponseCacheBytes(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	doc, err := gqlparser.LoadQueryWithRules(schema, `{ sellers { edges { node { name } } } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var v canteen.PublicVersions
	answer := `{"sellers":{"edges":[{"node":{"name":"` + strings.Repeat("面", 30) + `"}}]}}`
	size := len(answer) + entryOverhead
	c := newResponseCache(time.Minute, 3*size, func() time.Time { return clock }, func() time.Time { return clock.Add(time.Hour) },
		func() canteen.PublicVersions { return v })
	// read runs the document named key (its text is in the cache key) and
	// reports whether it ran rather than came from the cache.
	read := func(key, data string) (ran bool) {
		ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{RawQuery: key, Operation: doc.Operations[0]})
		c.intercept(ctx, func(context.Context) *graphql.Response {
			ran = true
			return &graphql.Response{Data: []byte(data)}
		})
		return ran
	}
	check := func(step string, held ...string) {
		t.Helper()
		if c.bytes != len(held)*size || len(c.m) != len(held) || c.order.Len() != len(held) {
			t.Fatalf("%s: %d bytes in %d entries (%d listed), want %d in %d", step, c.bytes, len(c.m), c.order.Len(), len(held)*size, len(held))
		}
		for _, k := range held {
			if read(k, answer) {
				t.Fatalf("%s: %s is not cached", step, k)
			}
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		read(k, answer)
	}
	check("full", "a", "b", "c")
	read("d", answer)
	check("d displaced the oldest", "b", "c", "d")
	if !read("a", answer) {
		t.Fatal("a still cached")
	}
	check("a displaced b", "c", "d", "a")
	big := `{"sellers":"` + strings.Repeat("x", 3*size) + `"}`
	if read("big", big); !read("big", big) {
		t.Fatal("an answer larger than the cache was kept")
	}
	check("the large answer displaced nothing", "c", "d", "a")
	v.Stalls++
	for _, k := range []string{"c", "d", "a"} {
		if !read(k, answer) {
			t.Fatalf("%s served after a change", k)
		}
	}
	check("stale entries replaced, not added", "c", "d", "a")
	clock = clock.Add(time.Minute)
	read("e", answer)
	check("the sweep dropped the expired entries", "e")
}
