package graph

import (
	"context"
	"testing"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
)

func TestPublicSelection(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{`{ sellers(first: 10) { edges { cursor node { id name prefix open menu { id name priceCents available } } } pageInfo { hasNextPage endCursor } totalCount } }`, true},
		{`query($id: ID!) { seller(id: $id) { __typename name open paidUntil photoURL } }`, true},
		{`query($m: Boolean!) { sellers { edges { node { name menu @include(if: $m) { name } } } } }`, true},
		{`{ sellers { edges { node { ...S } } } } fragment S on Seller { name open }`, true},
		{`{ sellers { edges { node { ... on Seller { name } } } } }`, true},
		// Per-ticket fields change with every fetch and call, which publish no
		// public event; viewer-dependent roots are not public at all.
		{`{ sellers { edges { node { name waitingCount } } } }`, false},
		{`{ sellers { edges { node { ...S } } } } fragment S on Seller { lastCalled { code } }`, false},
		{`{ sellers { edges { node { name averageWaitSeconds } } } }`, false},
		{`{ me { id } }`, false},
		{`{ sellers { edges { node { name } } } me { id } }`, false},
	} {
		doc, err := gqlparser.LoadQueryWithRules(schema, tc.query, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if got := publicSelection(doc.Operations[0].SelectionSet, 0); got != tc.want {
			t.Errorf("%s: cacheable %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestResponseCacheLifetime: an answer is kept until the first of ttl, the
// end of a shown stall's paid period (it then shows closed with no write to
// announce it) and a public change event.
func TestResponseCacheLifetime(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	const q = `{ sellers { edges { node { name open } } } }`
	doc, err := gqlparser.LoadQueryWithRules(schema, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := start
	broker := events.NewLocal(8)
	c := newResponseCache(time.Minute, 10, func() time.Time { return clock }, broker.Subscribe(canteen.PublicTopic))
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
			broker.Publish(events.Event{Topic: canteen.PublicTopic})
		}
		// The first answer shows a stall paid until start+30s (and one whose
		// period already ended, which bounds nothing); later ones none.
		read(start.Add(30*time.Second), start.Add(-time.Hour))
		if runs != step.runs {
			t.Fatalf("%s: %d runs, want %d", step.name, runs, step.runs)
		}
	}
}
