package graph

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"callme/internal/canteen"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// A document's cost is computed once, in time proportional to its text:
// every walk below visits each fragment definition once and remembers its
// result, instead of walking it again at every spread. A document of 26
// fragments that each spread the next one twice names 2^26 fields; walking
// spreads (as gqlgen's complexity and our old depth check did) took seconds
// of CPU for a 1 KB request.
//
// shapeCheck runs before gqlgen validates a document (validation rules such
// as OverlappingFieldsCanBeMerged compare fields pairwise) and refuses one
// with too many fragment spreads, too many fields once its fragments are
// expanded, or too many root fields. costCheck runs after validation, when
// fields know their definitions and variables are coerced: it bounds depth
// and cost and records the cost, which the budgets then charge.

// Points of work. A statement is a round trip to the database, a row is
// one record read (or written) and encoded. Scalars of a row already read
// cost nothing more.
const (
	costStatement = 10
	costRow       = 1
)

// Stated maximums of lists without a page size argument. They are what a
// list costs, whatever it returns.
const (
	// maxMenuItems is enforced by setMenu.
	maxMenuItems = 100
	// ticketsPerDay: a busy stall issues a few hundred numbers a day (a big
	// canteen needs about 1 ticket/s at peak across all its stalls).
	ticketsPerDay = 500
	// myTicketsPerDay: a customer's tickets of one day, finished ones too.
	myTicketsPerDay = 20
	// recentCalls: first calls of a stall in the 30-minute window that ETA
	// and average wait read.
	recentCalls = 50
	// statsDays is the longest range sellerStats accepts (62 days, inclusive).
	statsDays = 63
)

// fieldCost is a field's own work (own) and how many times its selection
// runs (items): the size of the list it returns, 1 otherwise.
type fieldCost func(args map[string]any) (own, items int)

func fixed(own int) fieldCost { return func(map[string]any) (int, int) { return own, 1 } }

// list costs a statement plus every row, and runs its selection per row.
func list(n int) fieldCost {
	return func(map[string]any) (int, int) { return costStatement + n*costRow, n }
}

// batched is a per-parent read that the response's loaders batch into one
// statement per kind: each parent pays its rows.
func batched(n int) fieldCost {
	return func(map[string]any) (int, int) { return n * costRow, n }
}

// costs lists every field that does more than read a column of a row
// already loaded. Unlisted fields cost nothing of their own.
var costs = map[string]fieldCost{
	"Query.me":                    fixed(costStatement),
	"Query.node":                  fixed(costStatement),
	"Query.seller":                fixed(costStatement),
	"Query.sellers":               func(a map[string]any) (int, int) { n := pageArg(a); return costStatement + n*costRow, n },
	"SellerConnection.totalCount": fixed(costStatement),
	"Query.auditLog":              func(a map[string]any) (int, int) { n := pageArg(a); return costStatement + n*costRow, n },
	"Query.myTickets":             list(myTicketsPerDay),
	"Query.queue":                 list(ticketsPerDay),
	"Query.sellerTickets":         list(ticketsPerDay),
	"Query.sellerStats": func(a map[string]any) (int, int) {
		d := statsRange(a)
		return 2*costStatement + d*ticketsPerDay*costRow, d
	},
	// A PNG drawn here or a mini-program code fetched from WeChat.
	"Query.sellerQRCode":        fixed(20 * costStatement),
	"Seller.menu":               batched(maxMenuItems),
	"Seller.waitingCount":       batched(1),
	"Seller.lastCalled":         batched(1),
	"Seller.averageWaitSeconds": fixed(costStatement + recentCalls*costRow),
	"Ticket.seller":             batched(1),
	"Ticket.position":           batched(1),
	"Ticket.etaSeconds":         fixed(2*costStatement + recentCalls*costRow),
	"User.seller":               fixed(costStatement),
	"User.roles":                fixed(costStatement),
	// Subscribing reads the current state and may replay today's calls.
	"Subscription.calledNumbers": fixed(costStatement + ticketsPerDay*costRow),
	"Subscription.ticketUpdated": fixed(2 * costStatement),
	// A tracked ticket reads its row, its stall, its place and the stall's
	// recent calls (for the ETA); subscribing reads them once more after
	// subscribing. Anonymous callers pay from their address's budget.
	"Query.trackedTicket":               fixed(4*costStatement + recentCalls*costRow),
	"Subscription.trackedTicketUpdated": fixed(5*costStatement + recentCalls*costRow),
	// A console's wait reads its challenge, and takes the session in a
	// transaction of a few statements.
	"Subscription.consoleLoginApproved": fixed(6 * costStatement),
	// A login may call WeChat's jscode2session; an upload decodes an image.
	"Mutation.login":             fixed(10 * costStatement),
	"Mutation.uploadSellerPhoto": fixed(50 * costStatement),
	"Mutation.setMenu":           fixed(costStatement + 2*maxMenuItems*costRow),
}

// mutationCost is the least a mutation field costs: a transaction of a few
// statements.
const mutationCost = 5 * costStatement

// operationCost is what any operation costs before its fields: the request,
// the session lookup, parsing.
const operationCost = costStatement

func pageArg(a map[string]any) int {
	n := canteen.DefaultPageSize
	if v, ok := intArg(a["first"]); ok && v >= 0 {
		n = min(v, canteen.MaxPageSize)
	}
	return n
}

func statsRange(a map[string]any) int {
	from, err1 := time.Parse("2006-01-02", fmt.Sprint(a["from"]))
	to, err2 := time.Parse("2006-01-02", fmt.Sprint(a["to"]))
	if err1 != nil || err2 != nil || to.Before(from) {
		return statsDays
	}
	return min(int(to.Sub(from).Hours()/24)+1, statsDays)
}

func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case int32:
		return int(n), true
	}
	return 0, false
}

// satAdd adds without overflowing: counts saturate at limit+1, enough to
// know a limit is passed.
func satAdd(a, b, limit int) int {
	if a > limit || b > limit || a+b > limit {
		return limit + 1
	}
	return a + b
}

func satMul(a, b, limit int) int {
	if a != 0 && b > limit/a {
		return limit + 1
	}
	return a * b
}

func limitError(msg string, limit int) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    msg,
		Extensions: map[string]any{"code": string(canteen.CodeBadUserInput), "limit": limit},
	}
}

// shapeCheck refuses documents whose expansion is too large before gqlgen
// parses and validates them. It parses the document itself (gqlgen parses
// it again; a document that passed is cached, and then neither happens).
type shapeCheck struct {
	lim   Limits
	cache graphql.Cache[*ast.QueryDocument]
	steps *atomic.Int64 // selections visited, for tests; may be nil
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = shapeCheck{}

func (shapeCheck) ExtensionName() string                   { return "ShapeCheck" }
func (shapeCheck) Validate(graphql.ExecutableSchema) error { return nil }

func (s shapeCheck) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	if _, ok := s.cache.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, s.lim.MaxTokens)
	if err != nil {
		return nil // gqlgen answers the parse error itself
	}
	return checkShape(doc, s.lim, s.steps)
}

// checkShape counts, in one pass over the document plus one per fragment
// definition, its fragment spreads and for every operation its fields with
// fragments expanded and its root fields.
func checkShape(doc *ast.QueryDocument, lim Limits, steps *atomic.Int64) *gqlerror.Error {
	w := shapeWalker{frags: map[string]*ast.FragmentDefinition{}, memo: map[string][2]int{}, limit: lim.MaxFields, steps: steps}
	for _, f := range doc.Fragments {
		w.frags[f.Name] = f
	}
	spreads := 0
	var countSpreads func(ast.SelectionSet)
	countSpreads = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				countSpreads(s.SelectionSet)
			case *ast.InlineFragment:
				countSpreads(s.SelectionSet)
			case *ast.FragmentSpread:
				spreads++
			}
		}
	}
	for _, op := range doc.Operations {
		countSpreads(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		countSpreads(f.SelectionSet)
	}
	if spreads > lim.MaxFragmentSpreads {
		return limitError(fmt.Sprintf("the document has %d fragment spreads; the limit is %d", spreads, lim.MaxFragmentSpreads), lim.MaxFragmentSpreads)
	}
	for _, op := range doc.Operations {
		fields, roots := w.count(op.SelectionSet)
		if fields > lim.MaxFields {
			return limitError(fmt.Sprintf("the operation selects more than %d fields once its fragments are expanded", lim.MaxFields), lim.MaxFields)
		}
		if roots > lim.MaxRootFields {
			return limitError(fmt.Sprintf("the operation has %d root fields; the limit is %d", roots, lim.MaxRootFields), lim.MaxRootFields)
		}
	}
	return nil
}

type shapeWalker struct {
	frags map[string]*ast.FragmentDefinition
	// memo holds each fragment's expanded field count and its top-level
	// field count; a fragment being counted is held as zero (a cycle, which
	// validation refuses).
	memo  map[string][2]int
	limit int
	steps *atomic.Int64
}

// count returns the fields of set with fragments expanded, and those at
// its top level.
func (w *shapeWalker) count(set ast.SelectionSet) (fields, top int) {
	for _, sel := range set {
		if w.steps != nil {
			w.steps.Add(1)
		}
		switch s := sel.(type) {
		case *ast.Field:
			f, _ := w.count(s.SelectionSet)
			fields = satAdd(fields, satAdd(1, f, w.limit), w.limit)
			top = satAdd(top, 1, w.limit)
		case *ast.InlineFragment:
			f, t := w.count(s.SelectionSet)
			fields, top = satAdd(fields, f, w.limit), satAdd(top, t, w.limit)
		case *ast.FragmentSpread:
			m, seen := w.memo[s.Name]
			if !seen {
				w.memo[s.Name] = [2]int{}
				if def := w.frags[s.Name]; def != nil {
					m[0], m[1] = w.count(def.SelectionSet)
				}
				w.memo[s.Name] = m
			}
			fields, top = satAdd(fields, m[0], w.limit), satAdd(top, m[1], w.limit)
		}
	}
	return fields, top
}

// costCheck bounds a validated operation's depth and cost, and records the
// cost for the budgets (costOf).
type costCheck struct {
	lim   Limits
	steps *atomic.Int64 // may be nil
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = costCheck{}

func (costCheck) ExtensionName() string                   { return "CostCheck" }
func (costCheck) Validate(graphql.ExecutableSchema) error { return nil }

const costExtension = "callme.cost"

// opCost is what the budgets charge for an operation.
type opCost struct {
	Points int
	// Mutations counts root mutation fields, Logins those that are login.
	Mutations, Logins int
}

// costOf returns the cost costCheck recorded for ctx's operation.
func costOf(oc *graphql.OperationContext) opCost {
	c, _ := oc.Stats.GetExtension(costExtension).(opCost)
	return c
}

func (c costCheck) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := costWalker{vars: oc.Variables, limit: c.lim.MaxComplexity, steps: c.steps,
		depth: map[string]int{}, cost: map[fragKey]int{}}
	if d := w.depthOf(oc.Operation.SelectionSet); d > c.lim.MaxDepth {
		return limitError(fmt.Sprintf("the query is %d levels deep; the limit is %d", d, c.lim.MaxDepth), c.lim.MaxDepth)
	}
	points := satAdd(operationCost, w.costOf(oc.Operation.SelectionSet, 0), c.lim.MaxComplexity)
	if points > c.lim.MaxComplexity {
		return limitError(fmt.Sprintf("the operation costs more than %d points", c.lim.MaxComplexity), c.lim.MaxComplexity)
	}
	oc.Stats.SetExtension(costExtension, opCost{Points: points})
	if oc.Operation.Operation == ast.Mutation {
		cost := opCost{Points: points}
		w.rootFields(oc.Operation.SelectionSet, func(f *ast.Field) {
			switch f.Name {
			case "__typename":
			case "login":
				cost.Logins++
			default:
				cost.Mutations++
			}
		})
		oc.Stats.SetExtension(costExtension, cost)
	}
	return nil
}

type fragKey struct {
	name  string
	edges int
}

type costWalker struct {
	vars  map[string]any
	limit int
	steps *atomic.Int64
	depth map[string]int
	cost  map[fragKey]int
}

func (w *costWalker) step() {
	if w.steps != nil {
		w.steps.Add(1)
	}
}

// depthOf is how deep set nests, introspection left out: GraphiQL's schema
// query is deep by nature (its size is bounded by shapeCheck).
func (w *costWalker) depthOf(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		w.step()
		switch s := sel.(type) {
		case *ast.Field:
			if !strings.HasPrefix(s.Name, "__") {
				deepest = max(deepest, 1+w.depthOf(s.SelectionSet))
			}
		case *ast.InlineFragment:
			deepest = max(deepest, w.depthOf(s.SelectionSet))
		case *ast.FragmentSpread:
			d, seen := w.depth[s.Name]
			if !seen && s.Definition != nil {
				w.depth[s.Name] = 0
				d = w.depthOf(s.Definition.SelectionSet)
				w.depth[s.Name] = d
			}
			deepest = max(deepest, d)
		}
	}
	return deepest
}

// costOf adds up the fields of set. edges is the page size when set
// selects from a connection: its edges run once per item.
func (w *costWalker) costOf(set ast.SelectionSet, edges int) int {
	total := 0
	for _, sel := range set {
		w.step()
		switch s := sel.(type) {
		case *ast.Field:
			total = satAdd(total, w.fieldCost(s, edges), w.limit)
		case *ast.InlineFragment:
			total = satAdd(total, w.costOf(s.SelectionSet, edges), w.limit)
		case *ast.FragmentSpread:
			k := fragKey{s.Name, edges}
			c, seen := w.cost[k]
			if !seen && s.Definition != nil {
				w.cost[k] = 0
				c = w.costOf(s.Definition.SelectionSet, edges)
				w.cost[k] = c
			}
			total = satAdd(total, c, w.limit)
		}
	}
	return total
}

func (w *costWalker) fieldCost(f *ast.Field, edges int) int {
	if strings.HasPrefix(f.Name, "__") || f.ObjectDefinition == nil {
		return 0 // introspection: off in production, bounded by shapeCheck
	}
	key := f.ObjectDefinition.Name + "." + f.Name
	own, items := 0, 1
	if fc := costs[key]; fc != nil {
		own, items = fc(f.ArgumentMap(w.vars))
	} else if f.ObjectDefinition.Name == "Mutation" {
		own = mutationCost
	}
	childEdges := 0
	if strings.HasSuffix(f.Definition.Type.Name(), "Connection") {
		childEdges, items = items, 1 // the connection's edges repeat, not its totals
	}
	if f.Name == "edges" && edges > 0 {
		items = edges
	}
	return satAdd(own, satMul(items, w.costOf(f.SelectionSet, childEdges), w.limit), w.limit)
}

// rootFields calls fn for each root field of set, fragments expanded.
func (w *costWalker) rootFields(set ast.SelectionSet, fn func(*ast.Field)) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			fn(s)
		case *ast.InlineFragment:
			w.rootFields(s.SelectionSet, fn)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				w.rootFields(s.Definition.SelectionSet, fn)
			}
		}
	}
}
