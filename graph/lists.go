package graph

import (
	"context"
	"sync/atomic"

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

// resolveNow resolves field i of out right away, in the caller's goroutine;
// go generate rewrites gqlgen's FieldSet.ResolveConcurrently calls to it
// (graph/seqlists). gqlgen schedules every field with a resolver for
// out.Dispatch, which runs one of them in place and starts a goroutine for
// each of the others: two per stall of a page (open, menu, photo fields),
// more for tickets. Like the list goroutines they cost more than the work
// (BENCHMARKS.md, query section), and what the resolvers read is batched by
// the per-response loaders whatever the order. A deferred field (@defer)
// keeps gqlgen's path. Same contract as ResolveConcurrently otherwise: a
// panic is reported and resolves to null (when recoverFromPanic), and a null
// where the schema forbids one counts against the object.
func resolveNow(ctx context.Context, out *graphql.FieldSet, field graphql.CollectedField,
	oc *graphql.OperationContext, deferred *graphql.DeferredGroup, i int,
	recoverFromPanic, nonNull bool, resolve func(ctx context.Context) graphql.Marshaler,
) {
	if field.IsDeferred() {
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	v := func() (res graphql.Marshaler) {
		if recoverFromPanic {
			defer func() {
				if r := recover(); r != nil {
					oc.Error(ctx, oc.Recover(ctx, r))
					res = graphql.Null
				}
			}()
		}
		return resolve(ctx)
	}()
	out.Values[i] = v
	invalid := graphql.RequiredNull
	if nonNull {
		invalid = graphql.Null
	}
	if v == invalid {
		atomic.AddUint32(&out.Invalids, 1)
	}
}
