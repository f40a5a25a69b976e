package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/graph"
	"callme/internal/pulid"
	"callme/internal/store/storetest"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestFieldsReadTheSameOnEveryPath reads every object that implements Node,
// as every kind of caller, through every path of the schema that returns it
// (root fields, nested fields, list and connection wrappers, mutation
// payloads, subscription events, and all query paths of one caller mixed in
// one document), and checks each field against node(id) for the same caller.
//
// Nothing here lists types, fields or query paths: they come from the schema
// (graph.NewExecutableSchema), so a new Node type, a new field on one, or a
// new field returning one is walked without editing this test. What the
// schema cannot tell is how to invoke a mutation or subscription safely:
// walkMutations and walkSubscriptions say that, and a mutation or
// subscription that reaches a Node type without a row there fails the test.
//
// Rules (what "the same" means):
//   - node(id) answers the object: every field reads exactly as node(id)
//     reads it, on every path (walkAllowDiffer names exceptions; it is empty).
//   - node(id) answers FORBIDDEN (a ticket of someone else): the object may
//     still be reached through public edges (a stall's lastCalled, the call
//     stream), but all such paths must agree with each other, and none may
//     show a secret planted in the world (the tickets' notes).
//   - node(id) answers null (no such object for this caller): no path may
//     reach it, except through an edge named in walkAllowHidden (then the
//     FORBIDDEN rule holds).
//
// Adding a field MenuItem.seller to the schema in a scratch copy (regenerated,
// not committed) took the walk from 110 to 126 paths and from about 13,000 to
// 17,700 field comparisons with no edit here; lowering walkMaxHops to 2, or
// leaving out the paths through lastCalled, makes it cover less (66 and 98
// paths): the summary line logged at the end shows what was covered.
func TestFieldsReadTheSameOnEveryPath(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		start := time.Now()
		clock := newWalkClock()
		s := startServer(t, e, noRateLimits, func(c *config) {
			c.now = clock.now
			c.RecallGap = 0           // recalls in a row, no sleeping
			c.MaxActiveTickets = 1000 // the walk fetches as every caller at every stall
			// One caller's every query path in one document is big on purpose.
			c.Limits.MaxComplexity, c.Limits.MaxTokens, c.Limits.MaxSubsPerSocket = 1<<30, 1<<30, 1000
			c.Limits.MaxRootFields, c.Limits.MaxFields = 1000, 1<<20
		})
		w := newWalkWorld(t, s, clock)
		sc := newWalkSchema(t)
		c := &walkCheck{t: t, w: w, sc: sc, refs: map[string]map[string]*walkRef{}, firstSeen: map[string]map[string]map[string]any{},
			types: map[string]bool{}, callers: map[string]bool{}, paths: map[string]bool{}, reported: map[string]bool{}, byHow: map[string]int{}}

		all := map[string][]walkPath{}
		discovered := 0
		for _, root := range []string{"Query", "Mutation", "Subscription"} {
			all[root] = sc.paths(root, walkMaxHops)
			discovered += len(all[root])
		}
		checkInvocationTables(t, all)

		w.refresh()
		queryPhase(c, all["Query"])
		subscriptionPhase(c, all["Subscription"])
		mutationPhase(c, all["Mutation"])

		// Every Node type must be reached by some path other than node(id)
		// itself, or the walk proves nothing about it.
		for _, typ := range sc.nodeTypes() {
			if !c.typesBeyondNode[typ] {
				t.Errorf("%s is reached only through node(id): no other path of the schema was walked to it", typ)
			}
		}
		var unreached []string
		for _, root := range []string{"Query", "Mutation", "Subscription"} {
			for _, p := range all[root] {
				if !c.paths[p.String()] {
					unreached = append(unreached, p.String())
				}
			}
		}
		if len(unreached) > 0 {
			t.Logf("paths discovered but reaching no object in this world (%d): %s", len(unreached), strings.Join(unreached, ", "))
		}
		hows := make([]string, 0, len(c.byHow))
		for h, n := range c.byHow {
			hows = append(hows, fmt.Sprintf("%s %d", h, n))
		}
		sort.Strings(hows)
		t.Logf("%d types × %d callers × %d paths (of %d discovered) × their fields: %d field comparisons (%s), %d requests, %s",
			len(c.types), len(c.callers), len(c.paths), discovered, c.fields, strings.Join(hows, ", "), w.requests, time.Since(start).Round(time.Millisecond))
	})
}

// walkMaxHops bounds the walk: a path passes through at most this many
// objects that implement Node (Query.seller → Seller.lastCalled →
// Ticket.seller is 3). Connection and edge wrappers do not count.
const walkMaxHops = 3

// walkMaxSteps bounds the fields of one path, whatever their types.
const walkMaxSteps = 7

// walkAllowDiffer lists fields, as "Type.field", that may read differently by
// path, with the reason. Empty: every field of every Node type reads the same.
var walkAllowDiffer = map[string]string{}

// walkAllowHidden lists fields, as "Type.field", through which an object may
// be reached although node(id) answers null for the caller, with the reason.
// Objects reached that way are held to the FORBIDDEN rule instead: every
// path agrees, no secret shows.
//
// Empty: a stall whose paid term ran out is visible to its seller, admins
// and customers holding a ticket there, through node(id) and seller(id) as
// through Ticket.seller (the walk found the two rules disagreeing).
var walkAllowHidden = map[string]string{}

var walkCallers = []string{"anonymous", "owner", "otherCustomer", "seller", "otherSeller", "admin"}

// walkInvocation says how to run a mutation safely as a caller: the
// arguments the generic filler (walkWorld.fill) cannot know, and what to do
// first so that the mutation has something to act on.
type walkInvocation struct {
	name   string
	args   func(w *walkWorld, caller string) map[string]any // nil map: the caller does not try it
	before func(w *walkWorld)
}

func with(m map[string]any) func(*walkWorld, string) map[string]any {
	return func(*walkWorld, string) map[string]any { return m }
}

// walkMutations is every mutation that returns (or leads to) a Node type, in
// the order the walk runs them: each is compared right after it answers, so
// later ones may change the world freely. Arguments not listed come from the
// generic filler (IDs by name, today's day, the handed-out number, …), tried
// for every candidate: most tries are refused, at least one must succeed.
var walkMutations = []walkInvocation{
	{name: "setOpen", args: with(map[string]any{"open": true})}, // already open
	{name: "setMenuItemAvailable", args: with(map[string]any{"available": true})},
	{name: "updateSeller"}, // only sellerId: nothing changes
	{name: "renewSeller"},
	{name: "uploadSellerPhoto"},
	{name: "login", args: func(w *walkWorld, caller string) map[string]any {
		if caller == "anonymous" { // answers as the new session, not as the caller
			return nil
		}
		return map[string]any{"app": w.apps[caller], "code": "dev:" + w.openids[caller]}
	}},
	{name: "fetch"}, // with an idempotency key: once per caller and stall
	{name: "claim"}, // the handed-out number
	{name: "callNext", before: func(w *walkWorld) { w.freshTicket("WAITING") }},
	{name: "call"},
	{name: "complete", before: func(w *walkWorld) { w.freshTicket("CALLED") }},
	{name: "markNoShow", before: func(w *walkWorld) { w.freshTicket("CALLED") }},
	{name: "cancel", before: func(w *walkWorld) { w.freshTicket("WAITING") }},
	{name: "reopen", before: func(w *walkWorld) { w.freshTicket("CANCELLED") }},
	{name: "createSeller"},
	{name: "claimSeller", args: func(w *walkWorld, caller string) map[string]any {
		return map[string]any{"inviteCode": w.invite()}
	}},
	{name: "setMenu"}, // last: it replaces the menu items' IDs
}

// walkSubscription says what a subscription sends: at once (its current
// state) and/or after a call (answersCall, given its arguments and the IDs
// the trigger touched); args adds arguments to the generic ones.
type walkSubscription struct {
	atOnce      bool
	answersCall func(args map[string]any, touched map[string]bool) bool
	args        func(w *walkWorld, args map[string]any) map[string]any
}

var walkSubscriptions = map[string]walkSubscription{
	"calledNumbers": {
		answersCall: func(a map[string]any, touched map[string]bool) bool { return touched[fmt.Sprint(a["sellerId"])] },
		// Without after, a call committed while the subscription starts
		// counts as before it and is not sent; after the stall's current seq
		// the trigger's call comes exactly once, live or replayed.
		args: func(w *walkWorld, a map[string]any) map[string]any {
			st, err := w.s.app.db.Client.Seller.Get(context.Background(), pulid.ID(fmt.Sprint(a["sellerId"])))
			if err != nil {
				w.t.Fatal(err)
			}
			return map[string]any{"after": st.CallSeq}
		},
	},
	"ticketUpdated": {
		atOnce:      true,
		answersCall: func(a map[string]any, touched map[string]bool) bool { return touched[fmt.Sprint(a["ticketId"])] },
	},
	// The tracked ticket is a WAITING one at stall A: a recall there may
	// move its ETA, so it may answer, but need not.
	"trackedTicketUpdated": {
		atOnce:      true,
		answersCall: func(map[string]any, map[string]bool) bool { return false },
	},
	// An unknown secret: every caller is refused (NOT_FOUND).
	"consoleLoginApproved": {
		answersCall: func(map[string]any, map[string]bool) bool { return false },
	},
}

func checkInvocationTables(t *testing.T, all map[string][]walkPath) {
	t.Helper()
	listed := map[string]bool{}
	for _, m := range walkMutations {
		listed[m.name] = true
	}
	var missing []string
	for _, p := range all["Mutation"] {
		if !listed[p.steps[0].field.Name] {
			missing = append(missing, "Mutation."+p.steps[0].field.Name)
		}
	}
	for _, p := range all["Subscription"] {
		if _, ok := walkSubscriptions[p.steps[0].field.Name]; !ok {
			missing = append(missing, "Subscription."+p.steps[0].field.Name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("these reach Node types but have no row in walkMutations/walkSubscriptions saying how to run them safely: %v", missing)
	}
}

// ---------------------------------------------------------------- schema

type walkSchema struct {
	*ast.Schema
	t      *testing.T
	leaves map[string][]walkLeaf
}

// walkStep is one field of a path. as is the object type its value is read
// as: the field's type, or one possible type of an interface or union.
type walkStep struct {
	field *ast.FieldDefinition
	as    string
}

type walkPath struct {
	root  string
	steps []walkStep
}

func (p walkPath) String() string {
	var b strings.Builder
	b.WriteString(p.root)
	for _, s := range p.steps {
		b.WriteString("." + s.field.Name)
		if s.field.Type.Name() != s.as {
			b.WriteString("<" + s.as + ">")
		}
	}
	return b.String()
}

// through returns the first field of the path, as "Type.field", listed in allow.
func (p walkPath) through(allow map[string]string) string {
	parent := p.root
	for _, s := range p.steps {
		if _, ok := allow[parent+"."+s.field.Name]; ok {
			return parent + "." + s.field.Name
		}
		parent = s.as
	}
	return ""
}

// walkLeaf is a field compared on every object of a type: its selection and,
// for an object value, the keys compared.
type walkLeaf struct {
	name string
	sel  string
	keys []string
}

func newWalkSchema(t *testing.T) *walkSchema {
	sc := &walkSchema{Schema: graph.NewExecutableSchema(graph.Config{}).Schema(), t: t, leaves: map[string][]walkLeaf{}}
	for _, typ := range sc.nodeTypes() {
		sc.leaves[typ] = sc.leafFields(typ)
	}
	return sc
}

func (sc *walkSchema) nodeTypes() []string {
	var out []string
	for _, d := range sc.GetPossibleTypes(sc.Types["Node"]) {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

func (sc *walkSchema) isNode(typ string) bool {
	for _, d := range sc.GetImplements(sc.Types[typ]) {
		if d.Name == "Node" {
			return true
		}
	}
	return false
}

func requiredArgs(f *ast.FieldDefinition) bool {
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			return true
		}
	}
	return false
}

// leafFields are the fields of typ that take no required argument: scalars
// and enums as they are; objects by __typename and id, and, when they are not
// Node objects themselves (compared on their own), one level of their scalars.
func (sc *walkSchema) leafFields(typ string) []walkLeaf {
	var out []walkLeaf
	for _, f := range sc.Types[typ].Fields {
		if strings.HasPrefix(f.Name, "__") || requiredArgs(f) {
			continue
		}
		d := sc.Types[f.Type.Name()]
		switch d.Kind {
		case ast.Scalar, ast.Enum:
			out = append(out, walkLeaf{name: f.Name})
		default:
			keys := []string{"__typename"}
			if d.Fields.ForName("id") != nil {
				keys = append(keys, "id")
			}
			if d.Kind == ast.Object && !sc.isNode(d.Name) {
				for _, sf := range d.Fields {
					if sd := sc.Types[sf.Type.Name()]; sf.Name != "id" && !requiredArgs(sf) && (sd.Kind == ast.Scalar || sd.Kind == ast.Enum) {
						keys = append(keys, sf.Name)
					}
				}
			}
			out = append(out, walkLeaf{name: f.Name, sel: "{ " + strings.Join(keys, " ") + " }", keys: keys})
		}
	}
	return out
}

func (sc *walkSchema) leafSelection(typ string) string {
	var b strings.Builder
	for _, l := range sc.leaves[typ] {
		b.WriteString(" " + l.name + l.sel)
	}
	return b.String()
}

// paths walks the type graph from a root type to every Node type.
func (sc *walkSchema) paths(root string, maxHops int) []walkPath {
	var out []walkPath
	var rec func(parent string, prefix []walkStep, hops int)
	rec = func(parent string, prefix []walkStep, hops int) {
		for _, f := range sc.Types[parent].Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			d := sc.Types[f.Type.Name()]
			var as []string
			switch d.Kind {
			case ast.Object:
				as = []string{d.Name}
			case ast.Interface, ast.Union:
				for _, p := range sc.GetPossibleTypes(d) {
					as = append(as, p.Name)
				}
				sort.Strings(as)
			default:
				continue
			}
			for _, a := range as {
				h := hops
				if sc.isNode(a) {
					h++
				}
				if h > maxHops {
					continue
				}
				p := append(append([]walkStep(nil), prefix...), walkStep{field: f, as: a})
				if sc.isNode(a) {
					out = append(out, walkPath{root: root, steps: p})
				}
				if len(p) < walkMaxSteps {
					rec(a, p, h)
				}
			}
		}
	}
	rec(root, nil, 0)
	return out
}

// ---------------------------------------------------------------- world

type walkWorld struct {
	t        *testing.T
	s        *testServer
	tokens   map[string]string
	apps     map[string]string
	openids  map[string]string
	stallA   string
	called   []string // the CALLED ticket of each stall, recalled by the subscription trigger
	today    string
	walkUp   int    // the number the seller handed out
	walkCode string // and the claim code on its slip
	// trackToken is the trackURL token of owner's WAITING ticket at stall A.
	trackToken string
	secrets    []string
	known      map[string]map[string]bool // type → IDs seen
	requests   int
	invites    int
}

// newWalkWorld builds, through the API: two stalls (CJK names, one with a
// menu of two dishes), tickets of several owners in every status with notes,
// a handed-out unowned number, and the six kinds of caller.
func newWalkWorld(t *testing.T, s *testServer, clock *walkClock) *walkWorld {
	w := &walkWorld{t: t, s: s, tokens: map[string]string{}, apps: map[string]string{}, openids: map[string]string{}, known: map[string]map[string]bool{}}
	// Dev login takes ASCII names only: the stalls get their CJK names after.
	sellerA, stallA := s.openStall(t, "Lanzhou", "A")
	sellerB, stallB := s.openStall(t, "Malatang", "B")
	// Text json.Marshal escapes for HTML, in answers planned and not. The
	// input rules refuse line separators now: written directly, as from
	// before them.
	if _, err := s.app.db.Client.ExecContext(context.Background(), "UPDATE sellers SET person_name = ? WHERE id = ?", "王\u2028师傅\u2029", stallB); err != nil {
		t.Fatal(err)
	}
	for tok, in := range map[string]map[string]any{
		sellerA: {"sellerId": stallA, "name": "兰州拉面", "personName": "马师傅", "pickupNote": "三号窗口"},
		sellerB: {"sellerId": stallB, "name": "麻辣烫<大&小>🌶️", "pickupNote": "<b>辣</b> & 🌶️"},
	} {
		s.ok(t, tok, `mutation($in: UpdateSellerInput!) { updateSeller(input: $in) { seller { id } } }`, map[string]any{"in": in}, nil)
	}
	w.stallA = stallA
	for caller, id := range map[string][2]string{
		"owner": {"CUSTOMER", "alice"}, "otherCustomer": {"CUSTOMER", "bob"},
		"seller": {"SELLER", "owner-Lanzhou"}, "otherSeller": {"SELLER", "owner-Malatang"}, "admin": {"SELLER", "admin"},
	} {
		w.apps[caller], w.openids[caller] = id[0], id[1]
	}
	w.tokens["seller"], w.tokens["otherSeller"] = sellerA, sellerB
	w.tokens["owner"] = s.login(t, "CUSTOMER", "alice")
	w.tokens["otherCustomer"] = s.login(t, "CUSTOMER", "bob")
	w.tokens["admin"] = s.login(t, "SELLER", "admin")
	carol := s.login(t, "CUSTOMER", "carol")

	s.ok(t, sellerA, `mutation($s: ID!) { setMenu(sellerId: $s, items: [{name: "牛肉拉面", priceCents: 1500}, {name: "凉皮", available: false}]) { id } }`, map[string]any{"s": stallA}, nil)
	s.ok(t, sellerB, `mutation($s: ID!) { setMenu(sellerId: $s, items: [{name: "麻辣烫（大）", priceCents: 2200}]) { id } }`, map[string]any{"s": stallB}, nil)

	var slip string
	fetch := func(tok, stall, note string) (string, int) {
		var f struct {
			Fetch struct {
				ID        string
				Number    int
				ClaimCode *string
			}
		}
		s.ok(t, tok, `mutation($s: ID!, $n: String) { fetch(input: {sellerId: $s, note: $n}) { id number claimCode } }`, map[string]any{"s": stall, "n": note}, &f)
		w.secrets = append(w.secrets, note)
		clock.advance(30 * time.Second) // waits and paces are not all zero
		if f.Fetch.ClaimCode != nil {
			slip = *f.Fetch.ClaimCode
		}
		return f.Fetch.ID, f.Fetch.Number
	}
	op := func(tok, field, id string) {
		s.ok(t, tok, fmt.Sprintf(`mutation($id: ID!) { %s(ticketId: $id) { id } }`, field), map[string]any{"id": id}, nil)
		clock.advance(30 * time.Second)
	}
	calledA, _ := fetch(w.tokens["owner"], stallA, "葱花多一点 secret-1")
	s.ok(t, sellerA, `mutation($s: ID!) { callNext(sellerId: $s) { id } }`, map[string]any{"s": stallA}, nil) // CALLED, by callNext
	waiting, _ := fetch(w.tokens["owner"], stallA, "不要香菜 secret-2")                                           // WAITING
	done, _ := fetch(carol, stallA, "打包 secret-3")
	op(sellerA, "call", done)
	op(carol, "complete", done) // DONE
	cancelled, _ := fetch(carol, stallA, "少盐 secret-4")
	op(carol, "cancel", cancelled)                      // CANCELLED
	_, w.walkUp = fetch(sellerA, stallA, "柜台 secret-5") // handed out, unowned, WAITING
	w.walkCode = slip
	calledB, _ := fetch(carol, stallB, "加辣 secret-6")
	s.ok(t, sellerB, `mutation($s: ID!) { callNext(sellerId: $s) { id } }`, map[string]any{"s": stallB}, nil)
	w.called = []string{calledA, calledB}

	// A third stall whose paid term runs out once the world is built: it
	// then hides from the public (node(id) answers null) but not from its
	// seller, admins and the owner of a ticket there, on every path.
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, w.tokens["admin"], `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } inviteCode } }`, map[string]any{"in": map[string]any{
		"name": "小炒", "prefix": "C", "paidUntil": clock.now().Add(5 * time.Minute).Format(time.RFC3339)}}, &created)
	stallC, sellerC := created.CreateSeller.Seller.ID, s.login(t, "SELLER", "owner-Expiring")
	s.ok(t, sellerC, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`, map[string]any{"c": created.CreateSeller.InviteCode}, nil)
	s.ok(t, sellerC, `mutation($s: ID!) { setOpen(sellerId: $s, open: true) { id } setMenu(sellerId: $s, items: [{name: "小炒肉"}]) { id } }`, map[string]any{"s": stallC}, nil)
	fetch(w.tokens["owner"], stallC, "快点 secret-7")
	s.ok(t, sellerC, `mutation($s: ID!) { callNext(sellerId: $s) { id } }`, map[string]any{"s": stallC}, nil)
	clock.advance(10 * time.Minute)

	var tu struct{ Node struct{ TrackURL string } }
	s.ok(t, w.tokens["owner"], `query($id: ID!) { node(id: $id) { ... on Ticket { trackURL } } }`, map[string]any{"id": waiting}, &tu)
	w.trackToken = tu.Node.TrackURL[strings.LastIndex(tu.Node.TrackURL, "/")+1:]

	var bd struct{ Node struct{ BusinessDay string } }
	s.ok(t, sellerA, `query($id: ID!) { node(id: $id) { ... on Ticket { businessDay } } }`, map[string]any{"id": calledA}, &bd)
	w.today = bd.Node.BusinessDay
	for _, tok := range []string{w.tokens["owner"], w.tokens["otherCustomer"], w.tokens["seller"], w.tokens["otherSeller"], w.tokens["admin"], carol} {
		var me struct{ Me struct{ ID string } }
		s.ok(t, tok, `{ me { id } }`, nil, &me)
		w.see("User", me.Me.ID)
	}
	return w
}

func (w *walkWorld) see(typ, id string) {
	if w.known[typ] == nil {
		w.known[typ] = map[string]bool{}
	}
	w.known[typ][id] = true
}

func (w *walkWorld) ids(typ string) []string {
	var out []string
	for id := range w.known[typ] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// refresh learns the IDs of the stalls, dishes and today's tickets (as the
// admin, who sees them all), for the generic argument filler.
func (w *walkWorld) refresh() {
	var d struct {
		Sellers struct {
			Edges []struct {
				Node struct {
					ID   string
					Menu []struct{ ID string }
				}
			}
		}
	}
	w.s.ok(w.t, w.tokens["admin"], `{ sellers(first: 100) { edges { node { id menu { id } } } } }`, nil, &d)
	for _, e := range d.Sellers.Edges {
		w.see("Seller", e.Node.ID)
		for _, it := range e.Node.Menu {
			w.see("MenuItem", it.ID)
		}
		var tk struct{ SellerTickets []struct{ ID string } }
		w.s.ok(w.t, w.tokens["admin"], `query($s: ID!, $d: String!) { sellerTickets(sellerId: $s, day: $d) { id } }`, map[string]any{"s": e.Node.ID, "d": w.today}, &tk)
		for _, x := range tk.SellerTickets {
			w.see("Ticket", x.ID)
		}
	}
	w.requests += 1 + len(d.Sellers.Edges)
}

// freshTicket gives a before-hook something to act on: a new ticket of the
// owner at stall A in the given status.
func (w *walkWorld) freshTicket(status string) {
	var f struct{ Fetch struct{ ID string } }
	w.s.ok(w.t, w.tokens["owner"], `mutation($s: ID!) { fetch(input: {sellerId: $s}) { id } }`, map[string]any{"s": w.stallA}, &f)
	switch status {
	case "CALLED":
		w.s.ok(w.t, w.tokens["seller"], `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
	case "CANCELLED":
		w.s.ok(w.t, w.tokens["seller"], `mutation($id: ID!) { cancel(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
	}
}

func (w *walkWorld) invite() string {
	w.invites++
	var d struct{ CreateSeller struct{ InviteCode string } }
	w.s.ok(w.t, w.tokens["admin"], `mutation($n: String!) { createSeller(input: {name: $n}) { inviteCode } }`, map[string]any{"n": fmt.Sprintf("邀请 %d", w.invites)}, &d)
	return d.CreateSeller.InviteCode
}

// walkClock is the server's clock: the world is built at a local noon (far
// from the day's turnover), and time moves only when the test says so.
type walkClock struct {
	mu sync.Mutex
	t  time.Time
}

func newWalkClock() *walkClock {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now().In(loc)
	noon := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, loc)
	if noon.Before(now) {
		noon = noon.AddDate(0, 0, 1)
	}
	return &walkClock{t: noon}
}

func (c *walkClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *walkClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// walkUpload stands for a file argument, sent as a multipart request.
type walkUpload struct{}

// fill gives the candidate values of an argument or input field by its name
// and type: generic, not per field. typ is the object type the field's value
// is read as, for an argument named id. A nil result means "no idea"; the
// caller decides whether that is fatal (a required argument) or not.
func (w *walkWorld) fill(sc *walkSchema, name string, typ *ast.Type, as string, extra map[string]any) []any {
	if v, ok := extra[name]; ok {
		return []any{v}
	}
	if typ.Elem != nil {
		one := w.fill(sc, name, typ.Elem, as, extra)
		if one == nil {
			return nil
		}
		return []any{[]any{one[0]}}
	}
	d := sc.Types[typ.Name()]
	switch {
	case d.Kind == ast.InputObject: // every combination of its fields' candidates
		combos := []map[string]any{{}}
		for _, f := range d.Fields {
			vals := w.fill(sc, f.Name, f.Type, "", extra)
			if vals == nil {
				if f.Type.NonNull && f.DefaultValue == nil {
					return nil
				}
				continue
			}
			var more []map[string]any
			for _, c := range combos {
				for _, v := range vals {
					m := map[string]any{f.Name: v}
					for k, x := range c {
						m[k] = x
					}
					more = append(more, m)
				}
			}
			combos = more
		}
		out := make([]any, len(combos))
		for i, c := range combos {
			out[i] = c
		}
		return out
	case d.Name == "ID":
		var out []any
		for _, typ := range sc.nodeTypes() {
			lt := strings.ToLower(typ)
			if (name == "id" && typ == as) || (strings.HasSuffix(name, "Id") && strings.HasSuffix(lt, strings.ToLower(strings.TrimSuffix(name, "Id")))) {
				for _, id := range w.ids(typ) {
					out = append(out, id)
				}
			}
		}
		return out
	case d.Name == "Upload":
		return []any{walkUpload{}}
	}
	byName := map[string]any{
		"day": w.today, "from": w.today, "to": w.today, // String
		"name": "走查小馆", "idempotencyKey": "walk", "claimCode": w.walkCode,
		"number": w.walkUp, "months": 1, "first": 100, // Int
		"token":  w.trackToken,                                // a ticket's public page
		"secret": "walk-unknown-console-secret-0000000000000", // a console's login nobody started
	}
	if v, ok := byName[name]; ok && d.Kind == ast.Scalar {
		return []any{v}
	}
	return nil
}

// walkInstance is a path with its arguments: one value per argument per step.
type walkInstance struct {
	path walkPath
	args []map[string]any
}

// instances fills a path's arguments: every candidate at the root field (so
// that root fields are walked for every stall, ticket, …), the first one
// below it. Required arguments nobody can fill fail the test.
func (w *walkWorld) instances(sc *walkSchema, p walkPath, extra map[string]any) []walkInstance {
	out := []walkInstance{{path: p, args: make([]map[string]any, len(p.steps))}}
	for i, st := range p.steps {
		var next []walkInstance
		for _, in := range out {
			combos := []map[string]any{{}}
			for _, a := range st.field.Arguments {
				vals := w.fill(sc, a.Name, a.Type, st.as, extra)
				if len(vals) == 0 {
					if a.Type.NonNull && a.DefaultValue == nil {
						w.t.Fatalf("%s: no value for the required argument %s: %s; teach walkWorld.fill (by name and type) or the invocation table",
							p, a.Name, a.Type)
					}
					continue
				}
				if i > 0 {
					vals = vals[:1]
				}
				var more []map[string]any
				for _, c := range combos {
					for _, v := range vals {
						m := map[string]any{a.Name: v}
						for k, x := range c {
							m[k] = x
						}
						more = append(more, m)
					}
				}
				combos = more
			}
			for _, c := range combos {
				args := append([]map[string]any(nil), in.args...)
				args[i] = c
				next = append(next, walkInstance{path: p, args: args})
			}
		}
		out = next
	}
	return out
}

// ---------------------------------------------------------------- documents

// walkDoc is one GraphQL document holding any number of path instances,
// merged where they share fields.
type walkDoc struct {
	sc      *walkSchema
	op      string
	root    *walkBody
	vars    map[string]any
	varDefs []string
	upload  string // the variable holding the file, if any
	insts   []walkInstance
	aliases [][]string
}

type walkBody struct {
	typ    string
	leaf   bool
	fields []*walkField
}

type walkField struct {
	key, alias, name, args string
	abstract               bool
	bodies                 []*walkBody
}

func newWalkDoc(sc *walkSchema, op string) *walkDoc {
	return &walkDoc{sc: sc, op: op, root: &walkBody{}, vars: map[string]any{}}
}

func (d *walkDoc) add(in walkInstance) {
	body := d.root
	var aliases []string
	for i, st := range in.path.steps {
		names := make([]string, 0, len(in.args[i]))
		for n := range in.args[i] {
			names = append(names, n)
		}
		sort.Strings(names)
		keyArgs, _ := json.Marshal(in.args[i])
		key := st.field.Name + string(keyArgs)
		var f *walkField
		for _, x := range body.fields {
			if x.key == key {
				f = x
			}
		}
		if f == nil {
			var args []string
			for _, n := range names {
				v := fmt.Sprintf("v%d", len(d.varDefs))
				d.varDefs = append(d.varDefs, "$"+v+": "+st.field.Arguments.ForName(n).Type.String())
				if _, ok := in.args[i][n].(walkUpload); ok {
					d.vars[v], d.upload = nil, v
				} else {
					d.vars[v] = in.args[i][n]
				}
				args = append(args, n+": $"+v)
			}
			f = &walkField{key: key, name: st.field.Name, alias: st.field.Name}
			if i == 0 || len(args) > 0 { // root fields and fields with arguments get their own alias
				f.alias = fmt.Sprintf("%s_%d", st.field.Name, len(d.varDefs))
			}
			if len(args) > 0 {
				f.args = "(" + strings.Join(args, ", ") + ")"
			}
			k := d.sc.Types[st.field.Type.Name()].Kind
			f.abstract = k == ast.Interface || k == ast.Union
			body.fields = append(body.fields, f)
		}
		aliases = append(aliases, f.alias)
		var b *walkBody
		for _, x := range f.bodies {
			if x.typ == st.as {
				b = x
			}
		}
		if b == nil {
			b = &walkBody{typ: st.as}
			f.bodies = append(f.bodies, b)
		}
		body = b
	}
	body.leaf = true
	d.insts = append(d.insts, in)
	d.aliases = append(d.aliases, aliases)
}

func (d *walkDoc) String() string {
	var b strings.Builder
	b.WriteString(d.op)
	if len(d.varDefs) > 0 {
		b.WriteString("(" + strings.Join(d.varDefs, ", ") + ")")
	}
	b.WriteString(" {")
	for _, f := range d.root.fields {
		d.writeField(&b, f)
	}
	b.WriteString(" }")
	return b.String()
}

func (d *walkDoc) writeField(b *strings.Builder, f *walkField) {
	b.WriteString(" " + f.alias + ": " + f.name + f.args + " { __typename")
	for _, body := range f.bodies {
		if f.abstract {
			b.WriteString(" ... on " + body.typ + " {")
		}
		if body.leaf {
			b.WriteString(d.sc.leafSelection(body.typ))
		}
		for _, sub := range body.fields {
			d.writeField(b, sub)
		}
		if f.abstract {
			b.WriteString(" }")
		}
	}
	b.WriteString(" }")
}

// send runs the document as a caller (multipart when it carries a file).
func (w *walkWorld) send(d *walkDoc, caller string) gqlResponse {
	w.t.Helper()
	w.requests++
	if d.upload == "" {
		return w.s.query(w.t, w.tokens[caller], d.String(), d.vars)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{"query": d.String(), "variables": d.vars})
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", `{"0": ["variables.`+d.upload+`"]}`)
	fw, _ := mw.CreateFormFile("0", "walk.png")
	_, _ = fw.Write(tinyPNG(w.t))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, w.s.URL+"/query", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if tok := w.tokens[caller]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(w.t, req)
}

// reach returns the objects instance i of the document reached in data.
func (d *walkDoc) reach(data any, i int) []map[string]any {
	cur := []any{data}
	for s, st := range d.insts[i].path.steps {
		var next []any
		for _, v := range cur {
			m, _ := v.(map[string]any)
			for _, x := range flatten(m[d.aliases[i][s]]) {
				if x["__typename"] == st.as {
					next = append(next, x)
				}
			}
		}
		cur = next
	}
	out := make([]map[string]any, len(cur))
	for i, v := range cur {
		out[i] = v.(map[string]any)
	}
	return out
}

func flatten(v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}
	case []any:
		var out []map[string]any
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return nil
}

// ---------------------------------------------------------------- checks

type walkRef struct {
	obj             map[string]any
	forbidden, null bool
}

type walkCheck struct {
	t         *testing.T
	w         *walkWorld
	sc        *walkSchema
	refs      map[string]map[string]*walkRef       // caller → id → node(id)
	firstSeen map[string]map[string]map[string]any // caller → id → first read, where node(id) is FORBIDDEN

	types, callers, paths, typesBeyondNode map[string]bool
	fields                                 int
	byHow                                  map[string]int
	reported                               map[string]bool
	failures                               int
}

// forget drops the node(id) answers after a change of the world.
func (c *walkCheck) forget() {
	c.refs = map[string]map[string]*walkRef{}
	c.firstSeen = map[string]map[string]map[string]any{}
}

// ref reads an object through node(id), alone in its request, as caller.
func (c *walkCheck) ref(caller, typ, id string) *walkRef {
	if r := c.refs[caller][id]; r != nil {
		return r
	}
	c.w.requests++
	res := c.w.s.query(c.t, c.w.tokens[caller], `query($id: ID!) { node(id: $id) { __typename ... on `+typ+` {`+c.sc.leafSelection(typ)+` } } }`, map[string]any{"id": id})
	r := &walkRef{}
	var d struct{ Node map[string]any }
	_ = json.Unmarshal(res.Data, &d)
	switch {
	case res.code() == "FORBIDDEN" || res.code() == "UNAUTHENTICATED":
		r.forbidden = true
	case len(res.Errors) > 0:
		c.fail(fmt.Sprintf("node %s %s", caller, id), "node(%s) as %s: %+v", id, caller, res.Errors)
		r.forbidden = true
	case d.Node == nil:
		r.null = true
	default:
		r.obj = d.Node
	}
	if c.refs[caller] == nil {
		c.refs[caller] = map[string]*walkRef{}
	}
	c.refs[caller][id] = r
	return r
}

func (c *walkCheck) fail(key, format string, args ...any) {
	c.t.Helper()
	c.failures++
	if c.reported[key] {
		return
	}
	c.reported[key] = true
	c.t.Errorf(format, args...)
}

// errors reports errors below the root fields: a root field may refuse the
// caller (FORBIDDEN, NOT_FOUND, …), but a field of an object it answered may
// not fail.
func (c *walkCheck) errors(how, caller string, res gqlResponse) {
	c.t.Helper()
	for _, e := range res.Errors {
		if len(e.Path) > 1 {
			c.fail(fmt.Sprintf("err %s %s %v", how, caller, e.Path), "%s as %s: error at %v: %s (%v)", how, caller, e.Path, e.Message, e.Extensions["code"])
		}
	}
}

// compareAll checks every object every instance of d reached in data.
func (c *walkCheck) compareAll(how, caller string, d *walkDoc, data json.RawMessage) {
	var v any
	_ = json.Unmarshal(data, &v)
	for i, in := range d.insts {
		for _, obj := range d.reach(v, i) {
			c.compare(how, caller, in.path, obj)
		}
	}
}

func (c *walkCheck) compare(how, caller string, p walkPath, obj map[string]any) {
	c.t.Helper()
	typ, _ := obj["__typename"].(string)
	id, _ := obj["id"].(string)
	c.w.see(typ, id)
	r := c.ref(caller, typ, id)
	where := fmt.Sprintf("%s (%s) as %s", p, how, caller)
	own := map[string]any{} // its own fields: nested objects are checked on their own
	for _, l := range c.sc.leaves[typ] {
		own[l.name] = project(obj[l.name], l.keys)
	}
	raw, _ := json.Marshal(own)
	hidden := r.null && p.through(walkAllowHidden) != ""
	switch {
	case r.null && !hidden:
		c.fail("null "+where, "%s reaches %s %s, which node(id) answers null for this caller: %s", where, typ, id, raw)
		return
	case r.forbidden || hidden:
		for _, s := range c.w.secrets {
			if strings.Contains(string(raw), s) {
				c.fail("secret "+where, "%s shows %q of %s %s, which node(id) refuses this caller", where, s, typ, id)
			}
		}
		if c.firstSeen[caller] == nil {
			c.firstSeen[caller] = map[string]map[string]any{}
		}
		if c.firstSeen[caller][id] == nil {
			c.firstSeen[caller][id] = obj
			break
		}
		c.compareFields(where, typ, id, obj, c.firstSeen[caller][id], "the first path that reached it")
	default:
		c.compareFields(where, typ, id, obj, r.obj, "node(id)")
	}
	c.types[typ], c.callers[caller], c.paths[p.String()] = true, true, true
	c.byHow[how]++
	if !(p.root == "Query" && len(p.steps) == 1 && p.steps[0].field.Name == "node") {
		if c.typesBeyondNode == nil {
			c.typesBeyondNode = map[string]bool{}
		}
		c.typesBeyondNode[typ] = true
	}
}

func (c *walkCheck) compareFields(where, typ, id string, got, want map[string]any, wantFrom string) {
	c.t.Helper()
	for _, l := range c.sc.leaves[typ] {
		c.fields++
		if _, ok := got[l.name]; !ok {
			c.fail(where+" missing "+l.name, "%s: %s.%s of %s missing from the answer", where, typ, l.name, id)
			continue
		}
		g, wv := project(got[l.name], l.keys), project(want[l.name], l.keys)
		if reflect.DeepEqual(g, wv) {
			continue
		}
		if _, ok := walkAllowDiffer[typ+"."+l.name]; ok {
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(wv)
		c.fail(where+" "+typ+"."+l.name, "%s: %s.%s of %s reads %s, %s reads %s", where, typ, l.name, id, gj, wantFrom, wj)
	}
}

// project keeps the compared keys of an object value (of each, in a list).
func project(v any, keys []string) any {
	if keys == nil {
		return v
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = project(e, keys)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for _, k := range keys {
			out[k] = x[k]
		}
		return out
	}
	return v
}

// ---------------------------------------------------------------- phases

// queryPhase reads every query path alone, then all of one caller's query
// paths in one document: the world does not change meanwhile.
func queryPhase(c *walkCheck, paths []walkPath) {
	var insts []walkInstance
	for _, p := range paths {
		insts = append(insts, c.w.instances(c.sc, p, nil)...)
	}
	for _, caller := range walkCallers {
		mixed := newWalkDoc(c.sc, "query")
		for _, in := range insts {
			d := newWalkDoc(c.sc, "query")
			d.add(in)
			res := c.w.send(d, caller)
			c.errors(in.path.String(), caller, res)
			c.compareAll("alone", caller, d, res.Data)
			if len(res.Errors) == 0 {
				// A root field that refuses the caller stays out: a non-null
				// one would null the whole mixed answer.
				mixed.add(in)
			}
		}
		res := c.w.send(mixed, caller)
		if len(res.Errors) > 0 || string(res.Data) == "null" {
			c.fail("mixed "+caller, "the mixed query as %s: %+v (alone, each of its fields answered)", caller, res.Errors)
		}
		c.compareAll("mixed", caller, mixed, res.Data)
	}
}

// subscriptionPhase opens every subscription instance as every caller over
// real WebSockets, compares what they send at once, then recalls the CALLED
// ticket of each stall and compares what they send after it.
func subscriptionPhase(c *walkCheck, paths []walkPath) {
	w := c.w
	type sub struct {
		caller string
		id     string
		doc    *walkDoc
		table  walkSubscription
		args   map[string]any
		msgs   []json.RawMessage
		ended  bool
	}
	docs := map[string]*walkDoc{}
	var order []string
	rootArgs := map[string]map[string]any{}
	for _, p := range paths {
		for _, in := range w.instances(c.sc, p, nil) {
			if more := walkSubscriptions[p.steps[0].field.Name].args; more != nil {
				for k, v := range more(w, in.args[0]) {
					in.args[0][k] = v
				}
			}
			k, _ := json.Marshal(in.args[0])
			key := in.path.steps[0].field.Name + string(k)
			if docs[key] == nil {
				docs[key] = newWalkDoc(c.sc, "subscription")
				order = append(order, key)
				rootArgs[key] = in.args[0]
			}
			docs[key].add(in)
		}
	}
	socks := map[string]*wsClient{}
	subs := map[string][]*sub{}
	for _, caller := range walkCallers {
		init := map[string]any{}
		if tok := w.tokens[caller]; tok != "" {
			init["authToken"] = tok
		}
		ws := w.s.dialWS(c.t, "graphql-transport-ws", init)
		socks[caller] = ws
		for i, key := range order {
			d := docs[key]
			sb := &sub{caller: caller, id: fmt.Sprint(i), doc: d, table: walkSubscriptions[d.insts[0].path.steps[0].field.Name], args: rootArgs[key]}
			subs[caller] = append(subs[caller], sb)
			ws.subscribe(sb.id, d.String(), d.vars)
		}
	}
	// pump reads a caller's socket until done says enough.
	pump := func(caller string, done func() bool) {
		ws := socks[caller]
		byID := map[string]*sub{}
		for _, sb := range subs[caller] {
			byID[sb.id] = sb
		}
		for !done() {
			var m wsMessage
			ctx, cancel := contextWithTimeout(10 * time.Second)
			err := wsjsonRead(ctx, ws, &m)
			cancel()
			if err != nil {
				var pending []string
				for _, sb := range subs[caller] {
					if !sb.ended {
						pending = append(pending, fmt.Sprintf("%s%v (%d messages)", sb.doc.insts[0].path.steps[0].field.Name, sb.args, len(sb.msgs)))
					}
				}
				c.t.Fatalf("as %s: no message in 10 s (%v); open subscriptions: %s", caller, err, strings.Join(pending, "; "))
			}
			switch m.Type {
			case "ka", "pong":
				continue
			case "ping":
				ws.send(wsMessage{Type: "pong"})
				continue
			}
			sb := byID[m.ID]
			if sb == nil {
				c.t.Fatalf("message for unknown subscription %q: %s", m.ID, m.Payload)
			}
			switch m.Type {
			case "next":
				var r gqlResponse
				_ = json.Unmarshal(m.Payload, &r)
				if r.Data == nil || string(r.Data) == "null" {
					sb.ended = true
					continue
				}
				c.errors("subscription "+sb.doc.insts[0].path.String(), caller, r)
				sb.msgs = append(sb.msgs, r.Data)
			default: // error, complete
				sb.ended = true
			}
		}
	}
	compare := func(sb *sub, from int) {
		for _, m := range sb.msgs[from:] {
			c.compareAll("subscription", sb.caller, sb.doc, m)
		}
	}
	for _, caller := range walkCallers {
		pump(caller, func() bool {
			for _, sb := range subs[caller] {
				if sb.table.atOnce && !sb.ended && len(sb.msgs) == 0 {
					return false
				}
			}
			return true
		})
		for _, sb := range subs[caller] {
			compare(sb, 0)
		}
	}
	touched := map[string]bool{}
	for _, id := range w.called {
		var d struct {
			Call struct{ Seller struct{ ID string } }
		}
		w.s.ok(c.t, w.tokens["admin"], `mutation($id: ID!) { call(ticketId: $id) { seller { id } } }`, map[string]any{"id": id}, &d)
		touched[id], touched[d.Call.Seller.ID] = true, true
	}
	c.forget()
	for _, caller := range walkCallers {
		seen := map[*sub]int{}
		for _, sb := range subs[caller] {
			seen[sb] = len(sb.msgs)
		}
		pump(caller, func() bool {
			for _, sb := range subs[caller] {
				if !sb.ended && sb.table.answersCall(sb.args, touched) && len(sb.msgs) == seen[sb] {
					return false
				}
			}
			return true
		})
		for _, sb := range subs[caller] {
			compare(sb, seen[sb])
		}
	}
	for _, ws := range socks {
		ws.conn.CloseNow()
	}
}

// mutationPhase runs every mutation of walkMutations as every caller with
// every candidate argument, and compares each payload with node(id) read
// right after it, before anything else changes.
func mutationPhase(c *walkCheck, paths []walkPath) {
	w := c.w
	var ran []string
	defer func() { c.t.Logf("mutation payloads compared (answers per mutation): %s", strings.Join(ran, ", ")) }()
	for _, m := range walkMutations {
		var mine []walkPath
		for _, p := range paths {
			if p.steps[0].field.Name == m.name {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			continue // no longer reaches a Node type
		}
		if m.before != nil {
			m.before(w)
		}
		w.refresh()
		c.forget()
		ok := 0
		for _, caller := range walkCallers {
			var extra map[string]any
			if m.args != nil {
				if extra = m.args(w, caller); extra == nil {
					continue
				}
			}
			docs := map[string]*walkDoc{}
			var order []string
			for _, p := range mine {
				for _, in := range w.instances(c.sc, p, extra) {
					k, _ := json.Marshal(in.args[0])
					if docs[string(k)] == nil {
						docs[string(k)] = newWalkDoc(c.sc, "mutation")
						order = append(order, string(k))
					}
					docs[string(k)].add(in)
				}
			}
			for _, k := range order {
				d := docs[k]
				res := w.send(d, caller)
				c.forget() // it may have changed something, refused or not
				if len(res.Errors) > 0 && (res.Data == nil || string(res.Data) == "null" || len(res.Errors[0].Path) <= 1) {
					continue // refused: who may do what is TestAuthorizationWalk's
				}
				ok++
				c.errors("mutation "+m.name, caller, res)
				c.compareAll("mutation", caller, d, res.Data)
			}
		}
		ran = append(ran, fmt.Sprintf("%s %d", m.name, ok))
		if ok == 0 {
			c.t.Errorf("Mutation.%s never succeeded for any caller: its payload was not compared (fix its row in walkMutations)", m.name)
		}
	}
}
