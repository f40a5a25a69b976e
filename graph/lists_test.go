package graph

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// resolveNow must keep ResolveConcurrently's contract, which the rest of
// the generated executor relies on: the value lands at its index, a panic
// is reported and reads null, and a null counts against the object only
// where the schema forbids it.
func TestResolveNowKeepsTheContract(t *testing.T) {
	value := graphql.MarshalString("v")
	for _, tc := range []struct {
		name        string
		nonNull     bool
		resolve     func(context.Context) graphql.Marshaler
		want        graphql.Marshaler
		invalids    uint32
		errContains string
	}{
		{"a value", true, func(context.Context) graphql.Marshaler { return value }, value, 0, ""},
		{"null where allowed", false, func(context.Context) graphql.Marshaler { return graphql.Null }, graphql.Null, 0, ""},
		{"null where forbidden", true, func(context.Context) graphql.Marshaler { return graphql.Null }, graphql.Null, 1, ""},
		{"a required null below", false, func(context.Context) graphql.Marshaler { return graphql.RequiredNull }, graphql.RequiredNull, 1, ""},
		{"a panic", true, func(context.Context) graphql.Marshaler { panic("boom") }, graphql.Null, 1, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oc := &graphql.OperationContext{
				RecoverFunc: func(_ context.Context, r any) error { return errors.New(r.(string)) },
			}
			ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil)
			ctx = graphql.WithOperationContext(ctx, oc)
			fields := []graphql.CollectedField{{Field: &ast.Field{Name: "a", Alias: "a"}}, {Field: &ast.Field{Name: "b", Alias: "b"}}}
			out := graphql.NewFieldSet(fields)
			deferred := graphql.NewDeferredGroup(ctx)
			resolveNow(ctx, out, fields[1], oc, &deferred, 1, true, tc.nonNull, tc.resolve)
			if got, want := marshalled(out.Values[1]), marshalled(tc.want); got != want {
				t.Errorf("value %s, want %s", got, want)
			}
			if out.Invalids != tc.invalids {
				t.Errorf("invalids %d, want %d", out.Invalids, tc.invalids)
			}
			errs := graphql.GetErrors(ctx)
			if got := gqlerror.List(errs).Error(); (tc.errContains == "") != (len(errs) == 0) || !strings.Contains(got, tc.errContains) {
				t.Errorf("errors %v, want one with %q", errs, tc.errContains)
			}
		})
	}
}

func marshalled(m graphql.Marshaler) string {
	var b strings.Builder
	m.MarshalGQL(&b)
	return b.String()
}
