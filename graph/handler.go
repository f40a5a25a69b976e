package graph

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"callme/graph/persisted"
	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
)

// Options configure the GraphQL endpoint.
type Options struct {
	Introspection bool
	// AllowedOrigins are extra browser origins (host patterns, e.g.
	// "board.example.edu") allowed to open WebSockets. Handshakes without an
	// Origin (mini-programs) and from the server's own origin always work.
	AllowedOrigins []string
	// KeepAlive is the WebSocket ping interval; it keeps NATs and proxies
	// from closing idle sockets of phones waiting for a call.
	KeepAlive time.Duration
	// MaxBodyBytes limits POST bodies (413 beyond).
	MaxBodyBytes int64
	// Production turns off field suggestions in errors ("did you mean …"),
	// which would otherwise reveal the schema with introspection off.
	Production bool
	Limits     Limits
	// SocketLimits bound WebSockets and subscriptions per address and in all.
	SocketLimits SocketLimits
	// Metrics, when set, records operations, sockets and subscriptions.
	Metrics *Metrics
	// ShuttingDown reports that the server is stopping: sockets then close
	// with 1001 "going away" instead of 1000.
	ShuttingDown func() bool
	// Sockets, when set, counts open WebSockets.
	Sockets *Sockets
	Logger  *slog.Logger
	// Documents says which documents run (package persisted): Trusted runs
	// only the shipped ones for callers who are not admins; Any (also the
	// zero value) runs every document and registers hashes (APQ).
	Documents persisted.Mode
	// PublicCacheTTL, when positive, answers repeated public reads (stalls,
	// menus, queue lengths, for anonymous callers and customers) from memory
	// for up to this long; writes drop what they affect at once
	// (responseCache).
	PublicCacheTTL time.Duration
	// NoQueryPlans runs every query on gqlgen's executor instead of by plan
	// (plan.go); for comparing the two.
	NoQueryPlans bool
}

// NewHandler returns the /query endpoint: GraphQL over HTTP (GET, POST,
// multipart uploads) and WebSocket subscriptions (graphql-transport-ws and
// the legacy graphql-ws), with the caller resolved from the bearer token.
func NewHandler(svc *canteen.Service, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	opts.Limits.setDefaults()
	lim := opts.Limits
	counts := newSocketCounts(opts.SocketLimits, lim.TrustForwardedFor)
	present := presentErrors(opts.Logger)
	var es graphql.ExecutableSchema = NewExecutableSchema(Config{Resolvers: newResolverRoot(&Resolver{Svc: svc})})
	if !opts.NoQueryPlans {
		stats := &planStats{}
		if opts.Metrics != nil {
			stats = opts.Metrics.plans
		}
		es = plannedSchema{executableSchema: es.(*executableSchema), plans: newPlanner(stats)}
	}
	srv := handler.New(es)
	srv.AddTransport(wsTransport{
		accept:      websocket.AcceptOptions{OriginPatterns: opts.AllowedOrigins},
		keepAlive:   opts.KeepAlive,
		initTimeout: lim.InitTimeout,
		readLimit:   lim.MaxWSMessageBytes,
		maxSubs:     lim.MaxSubsPerSocket,
		counts:      counts,
		metrics:     opts.Metrics,
		// on shutdown, sockets close with 1001 so clients reconnect at once
		shuttingDown: opts.ShuttingDown,
		sockets:      opts.Sockets,
		execs:        newFeedExecs(),
		log:          opts.Logger,
		present:      present,
		initFunc: func(ctx context.Context, p map[string]any) (context.Context, error) {
			ctx = onSocket(ctx)
			token, _ := p["authToken"].(string)
			if token == "" {
				auth, _ := p["Authorization"].(string)
				if auth == "" {
					auth, _ = p["authorization"].(string)
				}
				token = bearer(auth)
			}
			if token == "" {
				return ctx, nil // keep the token of the upgrade request, if any
			}
			a, err := svc.Authenticate(ctx, token)
			if err != nil {
				return ctx, err
			}
			if a == nil {
				token = "" // unknown or expired: anonymous for good
			}
			return withToken(ctx, token), nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.MaxBodyBytes, MaxMemory: opts.MaxBodyBytes})
	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	srv.SetParserTokenLimit(lim.MaxTokens)
	srv.SetDisableSuggestion(opts.Production)
	srv.Use(costCheck{lim: lim, steps: lim.WalkSteps})
	srv.AroundOperations(socketSessions(svc, opts.Logger)) // before anything that reads the caller
	srv.AroundOperations(newRateLimits(lim).intercept)
	srv.AroundResponses(withLoaders(svc))
	srv.Use(trustedDocuments(svc, opts))
	srv.AroundResponses(logTimeouts(opts.Logger))
	// After anything that fills in the query (persisted documents), before
	// gqlgen parses and validates it.
	srv.Use(shapeCheck{lim: lim, cache: queries, steps: lim.WalkSteps})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	if opts.Metrics != nil {
		srv.Use(metricsExtension{opts.Metrics})
	}
	// The first response middleware is the outermost: here, the cache runs
	// inside withLoaders (it reads their paid periods) and the metrics (they
	// count its answers).
	if opts.PublicCacheTTL > 0 {
		srv.AroundResponses(newResponseCache(opts.PublicCacheTTL, publicCacheBytes, svc.Now, svc.DayEnds, svc.PublicVersions).intercept)
	}
	// Query plans (plan.go) run field middlewares around resolver fields
	// only, not around plain struct reads: one added here must not need to
	// see those.
	srv.AroundFields(markInternal)
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(recoverPanic(opts.Logger))
	return counts.guard(authenticate(svc, limitBody(opts.MaxBodyBytes, httpSpec(srv)), lim, opts.Logger))
}

// trustedDocuments resolves persisted-query hashes and, in Trusted mode,
// refuses documents the project does not ship, unless an admin sends them.
func trustedDocuments(svc *canteen.Service, opts Options) *persisted.Documents {
	manifest, err := persisted.Shipped()
	if err != nil {
		panic(err) // generated and tested: a broken build
	}
	mode := opts.Documents
	if mode == "" {
		mode = persisted.Any
	}
	return &persisted.Documents{
		Mode:     mode,
		Manifest: manifest,
		// Any mode: anyone may register documents, so the cache is bounded in
		// entries and in the size of what it keeps (at most 100 x 16 KiB).
		Registered:         lru.New[string](100),
		MaxRegisteredBytes: 16 << 10,
		MayRunAny: func(ctx context.Context) (bool, error) {
			// Parameters are read before socketSessions has resolved a
			// WebSocket operation's caller: resolve its token here (only for
			// documents outside the manifest).
			if isSocket(ctx) {
				token := tokenFrom(ctx)
				if token == "" {
					return false, nil
				}
				a, err := svc.Authenticate(ctx, token)
				return a != nil && a.Admin, err
			}
			a := canteen.ActorFrom(ctx)
			return a != nil && a.Admin, nil
		},
		Logger: opts.Logger,
	}
}

func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate puts the caller of a bearer token into the request context.
// Unknown or expired tokens make the request anonymous; operations that need
// a session then answer UNAUTHENTICATED, which tells the app to log in again.
// It also records the client address and bounds plain requests in time.
func authenticate(svc *canteen.Service, next http.Handler, lim Limits, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), clientIPKey{}, clientIP(r, lim.TrustForwardedFor))
		if r.Header.Get("Upgrade") == "" {
			// A hung database fails the request at its deadline instead of
			// holding the client (WebSockets live on; their work is per event).
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, lim.RequestTimeout)
			defer cancel()
		}
		r = r.WithContext(ctx)
		if token := bearer(r.Header.Get("Authorization")); token != "" {
			a, err := svc.Authenticate(r.Context(), token)
			if err != nil {
				log.ErrorContext(r.Context(), "authenticating request", "err", err)
				http.Error(w, `{"errors":[{"message":"service unavailable","extensions":{"code":"INTERNAL"}}]}`, http.StatusServiceUnavailable)
				return
			}
			if a != nil {
				r = r.WithContext(withToken(canteen.WithActor(r.Context(), a), token))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody answers 413 for bodies over max instead of a vague parse error.
// Bodies without a Content-Length are read up to the limit first, so a
// chunked upload cannot slip past it.
func limitBody(max int64, next http.Handler) http.Handler {
	tooLarge := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = w.Write([]byte(`{"errors":[{"message":"request body too large","extensions":{"code":"BAD_USER_INPUT"}}]}`))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			tooLarge(w)
			return
		}
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength < 0 {
			b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil {
				http.Error(w, "reading request body failed", http.StatusBadRequest)
				return
			}
			if int64(len(b)) > max {
				tooLarge(w)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
		} else if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}
