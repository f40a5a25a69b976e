package graph

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"callme/internal/canteen"
	"callme/internal/ratelimit"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits bound what one request or one client may ask of the server.
type Limits struct {
	MaxDepth           int // selection depth (default 12)
	MaxComplexity      int // points of work per operation, see cost.go (default 40000)
	MaxTokens          int // parser tokens per document (default 15000)
	MaxFields          int // fields of an operation, fragments expanded (default 2000)
	MaxRootFields      int // root fields of an operation (default 20)
	MaxFragmentSpreads int // fragment spreads in a document (default 100)
	MaxSubsPerSocket   int // subscriptions per WebSocket (default 20)
	MaxWSMessageBytes  int64
	RequestTimeout     time.Duration // per HTTP request (default 15s)
	InitTimeout        time.Duration // WebSocket connection_init wait (default 10s)
	// Logins and mutations are counted per root field: 20 aliased logins
	// are 20 logins.
	IPLoginsPerSec    float64
	IPMutationsPerSec float64
	IPBurst           int
	// SessionMutsPerSec and SessionBurst apply per user: all sessions of one
	// user share them.
	SessionMutsPerSec float64
	SessionBurst      int
	// Budgets of points (cost.go) per second, per client address, per user
	// and per WebSocket, for queries, mutations and subscriptions alike.
	// A zero rate turns a budget off; the flags default to the Default*
	// constants, which SECURITY.md sizes.
	IPPointsPerSec     float64
	IPPointsBurst      int
	UserPointsPerSec   float64
	UserPointsBurst    int
	SocketPointsPerSec float64
	SocketPointsBurst  int
	TrustForwardedFor  bool // take the client address from X-Forwarded-For (behind a proxy)
	// Now is the budgets' clock (tests); nil is the real one.
	Now func() time.Time
	// WalkSteps, when set, counts the selections the document checks visit
	// (tests assert that work is bounded by the document's size).
	WalkSteps *atomic.Int64
}

// Default budgets, sized in SECURITY.md ("Budgets") for 5,000 students
// behind one NAT address at lunch.
const (
	DefaultIPPointsPerSec     = 400_000
	DefaultIPPointsBurst      = 1_000_000
	DefaultUserPointsPerSec   = 1_000
	DefaultUserPointsBurst    = 30_000
	DefaultSocketPointsPerSec = 100
	DefaultSocketPointsBurst  = 12_000
)

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxDepth, 12)
	def(&l.MaxComplexity, 40000)
	def(&l.MaxTokens, 15000)
	def(&l.MaxFields, 2000)
	def(&l.MaxRootFields, 20)
	def(&l.MaxFragmentSpreads, 100)
	def(&l.MaxSubsPerSocket, 20)
	def(&l.IPBurst, 200)
	def(&l.SessionBurst, 30)
	def(&l.IPPointsBurst, DefaultIPPointsBurst)
	def(&l.UserPointsBurst, DefaultUserPointsBurst)
	def(&l.SocketPointsBurst, DefaultSocketPointsBurst)
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

// rateLimits charges every operation to the budgets of its socket, its user
// and its client address, narrowest first, so a refused charge never
// spends a wider budget that others share. Mutations are also counted per
// root field against the login and mutation limits.
type rateLimits struct {
	ipLogin, ipMutation, userMutation  *ratelimit.Limiter
	ipPoints, userPoints, socketPoints *ratelimit.Limiter
}

func newRateLimits(l Limits) *rateLimits {
	return &rateLimits{
		ipLogin:      ratelimit.New(l.IPLoginsPerSec, l.IPBurst, l.Now),
		ipMutation:   ratelimit.New(l.IPMutationsPerSec, l.IPBurst, l.Now),
		userMutation: ratelimit.New(l.SessionMutsPerSec, l.SessionBurst, l.Now),
		ipPoints:     ratelimit.New(l.IPPointsPerSec, l.IPPointsBurst, l.Now),
		userPoints:   ratelimit.New(l.UserPointsPerSec, l.UserPointsBurst, l.Now),
		socketPoints: ratelimit.New(l.SocketPointsPerSec, l.SocketPointsBurst, l.Now),
	}
}

type charge struct {
	lim *ratelimit.Limiter
	key string
	n   int
}

func (rl *rateLimits) intercept(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return next(ctx)
	}
	cost := costOf(oc)
	ip := ratelimit.AddressKey(clientIPFrom(ctx))
	var charges []charge
	if sock := socketFrom(ctx); sock != "" {
		charges = append(charges, charge{rl.socketPoints, sock, cost.Points})
	}
	if a := canteen.ActorFrom(ctx); a != nil {
		user := string(a.UserID)
		charges = append(charges,
			charge{rl.userMutation, user, cost.Mutations + cost.Logins},
			charge{rl.userPoints, user, cost.Points})
	}
	charges = append(charges,
		charge{rl.ipLogin, ip, cost.Logins},
		charge{rl.ipMutation, ip, cost.Mutations},
		charge{rl.ipPoints, ip, cost.Points})
	for _, c := range charges {
		if ok, wait := c.lim.AllowN(c.key, c.n); !ok {
			secs := canteen.RetryAfterSeconds(wait)
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    fmt.Sprintf("too many requests; retry in %d s", secs),
				Extensions: map[string]any{"code": string(canteen.CodeRateLimited), "retryAfterSeconds": secs},
			}}})
		}
	}
	return next(ctx)
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
