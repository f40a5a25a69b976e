package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// internalError marks an error a resolver returned that is not a domain
// error: a bug or an infrastructure failure. Clients see only INTERNAL.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// markInternal is a field middleware: whatever a resolver returns that is not
// a *canteen.Error is internal. Errors that never reach a resolver (parse,
// validation, argument coercion) come from gqlgen and are the client's fault.
//
// Once the request's deadline has passed (or its client hung up), no more
// resolvers run: each field answers the context's error at once instead of
// starting work nobody will read.
func markInternal(ctx context.Context, next graphql.Resolver) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, internalError{err}
	}
	res, err := next(ctx)
	if err != nil {
		var de *canteen.Error
		var ie internalError
		if !errors.As(err, &de) && !errors.As(err, &ie) {
			err = internalError{err}
		}
	}
	return res, err
}

// presentErrors is the one place where errors become GraphQL errors: domain
// errors keep their code and message; internal ones are logged with detail
// and shown as INTERNAL with no detail at all.
func presentErrors(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var de *canteen.Error
		if errors.As(err, &de) {
			gerr.Message = de.Message
			gerr.Extensions = map[string]any{"code": string(de.Code)}
			for k, v := range de.Extensions {
				gerr.Extensions[k] = v
			}
			return gerr
		}
		var ie internalError
		if errors.As(err, &ie) {
			switch {
			case errors.Is(err, context.Canceled):
				gerr.Message = "request cancelled"
			case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
				// Every field still to run fails this way; logTimeouts
				// logs the request once.
				gerr.Message = "request timed out"
			default:
				log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", ie.err)
				gerr.Message = "internal error; it has been logged"
			}
			gerr.Extensions = map[string]any{"code": string(canteen.CodeInternal)}
			return gerr
		}
		// gqlgen's own errors: parse and validation failures carry a code,
		// and so do refused documents (package persisted:
		// PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_REQUIRED,
		// PERSISTED_QUERY_HASH_MISMATCH), which keep it; argument coercion
		// failures do not, and are bad input too, like a query over the
		// complexity limit.
		if gerr.Extensions["code"] == "COMPLEXITY_LIMIT_EXCEEDED" {
			gerr.Extensions["code"] = string(canteen.CodeBadUserInput)
		}
		if _, ok := gerr.Extensions["code"]; !ok {
			if gerr.Extensions == nil {
				gerr.Extensions = map[string]any{}
			}
			gerr.Extensions["code"] = string(canteen.CodeBadUserInput)
		}
		return gerr
	}
}

// logTimeouts logs once per response that its deadline passed, rather than
// once for each of its fields.
func logTimeouts(log *slog.Logger) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			name := ""
			if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil {
				name = oc.Operation.Name
			}
			n := 0
			if resp != nil {
				n = len(resp.Errors)
			}
			log.WarnContext(ctx, "request deadline exceeded", "operation", name, "errors", n)
		}
		return resp
	}
}

// recoverPanic turns a panicking resolver into an INTERNAL error, logged with
// its stack.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return internalError{fmt.Errorf("panic: %v", p)}
	}
}
