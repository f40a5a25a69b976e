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
func markInternal(ctx context.Context, next graphql.Resolver) (any, error) {
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
			if errors.Is(err, context.Canceled) {
				gerr.Message = "request cancelled"
			} else {
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

// recoverPanic turns a panicking resolver into an INTERNAL error, logged with
// its stack.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return internalError{fmt.Errorf("panic: %v", p)}
	}
}
