package graph

import (
	"context"
	"sync/atomic"
	"time"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// Metrics records GraphQL traffic for Prometheus. Label values are bounded:
// operations are named by their root field from the schema (never by the
// client's operation name), outcomes by the contract's error codes.
type Metrics struct {
	ops      *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	wsConns  prometheus.Gauge
	subs     prometheus.Gauge
	known    map[string]bool
	outcomes map[string]bool
	plans    *planStats
}

// NewMetrics registers callme's GraphQL metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callme_graphql_operations_total",
			Help: "GraphQL queries and mutations by root field and outcome (ok or error code).",
		}, []string{"operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callme_graphql_operation_seconds",
			Help:    "Time to answer GraphQL queries and mutations, by root field.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		wsConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callme_websocket_connections", Help: "Open GraphQL WebSocket connections.",
		}),
		subs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callme_subscriptions_active", Help: "Active GraphQL subscriptions.",
		}),
		known:    map[string]bool{},
		outcomes: map[string]bool{"ok": true, "GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true},
	}
	for _, c := range []canteen.Code{canteen.CodeUnauthenticated, canteen.CodeForbidden, canteen.CodeBadUserInput,
		canteen.CodeNotFound, canteen.CodeSellerClosed, canteen.CodeSellerInactive, canteen.CodeNumbersExhausted,
		canteen.CodeTicketTaken, canteen.CodeInvalidTransition, canteen.CodeRateLimited, canteen.CodeWeChatUnavailable,
		canteen.CodeInternal} {
		m.outcomes[string(c)] = true
	}
	schema := NewExecutableSchema(Config{}).Schema()
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation} {
		for _, f := range root.Fields {
			m.known[f.Name] = true
		}
	}
	m.plans = &planStats{}
	for outcome, n := range map[string]*atomic.Uint64{"planned": &m.plans.Planned, "fallback": &m.plans.Fallback, "unplanned": &m.plans.Unplanned} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "callme_query_plans_total",
			Help:        "Queries by how they ran: planned (by a compiled plan), fallback (the plan met an error or null and gqlgen ran it again), unplanned (gqlgen only).",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(n.Load()) }))
	}
	reg.MustRegister(m.ops, m.latency, m.wsConns, m.subs)
	return m
}

// metricsExtension times every query and mutation response.
type metricsExtension struct{ m *Metrics }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = metricsExtension{}

func (metricsExtension) ExtensionName() string                   { return "Metrics" }
func (metricsExtension) Validate(graphql.ExecutableSchema) error { return nil }

func (e metricsExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		return resp // one per event; counted as subscriptions instead
	}
	op := "other"
	if oc.Operation != nil && len(oc.Operation.SelectionSet) > 0 {
		if f, ok := oc.Operation.SelectionSet[0].(*ast.Field); ok && e.m.known[f.Name] {
			op = f.Name
		}
	}
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "other"
		if c, ok := resp.Errors[0].Extensions["code"].(string); ok && e.m.outcomes[c] {
			outcome = c
		}
	}
	e.m.ops.WithLabelValues(op, outcome).Inc()
	e.m.latency.WithLabelValues(op).Observe(time.Since(oc.Stats.OperationStart).Seconds())
	return resp
}
