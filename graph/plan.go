package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Query plans: a query document is turned once into a plan — its fields
// collected, each bound to its resolver and marshaller, the JSON keys
// written out — and every later request with the same document runs the
// plan instead of walking the selection per object. gqlgen spends most of
// an uncached public read on per-field work (a FieldContext, a context
// value, a middleware chain, a deferred group and a collected-field lookup
// per object and field: ~27,000 allocations for 50 stalls with their
// menus); a plan does none of it for fields that are plain struct reads and
// one FieldContext for those that call a resolver.
//
// A plan only ever produces what gqlgen would, because it covers the happy
// path only: the resolvers and marshallers it calls are gqlgen's own, lifted
// out of generated.go by graph/plangen; a document with a directive, an
// abstract type, introspection or a field not in that table gets no plan;
// and whenever a planned run meets anything else — a resolver error, a null
// where the schema forbids one, an error or extension recorded by a
// resolver, a panic, a value of an unexpected type — its output is thrown
// away and gqlgen runs the operation from the start. Only queries are
// planned: they may run twice, mutations and subscriptions may not.
// TestQueryPlansAnswerAsGqlgen compares the two byte for byte.
//
// Production runs only shipped documents (persisted), so the plans are few;
// in Any mode the cache is bounded.

// errPlanValue: a resolver got an object of a type it did not expect.
var errPlanValue = errors.New("query plan: unexpected value")

// planField is one field's resolver and marshaller (plan_gen.go).
type planField struct {
	resolve      func(ctx context.Context, ec *executionContext, obj any) (any, error)
	marshal      func(ctx context.Context, ec *executionContext, sel ast.SelectionSet, v any) graphql.Marshaler
	fieldContext func(ec *executionContext, ctx context.Context, f graphql.CollectedField) (*graphql.FieldContext, error)
	// plain: `return obj.X, nil`; it needs no FieldContext.
	plain bool
	// write, for plain fields of common scalar types, writes the value
	// as the marshaller would (false: obj is not of the field's type).
	write func(obj any, b *bytes.Buffer) bool
	// writeValue, for resolver fields of those types, writes the value the
	// resolver returned as the marshaller would (false: a value of another
	// type, or one the marshaller refuses).
	writeValue func(v any, b *bytes.Buffer) bool
}

// valueWriter makes a writeValue of a leaf writer.
func valueWriter[T any](write func(*bytes.Buffer, T) bool) func(any, *bytes.Buffer) bool {
	return func(v any, b *bytes.Buffer) bool {
		t, ok := v.(T)
		return ok && write(b, t)
	}
}

// maxPlans bounds the plan cache. A plan keeps its parsed document alive
// (its collected fields point into it); gqlgen's query cache keeps 1,000
// documents anyway, and in Trusted mode, production's, only the shipped
// documents run, so the plans are a few dozen. In Any mode a client that
// sends ever new documents makes the cache start over.
const maxPlans = 256

// planStats counts what happened to queries, for /metrics and tests.
type planStats struct {
	Planned, Fallback, Unplanned atomic.Uint64
}

// planner holds the plans of the documents seen, by operation.
type planner struct {
	mu    sync.Mutex
	plans map[*ast.OperationDefinition]*opPlan // nil: the operation cannot be planned
	stats *planStats
	bufs  answerPool
}

func newPlanner(stats *planStats) *planner {
	return &planner{plans: map[*ast.OperationDefinition]*opPlan{}, stats: stats}
}

type opPlan struct {
	root  *objPlan
	size  atomic.Int64 // the last answer's length, to size the next buffer
	slots int          // resolver fields, numbered by fieldPlan.slot
}

type objPlan struct {
	fields []fieldPlan
	ptr    func(any) (any, bool) // nil on Query
}

type fieldPlan struct {
	key      []byte // `"alias":`, after a comma unless first
	literal  []byte // __typename: the answer itself
	field    graphql.CollectedField
	def      planField
	nonNull  bool     // the field's own type
	list     bool     // a list of objects (one level)
	elemNull bool     // its elements may be null
	child    *objPlan // object fields; nil for leaves
	slot     int      // a resolver field's index in planRun.fields
	args     bool     // the field takes arguments
}

// number gives each resolver field of ob and below its slot.
func (pl *opPlan) number(ob *objPlan) {
	for i := range ob.fields {
		f := &ob.fields[i]
		if f.literal == nil && !f.def.plain {
			f.slot = pl.slots
			pl.slots++
		}
		if f.child != nil {
			pl.number(f.child)
		}
	}
}

// plan returns the operation's plan, compiling it the first time; nil when
// it cannot be planned.
func (p *planner) plan(oc *graphql.OperationContext) *opPlan {
	op := oc.Operation
	if op == nil || op.Operation != ast.Query || oc.Doc == nil {
		return nil
	}
	p.mu.Lock()
	pl, ok := p.plans[op]
	p.mu.Unlock()
	if ok {
		return pl
	}
	pl = compile(oc)
	p.mu.Lock()
	if len(p.plans) >= maxPlans {
		clear(p.plans) // documents come and go in Any mode only; start over
	}
	p.plans[op] = pl
	p.mu.Unlock()
	return pl
}

func compile(oc *graphql.OperationContext) *opPlan {
	if len(oc.Operation.Directives) > 0 || hasDirectives(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}) {
		return nil // @skip, @include, @defer: left to gqlgen
	}
	schema := parsedSchema
	root := compileObject(oc, schema, schema.Query, oc.Operation.SelectionSet, 0)
	if root == nil {
		return nil
	}
	roots := 0
	for _, f := range root.fields {
		if f.literal != nil {
			continue
		}
		if roots++; roots > 1 || !plannableRoots[f.field.Name] {
			return nil
		}
	}
	pl := &opPlan{root: root}
	pl.number(root)
	return pl
}

// plannableRoots are the root query fields a plan may run: reads of the
// database only, cheap enough that running one again after a fallback
// costs little. Documents with one of them and nothing else are planned
// (the hot ones: the stall list, a stall, a queue, my tickets, a tracked
// ticket); gqlgen resolves several root fields at once, a plan would one
// after the other. A root field not listed here — WeChat calls
// (sellerQRCode), aggregations (sellerStats), admin lists — stays with
// gqlgen, and so does every root field added later until it is listed.
var plannableRoots = map[string]bool{
	"me": true, "sellers": true, "seller": true, "myTickets": true, "queue": true,
	"sellerTickets": true, "trackedTicket": true, "notificationTemplates": true,
}

// hasDirectives reports a directive anywhere in sel or the fragments it
// spreads.
func hasDirectives(doc *ast.QueryDocument, sel ast.SelectionSet, seen map[string]bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if len(s.Directives) > 0 || hasDirectives(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if len(s.Directives) > 0 || hasDirectives(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if len(s.Directives) > 0 {
				return true
			}
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			f := doc.Fragments.ForName(s.Name)
			if f == nil || len(f.Directives) > 0 || hasDirectives(doc, f.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}

// maxPlanDepth bounds compilation; the shape checks bound documents far
// below it.
const maxPlanDepth = 32

func compileObject(oc *graphql.OperationContext, schema *ast.Schema, def *ast.Definition, sel ast.SelectionSet, depth int) *objPlan {
	if depth > maxPlanDepth || def == nil || def.Kind != ast.Object {
		return nil
	}
	satisfies := []string{def.Name}
	for _, d := range schema.GetImplements(def) {
		satisfies = append(satisfies, d.Name)
	}
	ob := &objPlan{}
	if def != schema.Query {
		ptr, ok := planObjects[def.Name]
		if !ok {
			return nil
		}
		ob.ptr = ptr
	}
	seen := map[string]bool{}
	for _, f := range graphql.CollectFields(oc, sel, satisfies) {
		if seen[f.Alias] {
			continue // gqlgen writes a response key once
		}
		seen[f.Alias] = true
		fp := fieldPlan{field: f, args: len(f.Arguments) > 0}
		var key bytes.Buffer
		if len(ob.fields) > 0 {
			key.WriteByte(',')
		}
		writeGQLString(&key, f.Alias)
		key.WriteByte(':')
		fp.key = key.Bytes()
		if f.Name == "__typename" {
			var lit bytes.Buffer
			writeGQLString(&lit, def.Name)
			fp.literal = lit.Bytes()
			ob.fields = append(ob.fields, fp)
			continue
		}
		if f.Definition == nil {
			return nil
		}
		pf, ok := planFields[def.Name+"."+f.Name]
		if !ok {
			return nil // introspection, or a field gqlgen runs through middleware
		}
		fp.def = pf
		t := f.Definition.Type
		fp.nonNull = t.NonNull
		named := schema.Types[t.Name()]
		if named == nil {
			return nil
		}
		switch named.Kind {
		case ast.Scalar, ast.Enum:
			// leaves, lists of leaves included: gqlgen's marshaller does it all
		case ast.Object:
			if t.Elem != nil {
				if t.Elem.Elem != nil {
					return nil // lists of lists
				}
				fp.list, fp.elemNull = true, !t.Elem.NonNull
			}
			if fp.child = compileObject(oc, schema, named, f.Selections, depth+1); fp.child == nil {
				return nil
			}
		default:
			return nil // interfaces and unions
		}
		ob.fields = append(ob.fields, fp)
	}
	return ob
}

// planWritten is what a planned root field returns through the root field
// middlewares: the value is already in the plan's buffer. (A pointer, so
// that it compares; graphql.WriterFunc values do not.)
var planWritten graphql.Marshaler = &writtenMarker{}

type writtenMarker struct{}

func (*writtenMarker) MarshalGQL(io.Writer) {}

// planRun is one execution of a plan.
type planRun struct {
	ec  *executionContext
	buf *bytes.Buffer
	// fields holds, per resolver field (fieldPlan.slot), the context of
	// its last call, which its next call reuses when it comes from the
	// same parent context: a field's siblings in a list (the menus of 50
	// stalls) share its FieldContext, as they share everything in it but
	// the Parent gqlgen sets and the Result it records, which a plan does
	// not (its paths have no list indices: errors go to gqlgen). Fields
	// with arguments get theirs anew each time.
	fields []fieldRun
	inline [8]fieldRun // fields, for plans with as few resolver fields
	next   graphql.Resolver
	cur    *fieldPlan // the field next resolves, on curObj
	curObj any
	// marshalled: a gqlgen marshaller wrote into buf, whose bytes may be
	// anything JSON allows (answerLoan.own).
	marshalled bool
}

type fieldRun struct{ parent, ctx context.Context }

// resolveCurrent is the resolver the field middlewares call: the current
// field's, on its object. One method value per run, where a closure per
// call would capture the field and the object.
func (r *planRun) resolveCurrent(ctx context.Context) (any, error) {
	f, obj := r.cur, r.curObj
	if f == nil {
		return nil, errPlanValue // a middleware called its next twice: gqlgen answers
	}
	r.cur, r.curObj = nil, nil
	return f.def.resolve(ctx, r.ec, obj)
}

// answerPrefix is what an answer with only data starts with on the wire
// (writeResponse); a run with a loan writes it ahead of the data, so that
// the answer goes out without being copied behind it.
const answerPrefix = `{"data":`

// answerLoan lets the transport that writes an answer lend a planned run a
// pooled buffer, and take it back once the answer is written. Only
// postTransport lends: it knows when the last reader of resp.Data is done
// (writeResponse writes it and returns; the response cache keeps a copy;
// the metrics and logging middlewares read no data). Without a loan (the
// WebSocket transport, GET) a run writes into a buffer of its own that the
// answer keeps, as before.
type answerLoan struct {
	bufs *answerPool   // set by the run that borrowed
	buf  *bytes.Buffer // answerPrefix, then resp.Data
	// own: the run wrote every byte of the answer itself (no gqlgen
	// marshaller), so writeResponse knows its shape (ownAnswerAsIs).
	own bool
}

type answerLoanKey struct{}

func withAnswerLoan(ctx context.Context, l *answerLoan) context.Context {
	return context.WithValue(ctx, answerLoanKey{}, l)
}

// answer reports whether data is the answer written into the loaned
// buffer, right behind answerPrefix.
func (l *answerLoan) answer(data []byte) bool {
	if l == nil || l.buf == nil || len(data) == 0 {
		return false
	}
	b := l.buf.Bytes()
	return len(b) == len(answerPrefix)+len(data) && &b[len(answerPrefix)] == &data[0]
}

// giveBack returns the buffer to its pool; the answer in it is gone.
func (l *answerLoan) giveBack() {
	if l != nil && l.buf != nil {
		l.bufs.put(l.buf)
		l.bufs, l.buf, l.own = nil, nil, false
	}
}

// maxPooledAnswer bounds the buffers kept for reuse: one huge answer (an
// admin's long list) must not pin its memory for every later request. A
// page of 100 stalls with their menus fits.
const maxPooledAnswer = 256 << 10

// answerPool holds answer buffers for reuse: most of a planned read's
// allocated bytes were its answer, written once and dropped.
type answerPool struct{ p sync.Pool }

func (a *answerPool) get() *bytes.Buffer {
	if b, ok := a.p.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (a *answerPool) put(b *bytes.Buffer) {
	if b.Cap() <= maxPooledAnswer {
		a.p.Put(b)
	}
}

// run executes pl; false means "run it on gqlgen" and nothing of this run
// may be used.
func (p *planner) run(ctx context.Context, es *executableSchema, oc *graphql.OperationContext, pl *opPlan) (data []byte, ok bool) {
	// Errors and extensions a resolver records land here, not in the
	// response: any of them sends the operation to gqlgen.
	ctx = graphql.WithFreshResponseContext(ctx)
	r := &planRun{ec: newExecutionContext(oc, es, nil)}
	if pl.slots <= len(r.inline) {
		r.fields = r.inline[:pl.slots]
	} else {
		r.fields = make([]fieldRun, pl.slots)
	}
	r.next = r.resolveCurrent
	start := 0
	loan, _ := ctx.Value(answerLoanKey{}).(*answerLoan)
	if loan != nil && loan.buf == nil {
		r.buf = p.bufs.get()
		r.buf.WriteString(answerPrefix)
		start = len(answerPrefix)
	} else {
		loan, r.buf = nil, new(bytes.Buffer)
	}
	r.buf.Grow(int(pl.size.Load()) + 64)
	defer func() {
		if v := recover(); v != nil {
			oc.Recover(ctx, v) // logs it; gqlgen runs the operation again and answers
			ok = false
		}
		switch {
		case !ok && loan != nil:
			p.bufs.put(r.buf) // nothing of this run is used
		case ok && loan != nil:
			loan.bufs, loan.buf, loan.own = &p.bufs, r.buf, !r.marshalled
		}
	}()
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query"})
	if !r.object(ctx, pl.root, nil) {
		return nil, false
	}
	if len(graphql.GetErrors(ctx)) > 0 || len(graphql.GetExtensions(ctx)) > 0 {
		return nil, false
	}
	pl.size.Store(int64(r.buf.Len() - start))
	return r.buf.Bytes()[start:], true
}

// rootField runs a root field as gqlgen does: with its RootFieldContext,
// through the root field middlewares.
func (r *planRun) rootField(ctx context.Context, f *fieldPlan) bool {
	inner := graphql.WithRootFieldContext(ctx, &graphql.RootFieldContext{Object: f.field.Name, Field: f.field})
	var run struct{ called, ok bool } // one variable for the closure, one allocation
	m := r.ec.OperationContext.RootResolverMiddleware(inner, func(ctx context.Context) graphql.Marshaler {
		if run.called { // a middleware called its next twice: the field would be written twice
			run.ok = false
			return planWritten
		}
		run.called = true
		run.ok = r.field(ctx, f, nil)
		return planWritten
	})
	return run.ok && m == planWritten // else a root field middleware answered in its own way
}

func (r *planRun) object(ctx context.Context, ob *objPlan, obj any) bool {
	if ctx.Err() != nil {
		return false // past the deadline: gqlgen answers the errors
	}
	r.buf.WriteByte('{')
	for i := range ob.fields {
		f := &ob.fields[i]
		r.buf.Write(f.key)
		if f.literal != nil {
			r.buf.Write(f.literal)
			continue
		}
		if ob.ptr == nil { // Query
			if !r.rootField(ctx, f) {
				return false
			}
		} else if !r.field(ctx, f, obj) {
			return false
		}
	}
	r.buf.WriteByte('}')
	return true
}

func (r *planRun) field(ctx context.Context, f *fieldPlan, obj any) bool {
	if f.def.write != nil {
		return f.def.write(obj, r.buf)
	}
	var v any
	if f.def.plain {
		var err error
		if v, err = f.def.resolve(ctx, r.ec, obj); err != nil {
			return false
		}
	} else {
		// As gqlgen runs a field: its FieldContext, then the field
		// middlewares (markInternal stops at the deadline) around the
		// resolver. Plain struct reads skip both: that is the saving, and
		// the field middlewares look at resolvers only (handler.go).
		fr := &r.fields[f.slot]
		if fr.ctx == nil || fr.parent != ctx || f.args {
			fc, err := f.def.fieldContext(r.ec, ctx, f.field)
			if err != nil {
				return false
			}
			fr.parent, fr.ctx = ctx, graphql.WithFieldContext(ctx, fc)
		}
		ctx = fr.ctx
		r.cur, r.curObj = f, obj
		var err error
		v, err = r.ec.OperationContext.ResolverMiddleware(ctx, r.next)
		if err != nil || r.cur != nil { // an error, or a middleware that did not call the resolver
			return false
		}
	}
	if v == nil { // gqlgen: null, an error when the schema forbids it
		if f.nonNull {
			return false
		}
		r.buf.WriteString("null")
		return true
	}
	if f.def.writeValue != nil {
		return f.def.writeValue(v, r.buf)
	}
	if f.child == nil {
		m := f.def.marshal(ctx, r.ec, f.field.Selections, v)
		if m == nil || (m == graphql.Null && f.nonNull) {
			return false
		}
		r.marshalled = true
		m.MarshalGQL(r.buf)
		return true
	}
	if !f.list {
		o, ok := f.child.ptr(v)
		if !ok {
			if f.nonNull {
				return false
			}
			r.buf.WriteString("null")
			return true
		}
		return r.object(ctx, f.child, o)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return false
	}
	if rv.IsNil() && !f.nonNull { // gqlgen: a nil slice is null, or [] when the list is non-null
		r.buf.WriteString("null")
		return true
	}
	r.buf.WriteByte('[')
	for i := range rv.Len() {
		if i > 0 {
			r.buf.WriteByte(',')
		}
		o, ok := f.child.ptr(rv.Index(i).Interface())
		if !ok {
			if !f.elemNull {
				return false
			}
			r.buf.WriteString("null")
			continue
		}
		if !r.object(ctx, f.child, o) {
			return false
		}
	}
	r.buf.WriteByte(']')
	return true
}

// Leaf writers: each writes a value as the marshaller named in
// graph/plangen's leafWriters writes it, and reports false where that
// marshaller would record an error (the plan then falls back).
// FuzzLeafWriters holds each to its marshaller, and to what ownAnswerAsIs
// takes for granted: one compact JSON value, or text with a backslash.

// writeGQLString is gqlgen's writeQuotedString (graphql/string.go, MIT),
// which graphql.MarshalString uses.
func writeGQLString(b *bytes.Buffer, s string) bool {
	const hex = "0123456789ABCDEF"
	start := 0
	b.WriteByte('"')
	for i, c := range s {
		if c < 0x20 || c == '\\' || c == '"' {
			b.WriteString(s[start:i])
			switch c {
			case '\t':
				b.WriteString(`\t`)
			case '\r':
				b.WriteString(`\r`)
			case '\n':
				b.WriteString(`\n`)
			case '\\':
				b.WriteString(`\\`)
			case '"':
				b.WriteString(`\"`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			start = i + 1
		}
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
	return true
}

// writeOpt writes a nullable field: null for nil, else as write does.
func writeOpt[T any](b *bytes.Buffer, v *T, write func(*bytes.Buffer, T) bool) bool {
	if v == nil {
		b.WriteString("null")
		return true
	}
	return write(b, *v)
}

func writeOptString(b *bytes.Buffer, s *string) bool { return writeOpt(b, s, writeGQLString) }

func writeBool(b *bytes.Buffer, v bool) bool {
	b.WriteString(strconv.FormatBool(v))
	return true
}

func writeInt(b *bytes.Buffer, v int) bool {
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(v), 10))
	return true
}

func writeOptInt(b *bytes.Buffer, v *int) bool { return writeOpt(b, v, writeInt) }

// writeID writes what pulid.ID.MarshalGQL writes (strconv.Quote).
func writeID(b *bytes.Buffer, id pulid.ID) bool {
	writeQuote(b, string(id))
	return true
}

// writeQuote writes strconv.Quote(s). Ids and times are printable ASCII
// without quotes or backslashes, which strconv.Quote writes as they are:
// that case is one copy, where strconv checks each rune for printability
// (a twentieth of a page of 50 stalls' CPU).
func writeQuote(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b.Write(strconv.AppendQuote(b.AvailableBuffer(), s))
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// writeTicketStatus writes what model.TicketStatus.MarshalGQL writes
// (strconv.Quote), which marshalNTicketStatus returns as it is.
func writeTicketStatus(b *bytes.Buffer, s model.TicketStatus) bool {
	writeQuote(b, string(s))
	return true
}

// writeTime is graphql.MarshalTime: a zero time is null, which a Time!
// field may not be. The time is formatted into the answer, not into a
// string of its own; RFC 3339 is ASCII that strconv.Quote leaves as it is,
// checked all the same.
func writeTime(b *bytes.Buffer, t time.Time) bool {
	if t.IsZero() {
		return false
	}
	b.WriteByte('"')
	start := b.Len()
	b.Write(t.AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
	for _, c := range b.Bytes()[start:] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b.Truncate(start - 1)
			writeQuote(b, t.Format(time.RFC3339Nano))
			return true
		}
	}
	b.WriteByte('"')
	return true
}

// writeOptTime: for a nullable Time, MarshalTime's null for a zero time is
// an answer, not an error.
func writeOptTime(b *bytes.Buffer, t *time.Time) bool {
	if t != nil && t.IsZero() {
		t = nil
	}
	return writeOpt(b, t, writeTime)
}

// writeCursor writes a connection cursor as its marshaller does (it is the
// marshaller): a quoted unpadded standard base64, which holds nothing JSON
// escapes, so an answer with cursors is still all the run's own.
func writeCursor(b *bytes.Buffer, c entgql.Cursor[pulid.ID]) bool {
	c.MarshalGQL(b)
	return true
}

func writeOptCursor(b *bytes.Buffer, c *entgql.Cursor[pulid.ID]) bool {
	return writeOpt(b, c, writeCursor)
}

// plannedSchema runs queries by plan where it can and on gqlgen otherwise.
type plannedSchema struct {
	*executableSchema
	plans *planner
}

func (s plannedSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	pl := s.plans.plan(oc)
	if pl == nil {
		if oc.Operation != nil && oc.Operation.Operation == ast.Query {
			s.plans.stats.Unplanned.Add(1)
		}
		return s.executableSchema.Exec(ctx)
	}
	execCtx := ctx
	var fallback graphql.ResponseHandler
	done := false
	return func(ctx context.Context) *graphql.Response {
		if fallback != nil {
			return fallback(ctx)
		}
		if done {
			return nil
		}
		done = true
		if data, ok := s.plans.run(ctx, s.executableSchema, oc, pl); ok {
			s.plans.stats.Planned.Add(1)
			return &graphql.Response{Data: data}
		}
		s.plans.stats.Fallback.Add(1)
		if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
			l.forget() // gqlgen reads afresh, as it would have alone
		}
		fallback = s.executableSchema.Exec(execCtx)
		return fallback(ctx)
	}
}
