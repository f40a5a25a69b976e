package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"callme/ent"
	"callme/internal/pulid"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
)

// revResolver answers Query.notificationTemplates without a service.
type revResolver struct{ *Resolver }

func (r revResolver) Query() QueryResolver { return revQuery{&queryResolver{r.Resolver}} }

type revQuery struct{ *queryResolver }

func (revQuery) NotificationTemplates(context.Context) ([]string, error) { return []string{"t1"}, nil }

// TestPlanRunsFieldMiddlewareAroundResolvers: a field middleware
// (srv.AroundFields) runs around every resolver field of a planned query,
// as on gqlgen; here it refuses the field, and both answer the error. The
// plan had called the lifted resolver bodies directly (found by review).
func TestPlanRunsFieldMiddlewareAroundResolvers(t *testing.T) {
	gq, pl := answerBoth(func(srv *handler.Server) {
		srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
			if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Name == "notificationTemplates" {
				return nil, errors.New("refused by middleware")
			}
			return next(ctx)
		})
	})
	if gq != pl {
		t.Errorf("gqlgen: %s\nplanned: %s", gq, pl)
	}
}

// answerBoth answers `{ notificationTemplates }` on gqlgen and by plan, on
// a server that install sets up.
func answerBoth(install func(*handler.Server)) (gqlgen, planned string) {
	return answerBothOf(revResolver{&Resolver{}}, `{ notificationTemplates }`, install)
}

// answerBothOf answers query from res on gqlgen and by plan, on a server
// that install sets up.
func answerBothOf(res ResolverRoot, query string, install func(*handler.Server)) (gqlgen, planned string) {
	answer := func(plans bool) string {
		es := NewExecutableSchema(Config{Resolvers: res}).(*executableSchema)
		var exec graphql.ExecutableSchema = es
		if plans {
			exec = plannedSchema{executableSchema: es, plans: newPlanner(&planStats{})}
		}
		srv := handler.New(exec)
		srv.AddTransport(postTransport{})
		install(srv)
		rec := httptest.NewRecorder()
		body, _ := json.Marshal(map[string]string{"query": query})
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		srv.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	return answer(false), answer(true)
}

// TestWriteResponseRefusesWhatJSONRefuses: data json.Marshal refuses
// (gqlgen's writer then panics and the client gets no answer) is not
// written out as it is: compactAsIs had checked the shape, not the grammar
// (found by review). pulid.ID writes strconv.Quote, whose Go escapes
// (\x7f, \a, \U0001…) are not JSON.
func TestWriteResponseRefusesWhatJSONRefuses(t *testing.T) {
	var id bytes.Buffer
	pulid.ID("SL\x7f").MarshalGQL(&id)
	for _, data := range []string{
		`{"id":` + id.String() + `}`, // what writeID / pulid.ID write for an ID holding DEL
		`{"a":[}`,
		`{"a":tru}`,
		`{"a":1,}`,
	} {
		resp := &graphql.Response{Data: json.RawMessage(data)}
		_, merr := json.Marshal(resp)
		var got bytes.Buffer
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			writeResponse(&got, resp, nil)
			return false
		}()
		if merr != nil && !panicked {
			t.Errorf("data %s: json.Marshal fails (%v), writeResponse wrote %s", data, merr, got.Bytes())
		}
	}
}

// TestPlanKeepsRootFieldMiddlewareAnswer: a root field middleware
// (srv.AroundRootFields) may answer a root field itself; gqlgen writes what
// it returns, and a plan falls back to gqlgen. The plan had ignored it and
// written a key with no value (found by review).
func TestPlanKeepsRootFieldMiddlewareAnswer(t *testing.T) {
	gq, pl := answerBoth(func(srv *handler.Server) {
		srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
			return graphql.MarshalString("answered by middleware")
		})
	})
	if gq != pl {
		t.Errorf("gqlgen: %s\nplanned: %s (valid JSON: %v)", gq, pl, json.Valid([]byte(pl)))
	}
}

// TestPlanRootFieldMiddlewareCallingNextTwice: a root field middleware may
// resolve its field twice; gqlgen answers once. The plan had written the
// field's value twice, one after the other: not JSON, which writeResponse
// trusts a run of its own writers to write.
func TestPlanRootFieldMiddlewareCallingNextTwice(t *testing.T) {
	res := memResolver{Resolver: &Resolver{}, sellers: []*ent.Seller{{ID: "SL1", Name: "兰州拉面", Prefix: "A"}}}
	gq, pl := answerBothOf(res, `{ sellers { edges { node { id name } } } }`, func(srv *handler.Server) {
		srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
			next(ctx)
			return next(ctx)
		})
	})
	if gq != pl {
		t.Errorf("gqlgen: %s\nplanned: %s (valid JSON: %v)", gq, pl, json.Valid([]byte(pl)))
	}
}
