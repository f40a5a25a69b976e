package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callme/internal/procstat"
	"callme/internal/pulid"
	"callme/internal/sqlwire"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // issue-sqlite's baselines
)

// runIssue: fetch through GraphQL vs the raw SQL of the same transaction.
func runIssue(ctx context.Context, e *env) error { return runIssueOn(ctx, e, false) }

// runIssueOn runs issue on MariaDB, or with lite on a SQLite file (callme's
// embedded default): the server on -db sqlite:PATH, the baselines through
// their own connection to the same file with the server's settings (WAL,
// synchronous FULL, BEGIN IMMEDIATE, one writer).
func runIssueOn(ctx context.Context, e *env, lite bool) error {
	// The box's speed changes from second to second (shared cores): in one
	// run the minimal transaction's rounds of 2 s ranged 3,300–4,400/s.
	// Four rounds of 2 s per side, alternated, let every side meet the
	// same changes; two rounds of 2 s had ratios swing by ±0.1 run to run.
	dur := e.o.duration
	if dur == 0 {
		dur = 8 * time.Second
	}
	rounds := e.o.rounds
	if rounds < 1 {
		rounds = 1
	}
	sub := dur / time.Duration(rounds)
	warm := min(500*time.Millisecond, sub/4)
	clients, err := intList(e.o.clients)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	var serverDSN, sqlDSN string
	var db *sql.DB
	if lite {
		path := filepath.Join(e.tmp, "issue.db")
		serverDSN = "sqlite:" + path
		// callme's write connection (internal/store): one, immediate.
		sqlDSN = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	} else {
		dbName, sDSN, qDSN, err := e.freshDB(ctx)
		if err != nil {
			return err
		}
		defer e.dropDB(dbName)
		serverDSN, sqlDSN = sDSN, qDSN
	}
	srv, err := e.startServer(ctx, serverDSN, e.o.pprof)
	if err != nil {
		return err
	}
	defer srv.stop()
	g := newGQL(srv.url, 256)
	stalls, _, err := g.setupStalls(ctx, e.o.sellers, e.o.sellers)
	if err != nil {
		return err
	}
	if lite {
		db, err = sql.Open("sqlite", sqlDSN) // after the server migrated the file
		db.SetMaxOpenConns(1)
	} else {
		db, err = sqlDB(sqlDSN, 16) // callme's default -db-max-conns
	}
	if err != nil {
		return err
	}
	defer db.Close()
	raw, err := newRawFetcher(ctx, db, lite)
	if err != nil {
		return err
	}

	// Customers for the owned-ticket rows: enough that none reaches the
	// cap of 3 active tickets within a run.
	customers, err := g.loginCustomers(ctx, 3000)
	if err != nil {
		return err
	}

	s := &section{
		key:   "issue",
		title: "issue: fetch through GraphQL vs callme's transaction in raw SQL vs the minimal transaction",
		intro: fmt.Sprintf("Closed loop: each client sends its next `fetch` when the last one returns; %s measured per point and side, in %d alternating rounds (GraphQL, raw, minimal, …) each after %s of warm-up. "+
			"Two kinds: walk-up (as the stall's seller: unowned tickets, no per-customer cap) and customer (owned tickets, cap 3 on, %d customers in turn, each of whom sent one request right before the customer points, so their sessions are in the server's session cache as a phone's are). "+
			"Baseline *raw*: callme's previous transaction (SELECT seller; for a customer SELECT user … FOR UPDATE and COUNT their active tickets; SELECT day_counters … FOR UPDATE; INSERT ticket; UPDATE day_counters; COMMIT, retried on deadlock) from a plain `database/sql` client in the bench process, with the same driver settings and pool size (16) as the server. "+
			"Baseline *minimal*: the least a durable ticket takes (UPDATE day_counters SET last_number = LAST_INSERT_ID(…); INSERT ticket; COMMIT; no checks). "+
			"The GraphQL load client posts each stall's fetch marshalled once and checks status and the absence of an \"errors\" key (every ticket is checked in SQL after the run, below). "+
			"Duplicates: active tickets sharing (seller, business day, number), checked in SQL after every run; also rows in `tickets` = the counters' sum ≥ successful fetches. Each side starts on an emptied `tickets` table, with no customer having taken a ticket yet (`users.took` reset: a customer's first three fetches of a day skip counting their active tickets), once InnoDB has purged what the side before left (history list below 50), so no side pays for another's deletes. "+
			"CPU ms/ticket: CPU time of server + MariaDB + bench process per ticket, warm-up included — on 2 cores this is what caps throughput.", dur, rounds, warm, len(customers)),
		header: []string{"kind", "sellers", "clients", "GraphQL tickets/s", "raw tickets/s", "minimal tickets/s", "vs raw", "vs minimal", "GraphQL p50 ms", "GraphQL p99 ms", "raw p99 ms", "minimal p99 ms", "duplicates", "errors", "GraphQL CPU ms/ticket"},
	}
	if lite {
		s.key = "issue-sqlite"
		s.title = "issue-sqlite: fetch on the embedded SQLite default vs callme's transaction in raw SQLite vs the minimal transaction"
		s.intro = fmt.Sprintf("As issue, on callme's default database: a SQLite file (`-db sqlite:PATH`) on local disk, no MariaDB. Closed loop; %s per point and side, %d alternating rounds after %s of warm-up each. "+
			"Walk-up and customer kinds as in issue (%d customers, cap 3 on). "+
			"Baseline *raw*: callme's general fetch transaction, which it ran for every fetch before its one-writer path and still runs for refusals and wraps (BEGIN IMMEDIATE; SELECT seller; for a customer COUNT their active tickets; SELECT day_counters; INSERT ticket; UPDATE day_counters; COMMIT) from a plain `database/sql` client in the bench process, on its own connection to the same file with the server's write settings (WAL, synchronous FULL, busy timeout 10 s, one connection: SQLite has one writer). "+
			"Baseline *minimal*: UPDATE day_counters … RETURNING last_number; INSERT ticket; COMMIT (no checks). "+
			"Duplicates and counters checked in SQL after every run. CPU ms/ticket: server + bench process.", dur, rounds, warm, len(customers))
	}
	failed := false
	var ratio32, cpu32 []string
	for _, kind := range []string{"walk-up", "customer"} {
		if kind == "customer" {
			if err := g.warmSessions(ctx, customers); err != nil {
				return err
			}
		}
		for _, topo := range []struct {
			name string
			n    int
		}{{"1 (hot)", 1}, {fmt.Sprintf("%d", len(stalls)), len(stalls)}} {
			use := stalls[:topo.n]
			for _, c := range clients {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var rr, cr atomic.Uint64
				pick := func() stall { return use[int(rr.Add(1))%len(use)] }
				bodies := map[string][]byte{} // each stall's fetch, marshalled once
				for _, st := range use {
					bodies[st.ID] = body(fetchMutation, map[string]any{"s": st.ID})
				}
				who := func() customer { return customers[int(cr.Add(1))%len(customers)] }
				sides := []func(ctx context.Context) error{
					func(ctx context.Context) error { // GraphQL
						st := pick()
						token := st.Token
						if kind == "customer" {
							token = who().Token
						}
						return g.send(ctx, token, bodies[st.ID])
					},
					func(ctx context.Context) error { // raw
						if kind == "customer" {
							_, err := raw.fetchFor(ctx, pick(), who().UserID)
							return err
						}
						_, err := raw.fetch(ctx, pick())
						return err
					},
					func(ctx context.Context) error { // minimal
						_, err := raw.minimal(ctx, pick())
						return err
					},
				}
				var res [3]loadResult
				var dups [3]int
				var checks [3]string
				var cpu [3]cpuSnap
				for round := range rounds {
					for i, side := range sides {
						if err := resetTickets(ctx, db); err != nil {
							return err
						}
						if err := raw.primeCounters(ctx, use); err != nil {
							return err
						}
						if !lite {
							waitPurge(ctx, db)
						}
						var prof <-chan string
						if i == 0 && round == 0 && c == 32 && topo.n > 1 {
							prof = e.startProfile(ctx, srv, warm, sub, "issue-fetch-32-"+kind)
						}
						c0 := e.cpuNow(srv.pid)
						r := runLoad(ctx, c, warm, sub, func(ctx context.Context, _ int) error { return side(ctx) })
						if prof != nil {
							fmt.Println(<-prof)
						}
						cpu[i] = cpu[i].add(e.cpuNow(srv.pid).sub(c0))
						if e.o.verbose {
							fmt.Printf("      round %d %s: %.0f/s\n", round, []string{"GraphQL", "raw", "minimal"}[i], r.rate())
						}
						d, msg := checkTickets(ctx, db, r.all)
						res[i], dups[i], checks[i] = res[i].merge(r), dups[i]+d, checks[i]+msg
					}
				}
				gq, rw, mn := res[0], res[1], res[2]
				gp, rp, mp := pcts(gq.lat, 50, 99), pcts(rw.lat, 50, 99), pcts(mn.lat, 50, 99)
				s.add(kind, topo.name, strconv.Itoa(c),
					fmt.Sprintf("%.0f", gq.rate()), fmt.Sprintf("%.0f", rw.rate()), fmt.Sprintf("%.0f", mn.rate()),
					ratio(gq.rate(), rw.rate()), ratio(gq.rate(), mn.rate()),
					ms(gp[0]), ms(gp[1]), ms(rp[1]), ms(mp[1]),
					fmt.Sprintf("%d / %d / %d", dups[0], dups[1], dups[2]), fmt.Sprintf("%d / %d / %d", gq.errs, rw.errs, mn.errs),
					cpu[0].perOp(gq.all))
				fmt.Printf("  %s sellers=%s clients=%d: GraphQL %.0f/s p99 %s ms, raw %.0f/s, minimal %.0f/s (%s, %s), dup %d/%d/%d\n",
					kind, topo.name, c, gq.rate(), ms(gp[1]), rw.rate(), mn.rate(), ratio(gq.rate(), rw.rate()), ratio(gq.rate(), mn.rate()), dups[0], dups[1], dups[2])
				// Everything shares the 2 cores: where each side's CPU went
				// tells what separates them (raw and minimal run in this
				// process, so their client is their whole Go side; the
				// server's CPU during their runs is its idle cost).
				fmt.Printf("    CPU ms per ticket: GraphQL %s; raw %s; minimal %s\n", cpu[0].perOp(gq.all), cpu[1].perOp(rw.all), cpu[2].perOp(mn.all))
				if c == 32 {
					ratio32 = append(ratio32, fmt.Sprintf("%s at %s sellers %s of raw, %s of minimal", kind, topo.name, ratio(gq.rate(), rw.rate()), ratio(gq.rate(), mn.rate())))
					cpu32 = append(cpu32, fmt.Sprintf("%s at %s sellers: GraphQL %s, raw %s, minimal %s", kind, topo.name, cpu[0].perOp(gq.all), cpu[1].perOp(rw.all), cpu[2].perOp(mn.all)))
				}
				for i, what := range []string{"GraphQL", "raw", "minimal"} {
					if res[i].firstErr != nil {
						fmt.Printf("    %s: %d errors, first: %v\n", what, res[i].errs, res[i].firstErr)
						failed = true
					}
					if checks[i] != "" || dups[i] != 0 {
						fmt.Printf("    %s: CHECK FAILED: %d duplicates %s\n", what, dups[i], checks[i])
						s.notes = append(s.notes, fmt.Sprintf("**check failed** (%s %s, %s sellers, %d clients): %d duplicates %s", kind, what, topo.name, c, dups[i], checks[i]))
						failed = true
					}
				}
			}
		}
	}
	if err := resetTickets(ctx, db); err != nil {
		return err
	}

	if lite {
		// No wire to count statements on, and the day's first fetches only
		// race on SQLite's single writer lock.
		s.notes = append(s.notes,
			fmt.Sprintf("Measured at 32 clients: %s.", strings.Join(ratio32, "; ")),
			"Errors are GraphQL / raw / minimal failed operations, warm-up included (0 expected). Each run starts with the day's counter rows in place.")
		e.publish(ctx, s)
		if failed {
			return errCheckFailed
		}
		return nil
	}

	// The day's first fetches, all at once: the counter rows do not exist
	// yet (the table above starts each run with them in place).
	cold, err := e.coldStart(ctx, g, raw, db, stalls)
	if err != nil {
		return err
	}

	// Statements per fetch, counted on the wire by a proxy in front of
	// MariaDB: a second callme and a second raw pool go through it.
	counts, err := e.countFetchStatements(ctx, serverDSN, sqlDSN, stalls[0])
	if err != nil {
		return err
	}
	s.notes = append(s.notes,
		fmt.Sprintf("Targets at 32 clients: ≥ 0.85× raw and ≥ 0.6× minimal. Measured: %s.", strings.Join(ratio32, "; ")),
		fmt.Sprintf("CPU ms per ticket of each side at 32 clients (raw and minimal run in the bench process, so their client is their whole Go side): %s.", strings.Join(cpu32, "; ")),
		counts,
		"Errors are GraphQL / raw failed operations, warm-up included (0 expected: rate limits are off with `-rate-* 0`). Each run starts with the day's counter rows in place (steady state); the day's first fetches are the next note.",
		cold,
	)
	e.publish(ctx, s)
	if failed {
		return errCheckFailed
	}
	return nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(p, "k"), "K"))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", p)
		}
		if strings.HasSuffix(p, "k") || strings.HasSuffix(p, "K") {
			n *= 1000
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// resetTickets starts a side as a day starts: no tickets, no counters, no
// calls, and no customer has taken a ticket yet (users.took goes with the
// tickets it bounds; left as it was, it would only grow from side to side,
// and a day of customers who each took dozens of tickets is not a day).
func resetTickets(ctx context.Context, db *sql.DB) error {
	for _, q := range []string{"DELETE FROM call_events", "DELETE FROM tickets", "DELETE FROM day_counters", "UPDATE sellers SET call_seq = 0", "UPDATE users SET took = 0, took_day = NULL"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// waitPurge waits (at most 30 s) until InnoDB has purged what the
// transactions before it left behind: the reset's DELETEs of the last
// side's tickets and that side's own undo logs. Otherwise the purge of one
// side's thousands of tickets runs during the next side's measurement and
// is charged to it (MariaDB's CPU per ticket of whichever side came after
// the busiest one rose by a third).
func waitPurge(ctx context.Context, db *sql.DB) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int64
		err := db.QueryRowContext(ctx, "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").Scan(&n)
		if err != nil || n < 50 {
			return // no such metric (MySQL names it the same; other servers may not): no wait
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Println("    (InnoDB purge still behind after 30 s; measuring anyway)")
}

// checkTickets counts active tickets sharing a number and checks that the
// rows match the successful fetches and the counters.
func checkTickets(ctx context.Context, db *sql.DB, succeeded int) (dups int, problem string) {
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT seller_id, business_day, number FROM tickets
		WHERE active_number IS NOT NULL GROUP BY seller_id, business_day, number HAVING COUNT(*) > 1) d`).Scan(&dups)
	if err != nil {
		return -1, err.Error()
	}
	var rows, issued int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM tickets").Scan(&rows); err != nil {
		return dups, err.Error()
	}
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(SUM(issued), 0) FROM day_counters").Scan(&issued); err != nil {
		return dups, err.Error()
	}
	// A fetch whose response was lost (client timeout) may still have
	// committed; with no errors the three must agree exactly.
	if rows != issued || rows < succeeded {
		return dups, fmt.Sprintf("(tickets %d, counters %d, successful fetches %d)", rows, issued, succeeded)
	}
	return dups, ""
}

// rawFetcher runs canteen.Fetch's transaction for a seller's unowned ticket
// with plain database/sql, statement for statement.
type rawFetcher struct {
	db        *sql.DB
	lite      bool // SQLite: no FOR UPDATE (BEGIN IMMEDIATE holds the one write lock), RETURNING for the minimal one
	loc       *time.Location
	hasPrefix bool // day_counters.prefix exists (the counter keeps the day's prefix)
	hasState  bool // day_counters.open exists (the counter keeps the stall's switch and term)
}

func newRawFetcher(ctx context.Context, db *sql.DB, lite bool) (*rawFetcher, error) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return nil, err
	}
	r := &rawFetcher{db: db, loc: loc, lite: lite}
	if r.hasPrefix, err = r.hasColumn(ctx, "prefix"); err != nil {
		return nil, err
	}
	if r.hasState, err = r.hasColumn(ctx, "open"); err != nil {
		return nil, err
	}
	return r, nil
}

// hasColumn tells whether day_counters has the column, so the bench runs
// against older revisions of callme too.
func (r *rawFetcher) hasColumn(ctx context.Context, name string) (bool, error) {
	var n int
	var err error
	if r.lite {
		err = r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info('day_counters') WHERE name = ?`, name).Scan(&n)
	} else {
		err = r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'day_counters' AND COLUMN_NAME = ?`, name).Scan(&n)
	}
	return n > 0, err
}

// businessDay is callme's default: Asia/Shanghai, days start at 04:00.
func (r *rawFetcher) businessDay(t time.Time) int {
	lt := t.In(r.loc).Add(-4 * time.Hour)
	y, m, d := lt.Date()
	return y*10000 + int(m)*100 + d
}

var errRawConflict = errors.New("raw: concurrent update, retry")

// rawRetries matches canteen.Config.TxRetries' default.
const rawRetries = 10

func (r *rawFetcher) fetch(ctx context.Context, st stall) (int, error) {
	return r.retry(ctx, func() (int, error) { return r.once(ctx, st, "") })
}

// fetchFor is fetch as callme ran a customer's: the user's row locked and
// their active tickets counted first.
func (r *rawFetcher) fetchFor(ctx context.Context, st stall, owner string) (int, error) {
	return r.retry(ctx, func() (int, error) { return r.once(ctx, st, owner) })
}

// minimal is the least a durable ticket takes: one UPDATE that bumps the
// counter and hands the number back through LAST_INSERT_ID, one INSERT,
// COMMIT. No open, paid, cap or wrap checks: the floor, not a rival.
func (r *rawFetcher) minimal(ctx context.Context, st stall) (int, error) {
	return r.retry(ctx, func() (n int, err error) {
		tx, err := r.db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		defer func() {
			if err != nil {
				_ = tx.Rollback()
			}
		}()
		now := time.Now().UTC().Truncate(time.Microsecond)
		day := r.businessDay(now)
		if r.lite {
			err = tx.QueryRowContext(ctx, "UPDATE `day_counters` SET `last_number` = `last_number` % `max_number` + 1, `issued` = `issued` + 1 WHERE `seller_id` = ? AND `business_day` = ? RETURNING `last_number`", st.ID, day).Scan(&n)
			if err != nil {
				return 0, err
			}
		} else {
			res, err := tx.ExecContext(ctx, "UPDATE `day_counters` SET `last_number` = LAST_INSERT_ID(`last_number` % `max_number` + 1), `issued` = `issued` + 1 WHERE `seller_id` = ? AND `business_day` = ?", st.ID, day)
			if err != nil {
				return 0, err
			}
			v, err := res.LastInsertId()
			if err != nil {
				return 0, err
			}
			n = int(v)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO `tickets` (`business_day`, `number`, `code`, `active_number`, `issue_seq`, `status`, `issued_by`, `call_count`, `version`, `created_at`, `seller_id`, `id`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			day, n, fmt.Sprintf("%s%04d", st.Prefix, n), n, n, "WAITING", st.UserID, 0, 1, now, st.ID, string(pulid.New("TK")))
		if err != nil {
			return 0, err
		}
		return n, tx.Commit()
	})
}

func (r *rawFetcher) retry(ctx context.Context, once func() (int, error)) (int, error) {
	var err error
	for attempt := 0; attempt <= rawRetries; attempt++ {
		if attempt > 0 {
			d := time.Duration(1<<min(attempt, 6))*time.Millisecond + time.Duration(rand.Int64N(int64(2*time.Millisecond)))
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(d):
			}
		}
		var n int
		n, err = once()
		if err == nil {
			return n, nil
		}
		var me *mysql.MySQLError
		if !errors.Is(err, errRawConflict) && !(errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1062)) {
			return 0, err
		}
	}
	return 0, err
}

// row reads one row of any shape into column name → bytes.
func row(rows *sql.Rows) (map[string]string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(cols))
	for i, c := range cols {
		if vals[i] != nil {
			m[c] = string(vals[i])
		}
	}
	return m, rows.Close()
}

func (r *rawFetcher) once(ctx context.Context, st stall, owner string) (number int, err error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// Every column, as ent reads the seller.
	rows, err := tx.QueryContext(ctx, "SELECT * FROM `sellers` WHERE `sellers`.`id` = ? LIMIT 2", st.ID)
	if err != nil {
		return 0, err
	}
	sel, err := row(rows)
	if err != nil {
		return 0, err
	}
	if sel == nil {
		return 0, errors.New("no such seller")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if sel["open"] != "1" {
		return 0, errors.New("seller closed")
	}
	maxNumber, _ := strconv.Atoi(sel["max_number"])
	prefix := sel["prefix"]
	day := r.businessDay(now)
	if owner != "" {
		if !r.lite { // SQLite: BEGIN IMMEDIATE already serializes writers
			if _, err = tx.ExecContext(ctx, "SELECT `id` FROM `users` WHERE `id` = ? FOR UPDATE", owner); err != nil {
				return 0, err
			}
		}
		var active int
		if err = tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM `tickets` WHERE `owner_id` = ? AND `business_day` = ? AND `active_number` IS NOT NULL", owner, day).Scan(&active); err != nil {
			return 0, err
		}
		if active >= 3 {
			return 0, errors.New("cap reached")
		}
	}

	lock := " FOR UPDATE"
	if r.lite {
		lock = ""
	}
	rows, err = tx.QueryContext(ctx, "SELECT * FROM `day_counters` WHERE `day_counters`.`seller_id` = ? AND `day_counters`.`business_day` = ? LIMIT 2"+lock, st.ID, day)
	if err != nil {
		return 0, err
	}
	ctr, err := row(rows)
	if err != nil {
		return 0, err
	}
	var id int64
	var last, issued int
	if ctr == nil {
		var res sql.Result
		if r.hasPrefix {
			res, err = tx.ExecContext(ctx, "INSERT INTO `day_counters` (`business_day`, `last_number`, `issued`, `max_number`, `prefix`, `seller_id`) VALUES (?, ?, ?, ?, ?, ?)",
				day, 0, 0, maxNumber, prefix, st.ID)
		} else {
			res, err = tx.ExecContext(ctx, "INSERT INTO `day_counters` (`business_day`, `last_number`, `issued`, `max_number`, `seller_id`) VALUES (?, ?, ?, ?, ?)",
				day, 0, 0, maxNumber, st.ID)
		}
		if err != nil {
			return 0, err
		}
		if id, err = res.LastInsertId(); err != nil {
			return 0, err
		}
	} else {
		id, _ = strconv.ParseInt(ctr["id"], 10, 64)
		last, _ = strconv.Atoi(ctr["last_number"])
		issued, _ = strconv.Atoi(ctr["issued"])
		maxNumber, _ = strconv.Atoi(ctr["max_number"])
		if p, ok := ctr["prefix"]; ok {
			prefix = p
		}
	}
	number = last%maxNumber + 1
	if issued >= maxNumber {
		// Wrapped: skip numbers still held (never reached with maxNumber 9999
		// in a bench point, kept for fidelity).
		held := map[int]bool{}
		rs, err := tx.QueryContext(ctx, "SELECT `active_number` FROM `tickets` WHERE `seller_id` = ? AND `business_day` = ? AND `active_number` IS NOT NULL", st.ID, day)
		if err != nil {
			return 0, err
		}
		for rs.Next() {
			var n int
			if err := rs.Scan(&n); err != nil {
				rs.Close()
				return 0, err
			}
			held[n] = true
		}
		rs.Close()
		number = 0
		for i := range maxNumber {
			if n := (last+i)%maxNumber + 1; !held[n] {
				number = n
				break
			}
		}
		if number == 0 {
			return 0, errors.New("numbers exhausted")
		}
	}
	code := fmt.Sprintf("%s%0*d", prefix, len(strconv.Itoa(maxNumber)), number)
	var ownerID any
	issuer := st.UserID
	if owner != "" {
		ownerID, issuer = owner, owner
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO `tickets` (`business_day`, `number`, `code`, `active_number`, `issue_seq`, `status`, `issued_by`, `owner_id`, `call_count`, `version`, `created_at`, `seller_id`, `id`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		day, number, code, number, issued+1, "WAITING", issuer, ownerID, 0, 1, now, st.ID, string(pulid.New("TK")))
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, "UPDATE `day_counters` SET `last_number` = ?, `issued` = ? WHERE `day_counters`.`id` = ? AND `day_counters`.`issued` = ?",
		number, issued+1, id, issued)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n != 1 {
		return 0, errRawConflict
	}
	if err = tx.Commit(); err != nil {
		return 0, err
	}
	return number, nil
}

// primeCounters creates today's counter rows of the stalls, as the day's
// first fetch would.
func (r *rawFetcher) primeCounters(ctx context.Context, stalls []stall) error {
	day := r.businessDay(time.Now())
	for _, st := range stalls {
		var err error
		switch {
		case r.hasState:
			_, err = r.db.ExecContext(ctx, "INSERT INTO `day_counters` (`business_day`, `last_number`, `issued`, `max_number`, `prefix`, `seller_id`, `open`, `paid_until`) SELECT ?, 0, 0, `max_number`, `prefix`, `id`, `open`, `paid_until` FROM `sellers` WHERE `id` = ?", day, st.ID)
		case r.hasPrefix:
			_, err = r.db.ExecContext(ctx, "INSERT INTO `day_counters` (`business_day`, `last_number`, `issued`, `max_number`, `prefix`, `seller_id`) SELECT ?, 0, 0, `max_number`, `prefix`, `id` FROM `sellers` WHERE `id` = ?", day, st.ID)
		default:
			_, err = r.db.ExecContext(ctx, "INSERT INTO `day_counters` (`business_day`, `last_number`, `issued`, `max_number`, `seller_id`) SELECT ?, 0, 0, `max_number`, `id` FROM `sellers` WHERE `id` = ?", day, st.ID)
		}
		if err != nil {
			return fmt.Errorf("priming counters: %w", err)
		}
	}
	return nil
}

// coldStart fires the day's first fetches at once, with no counter rows
// yet: 128 at one stall, then 8 at each of the stalls; it describes the
// failures on both sides.
func (e *env) coldStart(ctx context.Context, g *gqlClient, raw *rawFetcher, db *sql.DB, stalls []stall) (string, error) {
	type shape struct {
		name   string
		stalls []stall
		each   int
	}
	shapes := []shape{{"128 at one stall", stalls[:1], 128}, {fmt.Sprintf("8 at each of %d stalls", len(stalls)), stalls, 8}}
	var parts []string
	for _, sh := range shapes {
		for _, side := range []string{"GraphQL", "raw"} {
			if err := resetTickets(ctx, db); err != nil {
				return "", err
			}
			var wg sync.WaitGroup
			var failed atomic.Int64
			var first atomic.Value
			start := make(chan struct{})
			for _, st := range sh.stalls {
				for range sh.each {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						var err error
						if side == "GraphQL" {
							_, err = g.do(ctx, st.Token, fetchMutation, map[string]any{"s": st.ID}, nil)
						} else {
							_, err = raw.fetch(ctx, st)
						}
						if err != nil {
							failed.Add(1)
							first.CompareAndSwap(nil, err.Error())
						}
					}()
				}
			}
			close(start)
			wg.Wait()
			dups, problem := checkTickets(ctx, db, 0)
			msg := fmt.Sprintf("%s %s: %d of %d failed", sh.name, side, failed.Load(), len(sh.stalls)*sh.each)
			if f, _ := first.Load().(string); f != "" {
				msg += fmt.Sprintf(" (%.90s)", f)
			}
			if dups != 0 || problem != "" {
				msg += fmt.Sprintf(", **%d duplicates %s**", dups, problem)
			}
			parts = append(parts, msg)
			fmt.Println("  cold start: " + msg)
		}
	}
	if err := resetTickets(ctx, db); err != nil {
		return "", err
	}
	return fmt.Sprintf("The day's first fetches at once (no counter row yet; canteen.Fetch and the raw client both retry a deadlock up to %d times): %s.", rawRetries, strings.Join(parts, "; ")), nil
}

// countFetchStatements runs fetches through a second callme and a second raw
// pool, both behind a counting proxy, and describes the statements per fetch.
func (e *env) countFetchStatements(ctx context.Context, serverDSN, sqlDSN string, st stall) (string, error) {
	p, err := sqlwire.Start(mysqlAddr(e.o.mysql))
	if err != nil {
		return "", err
	}
	defer p.Close()
	srv, err := e.startServer(ctx, viaProxy(serverDSN, e.o.mysql, p.Addr()), false)
	if err != nil {
		return "", err
	}
	defer srv.stop()
	g := newGQL(srv.url, 2)
	db, err := sqlDB(viaProxy(sqlDSN, e.o.mysql, p.Addr()), 16)
	if err != nil {
		return "", err
	}
	defer db.Close()
	raw, err := newRawFetcher(ctx, db, false)
	if err != nil {
		return "", err
	}
	// Each customer stays under the cap of 3: n fetches over n customers.
	const n = 50
	custs, err := g.loginCustomers(ctx, 5*n)
	if err != nil {
		return "", err
	}
	var ci int
	nextCustomer := func() customer { ci++; return custs[ci%len(custs)] }
	kinds := []struct {
		name string
		f    func() error
	}{
		{"GraphQL walk-up", func() error {
			_, err := g.do(ctx, st.Token, fetchMutation, map[string]any{"s": st.ID}, nil)
			return err
		}},
		{"GraphQL customer", func() error {
			_, err := g.do(ctx, nextCustomer().Token, fetchMutation, map[string]any{"s": st.ID}, nil)
			return err
		}},
		{"raw walk-up", func() error { _, err := raw.fetch(ctx, st); return err }},
		{"raw customer", func() error { _, err := raw.fetchFor(ctx, st, nextCustomer().UserID); return err }},
		{"minimal", func() error { _, err := raw.minimal(ctx, st); return err }},
	}
	var parts []string
	for _, k := range kinds {
		for range 5 { // warm the pool and the session cache: not per request
			if err := k.f(); err != nil {
				return "", fmt.Errorf("%s: %w", k.name, err)
			}
		}
		if k.name == "GraphQL customer" {
			// Phones ask something else first (their tickets, the stalls), so
			// their session is in the cache when they fetch.
			for i := 1; i <= n+6; i++ {
				if _, err := g.do(ctx, custs[(ci+i)%len(custs)].Token, `{ me { id } }`, nil, nil); err != nil {
					return "", err
				}
			}
		}
		if e.o.verbose {
			p.StartRecording()
			_ = k.f()
			fmt.Printf("SQL of one fetch (%s):\n%s\n", k.name, p.StopRecording())
		}
		before := p.Snapshot()
		for range n {
			if err := k.f(); err != nil {
				return "", fmt.Errorf("%s: %w", k.name, err)
			}
		}
		c := p.Snapshot().Sub(before)
		parts = append(parts, fmt.Sprintf("%s %.1f (%.1f)", k.name, float64(c.RoundTrips())/n, float64(c.Statements())/n))
		fmt.Printf("  statements per fetch, %s: %.1f (%.1f round trips)\n", k.name, float64(c.Statements())/n, float64(c.RoundTrips())/n)
	}
	if err := resetTickets(ctx, db); err != nil {
		return "", err
	}
	return "Round trips per fetch (and statements, BEGIN and COMMIT included; a batch is one round trip of several statements), counted on the wire by a proxy in front of MariaDB: " + strings.Join(parts, ", ") +
		". A customer's session comes from the per-instance session cache (`-session-cache`, 5 minutes, cleared on logout through the broker); a request that misses it adds the session lookup.", nil
}

// mysqlAddr is host:port of the -mysql DSN.
func mysqlAddr(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil || cfg.Addr == "" {
		return "127.0.0.1:3306"
	}
	return cfg.Addr
}

// viaProxy points a DSN (with or without mysql://) at the proxy.
func viaProxy(dsn, base, proxy string) string {
	return strings.Replace(dsn, "tcp("+mysqlAddr(base)+")", "tcp("+proxy+")", 1)
}

// cpuSnap is the CPU time (s) of the server, MariaDB and this process.
type cpuSnap struct{ server, db, bench float64 }

func (a cpuSnap) sub(b cpuSnap) cpuSnap {
	return cpuSnap{a.server - b.server, a.db - b.db, a.bench - b.bench}
}

func (a cpuSnap) add(b cpuSnap) cpuSnap {
	return cpuSnap{a.server + b.server, a.db + b.db, a.bench + b.bench}
}

// perOp shows the total and its parts in ms per operation.
func (a cpuSnap) perOp(n int) string {
	if n == 0 {
		return "–"
	}
	f := func(x float64) float64 { return x * 1000 / float64(n) }
	if a.server == 0 {
		return fmt.Sprintf("%.2f (db %.2f, client %.2f)", f(a.db+a.bench), f(a.db), f(a.bench))
	}
	return fmt.Sprintf("%.2f (srv %.2f, db %.2f, client %.2f)", f(a.server+a.db+a.bench), f(a.server), f(a.db), f(a.bench))
}

// cpuNow reads the CPU time of the server, MariaDB (when it runs on this
// machine, visible in /proc) and this process.
func (e *env) cpuNow(serverPID int) cpuSnap {
	var c cpuSnap
	if serverPID > 0 {
		if p, err := readProc(serverPID); err == nil {
			c.server = p.CPU
		}
	}
	if pid := e.dbPID(); pid > 0 {
		if p, err := readProc(pid); err == nil {
			c.db = p.CPU
		}
	}
	if p, err := readProc(os.Getpid()); err == nil {
		c.bench = p.CPU
	}
	return c
}

// dbPID finds mariadbd (or mysqld) in /proc, once.
func (e *env) dbPID() int {
	e.dbPIDOnce.Do(func() { e.dbPIDv = procstat.DBPID() })
	return e.dbPIDv
}
