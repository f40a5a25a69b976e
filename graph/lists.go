package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSlice marshals the elements of a list one after the other, in the
// caller's goroutine. gqlgen's generated code calls
// graphql.MarshalSliceConcurrently, which starts a goroutine per element of
// every list of objects, whatever the fields need; go generate rewrites those
// calls to this function (graph/seqlists). Why: the goroutines, and growing
// each one's stack through gqlgen's recursion, were a third of the CPU of a
// page of 50 stalls with their menus (BENCHMARKS.md, query section), and the
// per-stall reads do not need them: the loaders fetch a whole page in one
// statement on the first Load, sequential or not. The price: a list field whose
// elements each do their own I/O (etaSeconds, averageWaitSeconds) now waits
// for them one after the other instead of side by side; those are the lists
// of a few tickets of one customer or explicitly asked per-stall statistics.
//
// Same contract as MarshalSliceConcurrently: every element is set; one whose
// marshalling panicked is reported and holds Null (recovered unless
// omitPanicHandler), so a non-null list is then nulled by the caller's check.
func marshalSlice(ctx context.Context, length int, _ int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}
