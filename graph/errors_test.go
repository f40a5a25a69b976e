package graph

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func TestPresentErrors(t *testing.T) {
	var logs bytes.Buffer
	present := presentErrors(slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil)
	for _, tc := range []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
		logged   bool
	}{
		{"domain error", canteen.Errorf(canteen.CodeTicketTaken, "number 7 is taken"), "TICKET_TAKEN", "number 7 is taken", false},
		{"wrapped domain error", errors.Join(errors.New("ctx"), canteen.Errorf(canteen.CodeNotFound, "no such seller")), "NOT_FOUND", "no such seller", false},
		{"internal", internalError{errors.New(`sql: SELECT * FROM sessions WHERE token_hash = "abc"`)}, "INTERNAL", "internal error; it has been logged", true},
		{"panic", recoverPanic(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, "boom at /root/x.go:12"), "INTERNAL", "internal error; it has been logged", true},
		{"coercion", &gqlerror.Error{Message: "time: cannot parse"}, "BAD_USER_INPUT", "time: cannot parse", false},
		{"complexity", &gqlerror.Error{Message: "too complex", Extensions: map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}}, "BAD_USER_INPUT", "too complex", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			got := present(ctx, tc.err)
			if got.Extensions["code"] != tc.wantCode || got.Message != tc.wantMsg {
				t.Fatalf("got %q %q, want %q %q", got.Extensions["code"], got.Message, tc.wantCode, tc.wantMsg)
			}
			if tc.logged != (logs.Len() > 0) {
				t.Fatalf("logged=%v, want %v: %s", logs.Len() > 0, tc.logged, logs.String())
			}
			if tc.logged && !strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("internal error not logged at ERROR: %s", logs.String())
			}
		})
	}
}

func TestMarkInternal(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{canteen.Errorf(canteen.CodeForbidden, "no"), false},
		{errors.New("driver: bad connection"), true},
		{context.DeadlineExceeded, true},
	} {
		_, err := markInternal(context.Background(), func(context.Context) (any, error) { return nil, tc.err })
		var ie internalError
		if errors.As(err, &ie) != tc.want {
			t.Errorf("%v: internal=%v, want %v", tc.err, !tc.want, tc.want)
		}
	}
}
