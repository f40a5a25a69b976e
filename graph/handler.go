package graph

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"callme/internal/canteen"

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
	Logger       *slog.Logger
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
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Svc: svc}}))
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: opts.AllowedOrigins},
		},
		// graphql-ws clients get "ka" messages; graphql-transport-ws clients
		// get pings and must pong within two intervals, so dead phones free
		// their subscriptions instead of lingering until TCP gives up.
		KeepAlivePingInterval: opts.KeepAlive,
		PingPongInterval:      opts.KeepAlive,
		InitTimeout:           10 * time.Second,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			token := p.GetString("authToken")
			if token == "" {
				token = bearer(p.Authorization())
			}
			if token == "" {
				return ctx, nil, nil // keep the actor of the upgrade request, if any
			}
			a, err := svc.Authenticate(ctx, token)
			if err != nil {
				return ctx, nil, err
			}
			return canteen.WithActor(ctx, a), nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.MaxBodyBytes, MaxMemory: opts.MaxBodyBytes})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.AroundFields(markInternal)
	srv.SetErrorPresenter(presentErrors(opts.Logger))
	srv.SetRecoverFunc(recoverPanic(opts.Logger))
	return authenticate(svc, limitBody(opts.MaxBodyBytes, httpSpec(srv)), opts.Logger)
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
func authenticate(svc *canteen.Service, next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := bearer(r.Header.Get("Authorization")); token != "" {
			a, err := svc.Authenticate(r.Context(), token)
			if err != nil {
				log.ErrorContext(r.Context(), "authenticating request", "err", err)
				http.Error(w, `{"errors":[{"message":"service unavailable","extensions":{"code":"INTERNAL"}}]}`, http.StatusServiceUnavailable)
				return
			}
			if a != nil {
				r = r.WithContext(canteen.WithActor(r.Context(), a))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody answers 413 for bodies over max instead of a vague parse error.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = w.Write([]byte(`{"errors":[{"message":"request body too large","extensions":{"code":"BAD_USER_INPUT"}}]}`))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}
