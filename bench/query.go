package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"callme/internal/pulid"
	"callme/internal/sqlwire"
)

const (
	sellersQuery = `query($n: Int) { sellers(first: $n) { edges { node { id name prefix open menu { id name priceCents available } } } } }`
	queueQuery   = `query($s: ID!) { queue(sellerId: $s) { id number code status note createdAt seller { id name prefix } } }`
	waitingQuery = `query($n: Int) { sellers(first: $n) { edges { node { id name waitingCount } } } }`
	menuPerStall = 5
)

// queryKind is one request shape measured on both sides.
type queryKind struct {
	name  string
	page  int
	token string
	gql   string
	vars  map[string]any
	raw   string // path on the baseline, "" for GraphQL-only rows
	// cached rows run against a server with its public response cache on
	// (the others turn it off, -public-cache 0); only anonymous reads of
	// stalls and menus use it.
	cached bool
}

// runQuery: sellers with menus and queue with tickets+sellers vs a plain
// net/http handler running the same SQL.
func runQuery(ctx context.Context, e *env) error {
	// Four rounds of 2 s per side, as issue: the box's speed changes from
	// second to second, and a page of 50's ratio swung 0.77–1.04 run to
	// run with two.
	dur := e.o.duration
	if dur == 0 {
		dur = 8 * time.Second
	}
	const clients = 16
	rounds := max(1, e.o.rounds)
	sub := dur / time.Duration(rounds)
	warm := min(500*time.Millisecond, sub/4)
	dbName, serverDSN, sqlDSN, err := e.freshDB(ctx)
	if err != nil {
		return err
	}
	defer e.dropDB(dbName)
	srv, err := e.startServer(ctx, serverDSN, e.o.pprof, "-public-cache", "0")
	if err != nil {
		return err
	}
	defer srv.stop()
	g := newGQL(srv.url, clients)
	stalls, _, err := g.setupStalls(ctx, 60, 2)
	if err != nil {
		return err
	}
	db, err := sqlDB(sqlDSN, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	for i, st := range stalls {
		for j := range menuPerStall {
			_, err := db.ExecContext(ctx, "INSERT INTO menu_items (id, name, price_cents, available, position, seller_id) VALUES (?, ?, ?, ?, ?, ?)",
				string(pulid.New("MI")), fmt.Sprintf("Dish %d of %s", j+1, st.Prefix), 800+100*((i+j)%7), j != 3, j, st.ID)
			if err != nil {
				return fmt.Errorf("menu: %w", err)
			}
		}
	}
	if err := g.issueTickets(ctx, stalls[:1], 10); err != nil {
		return err
	}
	if err := g.issueTickets(ctx, stalls[1:2], 50); err != nil {
		return err
	}
	base, err := e.startHelper(ctx, "_query-baseline", "-dsn", sqlDSN, "-conns", "16")
	if err != nil {
		return err
	}
	defer base.stop()

	kinds := []queryKind{
		{"sellers { menu }", 10, "", sellersQuery, map[string]any{"n": 10}, "/sellers?first=10", false},
		{"sellers { menu }", 50, "", sellersQuery, map[string]any{"n": 50}, "/sellers?first=50", false},
		{"queue { seller }", 10, stalls[0].Token, queueQuery, map[string]any{"s": stalls[0].ID}, "/queue?seller=" + stalls[0].ID, false},
		{"queue { seller }", 50, stalls[1].Token, queueQuery, map[string]any{"s": stalls[1].ID}, "/queue?seller=" + stalls[1].ID, false},
		{"sellers { waitingCount } (statements only)", 10, "", waitingQuery, map[string]any{"n": 10}, "", false},
		{"sellers { waitingCount } (statements only)", 50, "", waitingQuery, map[string]any{"n": 50}, "", false},
		{"sellers { menu }, cached", 10, "", sellersQuery, map[string]any{"n": 10}, "/sellers?first=10", true},
		{"sellers { menu }, cached", 50, "", sellersQuery, map[string]any{"n": 50}, "/sellers?first=50", true},
	}
	// The cached rows' server, on the same database.
	cachedSrv, err := e.startServer(ctx, serverDSN, false)
	if err != nil {
		return err
	}
	defer cachedSrv.stop()
	gc := newGQL(cachedSrv.url, clients)
	gqlFor := func(k queryKind) *gqlClient {
		if k.cached {
			return gc
		}
		return g
	}
	hc := newHTTPClient(clients)
	rawGet := func(ctx context.Context, k queryKind) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base.url+k.raw, nil)
		if k.token != "" {
			req.Header.Set("Authorization", "Bearer "+k.token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
		}
		return b, err
	}

	// The same JSON on both sides, or the comparison means nothing.
	same := true
	var diffs []string
	for _, k := range kinds {
		if k.raw == "" {
			continue
		}
		gb, err := gqlFor(k).do(ctx, k.token, k.gql, k.vars, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		rb, err := rawGet(ctx, k)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", k.name, err)
		}
		var gv, rv any
		_ = json.Unmarshal(gb, &gv)
		_ = json.Unmarshal(rb, &rv)
		if !reflect.DeepEqual(gv, rv) {
			same = false
			d := jsonDiff("", gv, rv)
			diffs = append(diffs, fmt.Sprintf("%s/%d at %s", k.name, k.page, d))
			fmt.Printf("  %s %d: responses differ at %s\n    GraphQL:  %.300s\n    baseline: %.300s\n", k.name, k.page, d, gb, rb)
		}
	}

	counts, err := e.countQueryStatements(ctx, serverDSN, sqlDSN, kinds)
	if err != nil {
		return err
	}

	s := &section{
		key:   "query",
		title: "query: sellers with menus and queue with tickets, GraphQL vs plain net/http",
		intro: fmt.Sprintf("%d closed-loop clients; %s measured per row and side in %d alternating rounds after %s of warm-up each. "+
			"Baseline: a plain `net/http` handler (a subprocess of the bench, its own pool of 16 with the server's driver settings) that runs the SQL a hand-written server would (sellers page + one `IN` query for the menus; session lookup + tickets + one `IN` query for their sellers) and writes the same JSON (GraphQL and baseline responses compared after decoding: %s). "+
			"60 paid stalls with %d menu items each; queue rows read a stall with 10 and one with 50 active tickets. "+
			"Both sides' load clients do the same work per request (a prepared request; the whole answer read; its status checked and, for GraphQL, that it holds no \"errors\" key), since they share the 2 cores with the servers; CPU ms per request (callme or baseline, MariaDB, load client) is printed per row. "+
			"callme runs with its default garbage-collector target (`-gc-percent 400`) and the baseline with the same (`GOGC=400`). "+
			"Statements per request are counted on the wire (a proxy in front of MariaDB, on a second server and baseline, %d sequential requests after warm-up); GraphQL requests for `queue` include the session lookup, as the baseline does. "+
			"Rows without \"cached\" run callme with its public response cache off (`-public-cache 0`); the cached rows run a second callme on the same database with the default (`-public-cache 1s`: anonymous reads of stalls and menus answered from memory, cleared by any write to a stall; the baseline caches nothing).",
			clients, dur, rounds, warm, map[bool]string{true: "identical", false: "**they differ**"}[same], menuPerStall, countedRequests),
		header: []string{"query", "page", "GraphQL req/s", "raw req/s", "ratio", "GraphQL p50 ms", "GraphQL p99 ms", "raw p50 ms", "raw p99 ms", "p99 ratio", "GraphQL stmts/req", "raw stmts/req"},
	}
	failed := !same
	if !same {
		s.notes = append(s.notes, "**Responses differ** (GraphQL vs baseline): "+strings.Join(diffs, "; ")+".")
	}
	var misses []string
	for i, k := range kinds {
		c := counts[i]
		if k.raw == "" {
			s.add(k.name, strconv.Itoa(k.page), "–", "–", "–", "–", "–", "–", "–", "–", c[0], "–")
			continue
		}
		var gq, rw loadResult
		var gcpu, rcpu cpuSnap
		for round := range rounds {
			var prof <-chan string
			if round == 0 && (i == 0 || i == 3) {
				prof = e.startProfile(ctx, srv, warm, sub, fmt.Sprintf("query-%d", i))
			}
			spid := srv.pid
			if k.cached {
				spid = cachedSrv.pid
			}
			c0 := e.cpuNow(spid)
			gb := body(k.gql, k.vars)
			gq = gq.merge(runLoad(ctx, clients, warm, sub, func(ctx context.Context, _ int) error {
				return gqlFor(k).send(ctx, k.token, gb)
			}))
			gcpu = gcpu.add(e.cpuNow(spid).sub(c0))
			if prof != nil {
				fmt.Println(<-prof)
			}
			c0 = e.cpuNow(base.pid)
			rw = rw.merge(runLoad(ctx, clients, warm, sub, func(ctx context.Context, _ int) error {
				_, err := rawGet(ctx, k)
				return err
			}))
			rcpu = rcpu.add(e.cpuNow(base.pid).sub(c0))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, x := range []struct {
			side string
			r    loadResult
		}{{"GraphQL", gq}, {"raw", rw}} {
			if x.r.firstErr != nil {
				fmt.Printf("    %s %s: %d errors, first: %v\n", k.name, x.side, x.r.errs, x.r.firstErr)
				failed = true
			}
		}
		gp, rp := pcts(gq.lat, 50, 99), pcts(rw.lat, 50, 99)
		s.add(k.name, strconv.Itoa(k.page),
			fmt.Sprintf("%.0f", gq.rate()), fmt.Sprintf("%.0f", rw.rate()), ratio(gq.rate(), rw.rate()),
			ms(gp[0]), ms(gp[1]), ms(rp[0]), ms(rp[1]), ratio(float64(gp[1]), float64(rp[1])),
			c[0], c[1])
		fmt.Printf("  %s %d: GraphQL %.0f/s p99 %s ms, raw %.0f/s p99 %s ms, statements %s vs %s\n    CPU ms per request: GraphQL %s; raw %s\n",
			k.name, k.page, gq.rate(), ms(gp[1]), rw.rate(), ms(rp[1]), c[0], c[1], gcpu.perOp(gq.all), rcpu.perOp(rw.all))
		if gq.rate() < 0.8*rw.rate() {
			misses = append(misses, fmt.Sprintf("%s/%d throughput %s", k.name, k.page, ratio(gq.rate(), rw.rate())))
		}
		if float64(gp[1]) > 1.5*float64(rp[1]) {
			misses = append(misses, fmt.Sprintf("%s/%d p99 %s", k.name, k.page, ratio(float64(gp[1]), float64(rp[1]))))
		}
	}
	for i := 0; i+1 < len(kinds); i += 2 {
		if counts[i][0] != counts[i+1][0] {
			misses = append(misses, fmt.Sprintf("%s statements grow with the page (%s at %d, %s at %d)",
				kinds[i].name, counts[i][0], kinds[i].page, counts[i+1][0], kinds[i+1].page))
		}
	}
	if len(misses) == 0 {
		s.notes = append(s.notes, "Targets (≥ 0.8× throughput, p99 ≤ 1.5×, statements independent of the page size): all met.")
	} else {
		s.notes = append(s.notes, "Targets (≥ 0.8× throughput, p99 ≤ 1.5×, statements independent of the page size) missed: "+strings.Join(misses, "; ")+".")
	}
	e.publish(ctx, s)
	if failed {
		return errCheckFailed
	}
	return nil
}

const countedRequests = 20

// countQueryStatements returns, per kind, GraphQL and baseline statements
// per request ("3.0 (5.0)": statements, round trips with prepares).
func (e *env) countQueryStatements(ctx context.Context, serverDSN, sqlDSN string, kinds []queryKind) ([][2]string, error) {
	p, err := sqlwire.Start(mysqlAddr(e.o.mysql))
	if err != nil {
		return nil, err
	}
	defer p.Close()
	srv, err := e.startServer(ctx, viaProxy(serverDSN, e.o.mysql, p.Addr()), false, "-public-cache", "0")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	cachedSrv, err := e.startServer(ctx, viaProxy(serverDSN, e.o.mysql, p.Addr()), false)
	if err != nil {
		return nil, err
	}
	defer cachedSrv.stop()
	gc := newGQL(cachedSrv.url, 2)
	base, err := e.startHelper(ctx, "_query-baseline", "-dsn", viaProxy(sqlDSN, e.o.mysql, p.Addr()), "-conns", "16")
	if err != nil {
		return nil, err
	}
	defer base.stop()
	g := newGQL(srv.url, 2)
	hc := newHTTPClient(2)
	out := make([][2]string, len(kinds))
	for i, k := range kinds {
		gk := g
		if k.cached {
			gk = gc
		}
		sides := []func() error{
			func() error { _, err := gk.do(ctx, k.token, k.gql, k.vars, nil); return err },
		}
		if k.raw != "" {
			sides = append(sides, func() error {
				req, _ := http.NewRequestWithContext(ctx, "GET", base.url+k.raw, nil)
				if k.token != "" {
					req.Header.Set("Authorization", "Bearer "+k.token)
				}
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("HTTP %d", resp.StatusCode)
				}
				return nil
			})
		}
		for j, f := range sides {
			for range 3 {
				if err := f(); err != nil {
					return nil, fmt.Errorf("%s: %w", k.name, err)
				}
			}
			if e.o.verbose {
				p.StartRecording()
				_ = f()
				fmt.Printf("SQL of %s %d (%s):\n%s\n", k.name, k.page, []string{"GraphQL", "baseline"}[j], p.StopRecording())
			}
			before := p.Snapshot()
			for range countedRequests {
				if err := f(); err != nil {
					return nil, fmt.Errorf("%s: %w", k.name, err)
				}
			}
			c := p.Snapshot().Sub(before)
			out[i][j] = fmt.Sprintf("%.1f (%.1f)", float64(c.Statements())/countedRequests, float64(c.RoundTrips())/countedRequests)
		}
	}
	return out, nil
}

// queryBaselineMain serves the hand-written equivalents of the two queries.
func queryBaselineMain(args []string) error {
	fs := flag.NewFlagSet("_query-baseline", flag.ContinueOnError)
	dsn := fs.String("dsn", "", "database/sql DSN")
	conns := fs.Int("conns", 16, "pool size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := sqlDB(*dsn, *conns)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return err
	}
	h := &queryBaseline{db: db, loc: loc}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sellers", h.sellers)
	mux.HandleFunc("GET /queue", h.queue)
	return serveHelper(mux)
}

type queryBaseline struct {
	db  *sql.DB
	loc *time.Location
}

type menuJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents *int64 `json:"priceCents"`
	Available  bool   `json:"available"`
}

type sellerJSON struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	Prefix string     `json:"prefix"`
	Open   bool       `json:"open"`
	Menu   []menuJSON `json:"menu"`
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, err error) {
	http.Error(w, err.Error(), code)
}

func (h *queryBaseline) sellers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	first, err := strconv.Atoi(r.URL.Query().Get("first"))
	if err != nil || first < 0 || first > 100 {
		fail(w, 400, errors.New("bad first"))
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	rows, err := h.db.QueryContext(ctx, "SELECT `sellers`.`id`, `sellers`.`name`, `sellers`.`prefix`, `sellers`.`open`, `sellers`.`created_at` FROM `sellers` WHERE `sellers`.`paid_until` > ? ORDER BY `sellers`.`created_at`, `sellers`.`id` LIMIT "+strconv.Itoa(first+1), now)
	if err != nil {
		fail(w, 500, err)
		return
	}
	var list []*sellerJSON
	byID := map[string]*sellerJSON{}
	for rows.Next() {
		var s sellerJSON
		var created time.Time
		if err := rows.Scan(&s.ID, &s.Name, &s.Prefix, &s.Open, &created); err != nil {
			rows.Close()
			fail(w, 500, err)
			return
		}
		s.Menu = []menuJSON{}
		list = append(list, &s)
	}
	rows.Close()
	if len(list) > first {
		list = list[:first] // the extra row only tells hasNextPage
	}
	if len(list) > 0 {
		args := make([]any, len(list))
		for i, s := range list {
			args[i] = s.ID
			byID[s.ID] = s
		}
		rows, err := h.db.QueryContext(ctx, "SELECT `menu_items`.`id`, `menu_items`.`name`, `menu_items`.`price_cents`, `menu_items`.`available`, `menu_items`.`seller_id` FROM `menu_items` WHERE `menu_items`.`seller_id` IN (?"+strings.Repeat(", ?", len(list)-1)+") ORDER BY `menu_items`.`position`", args...)
		if err != nil {
			fail(w, 500, err)
			return
		}
		for rows.Next() {
			var m menuJSON
			var sid string
			if err := rows.Scan(&m.ID, &m.Name, &m.PriceCents, &m.Available, &sid); err != nil {
				rows.Close()
				fail(w, 500, err)
				return
			}
			if s := byID[sid]; s != nil {
				s.Menu = append(s.Menu, m)
			}
		}
		rows.Close()
	}
	type edge struct {
		Node *sellerJSON `json:"node"`
	}
	edges := make([]edge, len(list))
	for i, s := range list {
		edges[i] = edge{s}
	}
	writeJSON(w, map[string]any{"data": map[string]any{"sellers": map[string]any{"edges": edges}}})
}

func (h *queryBaseline) queue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sellerID := r.URL.Query().Get("seller")
	token := bearer(r.Header.Get("Authorization"))
	if token == "" {
		fail(w, 401, errors.New("no token"))
		return
	}
	// The session lookup callme does for every request with a token.
	sum := sha256.Sum256([]byte(token))
	var (
		sessID              int64
		userID, app, openid string
		lastSeen, expires   time.Time
		managed             sql.NullString
	)
	err := h.db.QueryRowContext(ctx, "SELECT `s`.`id`, `s`.`user_id`, `s`.`app`, `s`.`last_seen_at`, `s`.`expires_at`, `u`.`openid`, `st`.`id` FROM `sessions` AS `s` JOIN `users` AS `u` ON `s`.`user_id` = `u`.`id` LEFT JOIN `sellers` AS `st` ON `st`.`owner_id` = `u`.`id` WHERE `s`.`token_hash` = ?",
		hex.EncodeToString(sum[:])).Scan(&sessID, &userID, &app, &lastSeen, &expires, &openid, &managed)
	if err != nil {
		fail(w, 401, err)
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.Before(expires) || managed.String != sellerID {
		fail(w, 403, errors.New("forbidden"))
		return
	}
	if now.Sub(lastSeen) >= time.Minute {
		_, _ = h.db.ExecContext(ctx, "UPDATE `sessions` SET `last_seen_at` = ?, `expires_at` = ? WHERE `id` = ?", now, now.Add(30*time.Minute), sessID)
	}
	lt := now.In(h.loc).Add(-4 * time.Hour)
	y, m, d := lt.Date()
	day := y*10000 + int(m)*100 + d
	type sellerRef struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Prefix string `json:"prefix"`
	}
	type ticketJSON struct {
		ID        string     `json:"id"`
		Number    int        `json:"number"`
		Code      string     `json:"code"`
		Status    string     `json:"status"`
		Note      *string    `json:"note"`
		CreatedAt time.Time  `json:"createdAt"`
		Seller    *sellerRef `json:"seller"`
		sellerID  string
	}
	rows, err := h.db.QueryContext(ctx, "SELECT `tickets`.`id`, `tickets`.`number`, `tickets`.`code`, `tickets`.`status`, `tickets`.`note`, `tickets`.`created_at`, `tickets`.`seller_id` FROM `tickets` WHERE (`tickets`.`seller_id` = ? AND `tickets`.`business_day` = ?) AND `tickets`.`active_number` IS NOT NULL ORDER BY `tickets`.`business_day` ASC, `tickets`.`issue_seq` ASC", sellerID, day)
	if err != nil {
		fail(w, 500, err)
		return
	}
	list := []*ticketJSON{}
	ids := map[string]bool{}
	var args []any
	for rows.Next() {
		var t ticketJSON
		if err := rows.Scan(&t.ID, &t.Number, &t.Code, &t.Status, &t.Note, &t.CreatedAt, &t.sellerID); err != nil {
			rows.Close()
			fail(w, 500, err)
			return
		}
		list = append(list, &t)
		if !ids[t.sellerID] {
			ids[t.sellerID] = true
			args = append(args, t.sellerID)
		}
	}
	rows.Close()
	if len(args) > 0 {
		sellers := map[string]*sellerRef{}
		rows, err := h.db.QueryContext(ctx, "SELECT `sellers`.`id`, `sellers`.`name`, `sellers`.`prefix` FROM `sellers` WHERE `sellers`.`id` IN (?"+strings.Repeat(", ?", len(args)-1)+")", args...)
		if err != nil {
			fail(w, 500, err)
			return
		}
		for rows.Next() {
			var s sellerRef
			if err := rows.Scan(&s.ID, &s.Name, &s.Prefix); err != nil {
				rows.Close()
				fail(w, 500, err)
				return
			}
			sellers[s.ID] = &s
		}
		rows.Close()
		for _, t := range list {
			t.Seller = sellers[t.sellerID]
		}
	}
	writeJSON(w, map[string]any{"data": map[string]any{"queue": list}})
}

func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// serveHelper serves h on a loopback port, prints "listening URL" and runs
// until stdin closes (the bench ended) or SIGTERM.
func serveHelper(h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, stdin())
		ln.Close()
	}()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	err = srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// jsonDiff names the first place where two decoded JSON values differ.
func jsonDiff(path string, a, b any) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(av))
		for k := range av {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// An object's identity first: a different id means a different object.
		if i := slices.Index(keys, "id"); i > 0 {
			keys = append([]string{"id"}, slices.Delete(keys, i, i+1)...)
		}
		for _, k := range keys {
			if !reflect.DeepEqual(av[k], bv[k]) {
				return jsonDiff(path+"."+k, av[k], bv[k])
			}
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				return fmt.Sprintf("%s.%s (only in the baseline)", path, k)
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			break
		}
		for i := range av {
			if !reflect.DeepEqual(av[i], bv[i]) {
				return jsonDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])
			}
		}
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return fmt.Sprintf("%s: GraphQL %.80s, baseline %.80s", path, ja, jb)
}
