package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"callme/ent"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/ast"
)

// FuzzWriteResponse holds postTransport's writer to json.Marshal, which
// gqlgen's transport uses: for any data the bytes are the same, whether
// written as they are or through json.Marshal, and data json.Marshal
// refuses fails the same way.
func FuzzWriteResponse(f *testing.F) {
	for _, s := range []string{
		`{"sellers":{"edges":[{"node":{"id":"SL1","name":"兰州拉面🍜","open":true,"menu":[{"priceCents":1200,"available":false,"x":null}]}}]}}`,
		`{"a":"<b>&amp;</b>"}`, `{"a":"\u2028 line separator \u2029"}`, `{"a": 1}`, "{\"a\":\n1}", `{"a":"\"quoted\" \\ back"}`,
		`{"n":-1.5e+10,"t":true,"f":false}`, `[1,2,3]`, `{"a":"\u00e9 \u001f"}`, "{\"a\":\"\xff\xfe\"}", `{"a":1}{"b":2}`, `{,}`, `"x"`, `{}`, `{"a":[}`, `{"a"::1}`, `{"a":"\q"}`, `{"a":01}`, "{\"id\":\"SL\\x7f\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := &graphql.Response{Data: data}
		want, err := json.Marshal(resp)
		var got bytes.Buffer
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			writeResponse(&got, resp, nil)
			return false
		}()
		if err != nil {
			// gqlgen's writer panics on data json.Marshal refuses; so must this one.
			if !panicked {
				t.Fatalf("data %q: json.Marshal fails (%v), writeResponse wrote %q", data, err, got.Bytes())
			}
			return
		}
		if panicked || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("data %q: wrote %q (panicked %v), json.Marshal %q", data, got.Bytes(), panicked, want)
		}
		// The same data as a planned run's answer, in a loaned buffer
		// behind `{"data":`: the same bytes again.
		if len(data) > 0 {
			loan := &answerLoan{bufs: &answerPool{}, buf: bytes.NewBufferString(answerPrefix)}
			loan.buf.Write(data)
			var fromLoan bytes.Buffer
			writeResponse(&fromLoan, &graphql.Response{Data: loan.buf.Bytes()[len(answerPrefix):]}, loan)
			if !bytes.Equal(fromLoan.Bytes(), want) {
				t.Fatalf("data %q in a loaned buffer: wrote %q, json.Marshal %q", data, fromLoan.Bytes(), want)
			}
		}
	})
}

func TestCompactAsIs(t *testing.T) {
	for _, c := range []struct {
		data string
		asIs bool
	}{
		{`{"sellers":{"edges":[{"node":{"id":"SL1","name":"兰州拉面🍜 \"A\"","open":true,"priceCents":null,"n":-12}}]}}`, true},
		{`{"a":[]}`, true},
		{`{"a": 1}`, false},           // whitespace: compaction removes it
		{`{"a":"x<y"}`, false},        // escaped for HTML by json.Marshal
		{`{"a":"x&y"}`, false},        // likewise
		{"{\"a\":\"\u2028\"}", false}, // likewise
		{`{"a":1}{"b":2}`, false},     // two values
		{`{"a":"unclosed}`, false},
		{`{"a":1`, false},
		{`"x"`, true},
		{`{"a":[}`, false},
		{`{:}`, false},
		{`{"a"::1}`, false},
		{`[,]`, false},
		{`{"a":tru}`, false},
		{`{"a":1,}`, false},
		{`{"a":"\q"}`, false},
		{`{"a":01}`, false},
		{`{"id":"SL\x7f"}`, false}, // strconv.Quote's escape for DEL: not JSON
		{`{"a":"\u00e9\n","b":[1.5e-3,-0,true,false,null,{}]}`, true},
	} {
		if got := compactAsIs([]byte(c.data)); got != c.asIs {
			t.Errorf("compactAsIs(%s) = %v, want %v", c.data, got, c.asIs)
		}
	}
}

// memQuery answers the stall list and the notification templates from
// memory, so that planned runs can be driven with any text.
type memQuery struct {
	*queryResolver
	sellers   []*ent.Seller
	templates []string
}

func (q memQuery) Sellers(context.Context, *int, *string, *bool) (*ent.SellerConnection, error) {
	c := &ent.SellerConnection{TotalCount: len(q.sellers)}
	for _, s := range q.sellers {
		c.Edges = append(c.Edges, &ent.SellerEdge{Node: s, Cursor: ent.Cursor{ID: s.ID}})
	}
	return c, nil
}

func (q memQuery) NotificationTemplates(context.Context) ([]string, error) { return q.templates, nil }

type memResolver struct {
	*Resolver
	sellers   []*ent.Seller
	templates []string
}

func (r memResolver) Query() QueryResolver {
	return memQuery{&queryResolver{r.Resolver}, r.sellers, r.templates}
}

// plannedPost runs query by plan as postTransport does, in a loaned buffer,
// with change applied to the plan first. It returns the data, whether the
// loan said the run wrote all of it itself, what writeResponse wrote and
// what json.Marshal writes (gqlgen's transport).
func plannedPost(t *testing.T, res ResolverRoot, query string, change func(*opPlan)) (data []byte, own bool, wrote, want string) {
	t.Helper()
	p := newPlanner(&planStats{})
	es := NewExecutableSchema(Config{Resolvers: res}).(*executableSchema)
	exec := executor.New(plannedSchema{executableSchema: es, plans: p})
	ctx := graphql.StartOperationTrace(context.Background())
	rc, gerr := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query})
	if gerr != nil {
		t.Fatal(gerr)
	}
	if change != nil {
		change(p.plan(rc))
	}
	loan := &answerLoan{}
	responses, ctx := exec.DispatchOperation(withAnswerLoan(ctx, loan), rc)
	resp := responses(ctx)
	if !loan.answer(resp.Data) {
		t.Fatalf("%s: not a planned answer in a loaned buffer: %s %v", query, resp.Data, resp.Errors)
	}
	data, own = bytes.Clone(resp.Data), loan.own
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	writeResponse(&w, resp, loan)
	loan.giveBack()
	return data, own, w.String(), string(b)
}

// TestPlannedAnswerSaysWhoWroteIt: a planned run whose every byte came from
// its own writers says so with its loan, and writeResponse then only scans
// its answer; one where a gqlgen marshaller wrote a value (a cursor, a list
// of strings) does not, as that marshaller may write whatever JSON allows
// (here, whitespace json.Marshal takes out).
func TestPlannedAnswerSaysWhoWroteIt(t *testing.T) {
	note := "<b>辣</b> & 🌶️"
	res := memResolver{Resolver: &Resolver{}, templates: []string{"<t1>", "第二"}, sellers: []*ent.Seller{
		{ID: "SL1", Name: "兰州拉面🍜", Prefix: "A", PickupNote: &note},
		{ID: "SL2", Name: "Line\u2028Paragraph\u2029", Prefix: "B", MaxNumber: 999},
	}}
	spaced := func(pl *opPlan) {
		pl.root.fields[0].def.marshal = func(context.Context, *executionContext, ast.SelectionSet, any) graphql.Marshaler {
			return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, `[ "t1", "t2" ]`) })
		}
	}
	for _, c := range []struct {
		name, query string
		change      func(*opPlan)
		own         bool
	}{
		{"own writers", `{ sellers { totalCount edges { node { id name prefix pickupNote maxNumber paidUntil } } pageInfo { hasNextPage } } }`, nil, true},
		{"literals and aliases", `{ __typename s: sellers { __typename e: edges { node { __typename n: name } } } }`, nil, true},
		{"cursors", `{ sellers { edges { cursor node { id } } pageInfo { startCursor endCursor } } }`, nil, true},
		{"strings by gqlgen", `{ notificationTemplates }`, nil, false},
		{"whitespace by a marshaller", `{ notificationTemplates }`, spaced, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, own, got, want := plannedPost(t, res, c.query, c.change)
			if own != c.own {
				t.Errorf("own = %v, want %v: %s", own, c.own, data)
			}
			if got != want {
				t.Errorf("wrote %s\njson.Marshal %s", got, want)
			}
		})
	}
}

// FuzzPlannedAnswers: for any stall text, a planned answer the run wrote
// itself is judged by ownAnswerAsIs as compactAsIs judges it, and written
// as json.Marshal writes it.
func FuzzPlannedAnswers(f *testing.F) {
	for _, s := range []string{
		"兰州拉面🍜", "<script>&amp;</script>", "\u2028\u2029", "a\"b\\c", "\t\r\n\x00\x1f\x7f",
		"\xff\xfe invalid UTF-8 \xc3", "emoji 👨‍👩‍👧‍👦 ZWJ", "“引号”…", "\xe2\x80", "",
	} {
		f.Add(s, "三号窗口 "+s)
	}
	f.Fuzz(func(t *testing.T, name, note string) {
		res := memResolver{Resolver: &Resolver{}, sellers: []*ent.Seller{
			{ID: "SL1", Name: name, Prefix: "A", PickupNote: &note, PersonName: &name},
			{ID: "SL2", Name: "麻辣烫", Prefix: "B"},
		}}
		data, own, got, want := plannedPost(t, res, `{ sellers { totalCount edges { cursor node { id name personName prefix pickupNote } } pageInfo { endCursor } } }`, nil)
		if !own {
			t.Fatalf("a run of leaf writers only says a marshaller wrote: %s", data)
		}
		if fast, parsed := ownAnswerAsIs(data), compactAsIs(data); fast != parsed {
			t.Fatalf("%s: ownAnswerAsIs %v, compactAsIs %v", data, fast, parsed)
		}
		if got != want {
			t.Fatalf("wrote %s\njson.Marshal %s", got, want)
		}
	})
}
