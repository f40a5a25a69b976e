package graph

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"callme/internal/canteen"
	"callme/internal/pulid"
	"callme/internal/ratelimit"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits bound what one request or one client may ask of the server.
type Limits struct {
	MaxDepth          int // selection depth (default 12)
	MaxComplexity     int // gqlgen complexity, lists costed by their size (default 10000)
	MaxTokens         int // parser tokens per document (default 15000)
	MaxSubsPerSocket  int // subscriptions per WebSocket (default 20)
	MaxWSMessageBytes int64
	RequestTimeout    time.Duration // per HTTP request (default 15s)
	InitTimeout       time.Duration // WebSocket connection_init wait (default 10s)
	IPLoginsPerSec    float64
	IPMutationsPerSec float64
	IPBurst           int
	SessionMutsPerSec float64
	SessionBurst      int
	TrustForwardedFor bool // take the client address from X-Forwarded-For (behind a proxy)
}

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxDepth, 12)
	def(&l.MaxComplexity, 10000)
	def(&l.MaxTokens, 15000)
	def(&l.MaxSubsPerSocket, 20)
	def(&l.IPBurst, 200)
	def(&l.SessionBurst, 30)
	if l.MaxWSMessageBytes <= 0 {
		l.MaxWSMessageBytes = 64 << 10
	}
	if l.InitTimeout <= 0 {
		l.InitTimeout = 10 * time.Second
	}
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = 15 * time.Second
	}
}

// complexity costs list fields by the number of items they can return, so a
// wide query costs what it makes the database do.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Sellers = func(child int, first *int, _ *string, _ *bool) int {
		n := canteen.DefaultPageSize
		if first != nil && *first > 0 {
			n = *first
		}
		return 1 + n*child
	}
	c.Query.MyTickets = func(child int) int { return 1 + 10*child }
	c.Query.Queue = func(child int, _ pulid.ID) int { return 1 + 50*child }
	c.Seller.Menu = func(child int) int { return 1 + 10*child }
	return c
}

// depthLimit refuses documents nested deeper than max. Introspection is left
// out: GraphiQL's schema query is deep by nature, and production turns
// introspection off.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if got := depth(oc.Operation.SelectionSet, 0, map[string]bool{}); got > d.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("the query is %d levels deep; the limit is %d", got, d.max),
			Extensions: map[string]any{"code": string(canteen.CodeBadUserInput), "limit": d.max},
		}
	}
	return nil
}

func depth(set ast.SelectionSet, level int, inFragment map[string]bool) int {
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			d = depth(s.SelectionSet, level+1, inFragment)
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, level, inFragment)
		case *ast.FragmentSpread:
			if s.Definition == nil || inFragment[s.Name] {
				continue // cycles are a validation error already
			}
			inFragment[s.Name] = true
			d = depth(s.Definition.SelectionSet, level, inFragment)
			delete(inFragment, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// rateLimits throttles logins and mutations per client address and per
// session. Queries and subscriptions are not limited here: they cost little
// and subscriptions are capped per socket.
type rateLimits struct {
	ipLogin, ipMutation, session *ratelimit.Limiter
}

func newRateLimits(l Limits) *rateLimits {
	return &rateLimits{
		ipLogin:    ratelimit.New(l.IPLoginsPerSec, l.IPBurst, nil),
		ipMutation: ratelimit.New(l.IPMutationsPerSec, l.IPBurst, nil),
		session:    ratelimit.New(l.SessionMutsPerSec, l.SessionBurst, nil),
	}
}

func (rl *rateLimits) intercept(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return next(ctx)
	}
	ip := clientIPFrom(ctx)
	checks := []struct {
		lim *ratelimit.Limiter
		key string
	}{{rl.ipMutation, ip}}
	if onlyLogin(oc.Operation.SelectionSet) {
		checks[0].lim = rl.ipLogin
	}
	if a := canteen.ActorFrom(ctx); a != nil {
		checks = append(checks, struct {
			lim *ratelimit.Limiter
			key string
		}{rl.session, fmt.Sprint(a.SessionID)})
	}
	for _, c := range checks {
		if ok, wait := c.lim.Allow(c.key); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    fmt.Sprintf("too many requests; retry in %d s", secs),
				Extensions: map[string]any{"code": string(canteen.CodeRateLimited), "retryAfterSeconds": secs},
			}}})
		}
	}
	return next(ctx)
}

func onlyLogin(set ast.SelectionSet) bool {
	for _, sel := range set {
		if f, ok := sel.(*ast.Field); !ok || (f.Name != "login" && f.Name != "__typename") {
			return false
		}
	}
	return true
}

type clientIPKey struct{}

func clientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// clientIP is the caller's address: the TCP peer, or behind a trusted proxy
// the last address the proxy appended to X-Forwarded-For.
func clientIP(r *http.Request, trustForwarded bool) string {
	if trustForwarded {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
