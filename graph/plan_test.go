package graph

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
)

// FuzzLeafWriters holds the planner's leaf writers to the marshallers they
// stand in for: every value a plain field holds must come out as gqlgen's
// generated marshaller writes it, and a writer reports false exactly where
// the marshaller answers null for a non-null type. What they write must
// also be judged by ownAnswerAsIs as compactAsIs judges it.
func FuzzLeafWriters(f *testing.F) {
	for _, s := range []string{
		"", "兰州拉面🍜", "a\"b\\c", "\t\r\n\x00\x1f\x7f", "<script>&amp;</script>", "\u2028\u2029",
		"\xff\xfe invalid UTF-8 \xc3", strings.Repeat("葱花多一点😀", 50), "emoji 👨‍👩‍👧‍👦 ZWJ",
	} {
		f.Add(s, int64(0), int64(-1))
		f.Add(s, int64(1_764_000_000_123_456_789), int64(1<<62))
	}
	ec := newExecutionContext(nil, nil, nil)
	f.Fuzz(func(t *testing.T, s string, nanos, n int64) {
		check := func(what string, ok bool, got *bytes.Buffer, want graphql.Marshaler, nonNull bool) {
			t.Helper()
			var w bytes.Buffer
			want.MarshalGQL(&w)
			if nonNull && want == graphql.Null {
				if ok {
					t.Fatalf("%s: the marshaller answers null for a non-null type, the writer wrote %q", what, got.Bytes())
				}
				return
			}
			if !ok || !bytes.Equal(got.Bytes(), w.Bytes()) {
				t.Fatalf("%s: writer %v %q, marshaller %q", what, ok, got.Bytes(), w.Bytes())
			}
			// A planned answer made of such values is judged by scans
			// alone; they must see what the parser sees.
			if fast, parsed := ownAnswerAsIs(got.Bytes()), compactAsIs(got.Bytes()); fast != parsed {
				t.Fatalf("%s: %q: ownAnswerAsIs %v, compactAsIs %v", what, got.Bytes(), fast, parsed)
			}
		}
		var b bytes.Buffer
		ok := writeGQLString(&b, s)
		check("String!", ok, &b, ec.marshalNString2string(nil, nil, s), true)
		b.Reset()
		ok = writeOptString(&b, &s)
		check("String", ok, &b, ec.marshalOString2ᚖstring(nil, nil, &s), false)
		b.Reset()
		ok = writeID(&b, pulid.ID(s))
		check("ID!", ok, &b, ec.marshalNID2callmeᚋinternalᚋpulidᚐID(nil, nil, pulid.ID(s)), true)
		i := int(n)
		b.Reset()
		ok = writeInt(&b, i)
		check("Int!", ok, &b, ec.marshalNInt2int(nil, nil, i), true)
		b.Reset()
		ok = writeOptInt(&b, &i)
		check("Int", ok, &b, ec.marshalOInt2ᚖint(nil, nil, &i), false)
		b.Reset()
		ok = writeBool(&b, n%2 == 0)
		check("Boolean!", ok, &b, ec.marshalNBoolean2bool(nil, nil, n%2 == 0), true)
		for _, tm := range []time.Time{{}, time.Unix(0, nanos).UTC(), time.Unix(0, nanos).In(time.FixedZone("CST", 8*3600))} {
			b.Reset()
			ok = writeOptTime(&b, &tm)
			check("Time", ok, &b, ec.marshalOTime2ᚖtimeᚐTime(nil, nil, &tm), false)
			if tm.IsZero() {
				// marshalNTime2timeᚐTime records an error in the response
				// context for a zero time; MarshalTime says null.
				b.Reset()
				if writeTime(&b, tm) {
					t.Fatal("Time!: the writer wrote a zero time gqlgen refuses")
				}
				continue
			}
			b.Reset()
			ok = writeTime(&b, tm)
			check("Time!", ok, &b, ec.marshalNTime2timeᚐTime(nil, nil, tm), true)
		}
		st := model.TicketStatus(s)
		b.Reset()
		ok = writeTicketStatus(&b, st)
		check("TicketStatus!", ok, &b, ec.marshalNTicketStatus2callmeᚋinternalᚋmodelᚐTicketStatus(nil, nil, st), true)
		for _, c := range []entgql.Cursor[pulid.ID]{{}, {ID: pulid.ID(s), Value: time.Unix(0, nanos).UTC()}, {ID: pulid.ID(s), Value: s}} {
			b.Reset()
			ok = writeCursor(&b, c)
			check("Cursor!", ok, &b, ec.marshalNCursor2entgoᚗioᚋcontribᚋentgqlᚐCursor(nil, nil, c), true)
			b.Reset()
			ok = writeOptCursor(&b, &c)
			check("Cursor", ok, &b, ec.marshalOCursor2ᚖentgoᚗioᚋcontribᚋentgqlᚐCursor(nil, nil, &c), false)
		}
		b.Reset()
		ok = writeOptCursor(&b, nil)
		check("Cursor null", ok, &b, ec.marshalOCursor2ᚖentgoᚗioᚋcontribᚋentgqlᚐCursor(nil, nil, nil), false)
		// Resolver fields: the same writers, from the value as returned.
		b.Reset()
		ok = valueWriter(writeOptString)(&s, &b)
		check("String from a resolver", ok, &b, ec.marshalOString2ᚖstring(nil, nil, &s), false)
		b.Reset()
		ok = valueWriter(writeBool)(any(n%2 == 0), &b)
		check("Boolean! from a resolver", ok, &b, ec.marshalNBoolean2bool(nil, nil, n%2 == 0), true)
		if valueWriter(writeBool)(s, &b) || valueWriter(writeOptString)(s, &b) || valueWriter(writeInt)(&i, &b) {
			t.Fatal("a value writer took a value of another type")
		}
		var nilS *string
		var nilI *int
		var nilT *time.Time
		b.Reset()
		ok = writeOptString(&b, nilS)
		check("String null", ok, &b, ec.marshalOString2ᚖstring(nil, nil, nilS), false)
		b.Reset()
		ok = writeOptInt(&b, nilI)
		check("Int null", ok, &b, ec.marshalOInt2ᚖint(nil, nil, nilI), false)
		b.Reset()
		ok = writeOptTime(&b, nilT)
		check("Time null", ok, &b, ec.marshalOTime2ᚖtimeᚐTime(nil, nil, nilT), false)
	})
}

// TestPlanCacheIsBounded: a client that sends ever new documents (Any mode)
// cannot grow the plan cache, which keeps each plan's document alive,
// beyond maxPlans; what it compiles is still correct to use.
func TestPlanCacheIsBounded(t *testing.T) {
	p := newPlanner(&planStats{})
	for i := range maxPlans + 50 {
		doc, err := gqlparser.LoadQuery(parsedSchema, fmt.Sprintf(`{ s%d: sellers { edges { node { id name } } } }`, i))
		if err != nil {
			t.Fatal(err)
		}
		oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
		if p.plan(oc) == nil {
			t.Fatalf("document %d: no plan", i)
		}
		if n := len(p.plans); n > maxPlans {
			t.Fatalf("%d plans cached after %d documents (bound %d)", n, i+1, maxPlans)
		}
	}
	for _, bad := range []string{
		`{ sellers { edges { node { id @include(if: true) } } } }`,
		`{ node(id: "x") { id } }`,
		`{ __schema { types { name } } }`,
		`mutation { logout }`,
	} {
		doc, err := gqlparser.LoadQuery(parsedSchema, bad)
		if err != nil {
			t.Fatalf("%s: %v", bad, err)
		}
		if p.plan(&graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}) != nil {
			t.Errorf("%s was planned", bad)
		}
	}
}
