package main

import (
	"context"
	"fmt"
	"time"
)

// runPurge measures fetch latency while the retention sweep deletes a
// million call events past retention (issue 16), against the same load on
// the same database with the sweep off.
func runPurge(ctx context.Context, e *env) error {
	dur := e.o.duration
	if dur == 0 {
		dur = 4 * time.Second
	}
	warm := min(500*time.Millisecond, dur/4)
	rows := e.o.purgeRows
	const clients = 8
	dbName, serverDSN, sqlDSN, err := e.freshDB(ctx)
	if err != nil {
		return err
	}
	defer e.dropDB(dbName)
	srv, err := e.startServer(ctx, serverDSN, false, "-sweep-every", "0")
	if err != nil {
		return err
	}
	g := newGQL(srv.url, 64)
	stalls, _, err := g.setupStalls(ctx, e.o.sellers, e.o.sellers)
	if err != nil {
		srv.stop()
		return err
	}
	db, err := sqlDB(sqlDSN, 4)
	if err != nil {
		srv.stop()
		return err
	}
	defer db.Close()

	// A day 200 days ago at the first stall: one ticket and `rows` calls of
	// it (MariaDB's sequence engine makes them in one statement). The
	// stall's call_seq moves past them, as if they had been made by callme.
	old := time.Now().AddDate(0, 0, -200)
	oldDay := old.Year()*10000 + int(old.Month())*100 + old.Day()
	t0 := time.Now()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO tickets (id, business_day, number, code, issue_seq, status, issued_by, call_count, version, created_at, seller_id) VALUES ('TKbenchpurge', ?, 1, 'A001', 1, 'DONE', ?, 1, 1, ?, ?)",
			[]any{oldDay, stalls[0].UserID, old, stalls[0].ID}},
		{fmt.Sprintf("INSERT INTO call_events (business_day, seq, called_at, ticket_id, seller_id) SELECT ?, seq, ?, 'TKbenchpurge', ? FROM seq_1_to_%d", rows),
			[]any{oldDay, old, stalls[0].ID}},
		{"UPDATE sellers SET call_seq = ? WHERE id = ?", []any{rows, stalls[0].ID}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			srv.stop()
			return fmt.Errorf("loading old calls: %w", err)
		}
	}
	fmt.Printf("loaded %d old call events in %s\n", rows, time.Since(t0).Round(time.Millisecond))

	var next int
	fetch := func(ctx context.Context, _ int) error {
		next++ // racy on purpose: any spread over the stalls will do
		st := stalls[(next%len(stalls)+len(stalls))%len(stalls)]
		_, err := g.do(ctx, st.Token, fetchMutation, map[string]any{"s": st.ID}, nil)
		return err
	}
	quiet := runLoad(ctx, clients, warm, dur, fetch)
	srv.stop()

	// The same server with the sweep on: its first sweep starts a second
	// after start-up, and the load runs once it is deleting.
	srv, err = e.startServer(ctx, serverDSN, false, "-sweep-every", "1s")
	if err != nil {
		return err
	}
	defer srv.stop()
	g = newGQL(srv.url, 64) // a new port; the stalls and sessions are in the database
	purged := func() int {
		var n int
		_ = db.QueryRowContext(ctx, "SELECT COALESCE(SUM(purged_calls), 0) FROM day_counters").Scan(&n)
		return n
	}
	for purged() == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	p0 := purged()
	during := runLoad(ctx, clients, warm, dur, fetch)
	p1 := purged()
	srv.stop()
	// Quiet again, so that the order of the runs (a colder server first)
	// does not pass for the sweep's effect.
	srv, err = e.startServer(ctx, serverDSN, false, "-sweep-every", "0")
	if err != nil {
		return err
	}
	g = newGQL(srv.url, 64)
	after := runLoad(ctx, clients, warm, dur, fetch)

	q, d, a := pcts(quiet.lat, 50, 99), pcts(during.lat, 50, 99), pcts(after.lat, 50, 99)
	base := float64(q[1]+a[1]) / 2
	s := &section{
		key:   "purge",
		title: "purge: fetch latency while the retention sweep deletes old call events",
		intro: fmt.Sprintf("%d call events 200 days old at one of %d stalls; %d clients fetch in a closed loop over all stalls (as their sellers), %s measured after %s of warm-up: with the sweep off (`-sweep-every 0`), then on the same database with it on (`-sweep-every 1s`, default batch 500 and pause 100ms; measured once it is deleting), then off again. The p99 ratio is against the mean p99 of the two runs without it. "+
			"The sweep does not finish within the window; the table says how many rows it deleted meanwhile.", rows, len(stalls), clients, dur, warm),
		header: []string{"sweep", "fetches/s", "p50 ms", "p99 ms", "p99 ratio", "rows deleted in window", "errors"},
	}
	s.add("off", fmt.Sprintf("%.0f", quiet.rate()), ms(q[0]), ms(q[1]), ratio(float64(q[1]), base), "0", fmt.Sprint(quiet.errs))
	s.add("deleting", fmt.Sprintf("%.0f", during.rate()), ms(d[0]), ms(d[1]), ratio(float64(d[1]), base), fmt.Sprint(p1-p0), fmt.Sprint(during.errs))
	s.add("off again", fmt.Sprintf("%.0f", after.rate()), ms(a[0]), ms(a[1]), ratio(float64(a[1]), base), "0", fmt.Sprint(after.errs))
	if p1-p0 >= rows {
		s.notes = append(s.notes, "The sweep finished within the window: the second row is partly quiet.")
	}
	e.publish(ctx, s)
	if n := quiet.errs + during.errs + after.errs; n > 0 {
		return fmt.Errorf("%d failed fetches: %v %v %v", n, quiet.firstErr, during.firstErr, after.firstErr)
	}
	return nil
}
