package canteen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/consolechallenge"
	"callme/ent/daycounter"
	"callme/ent/lease"
	"callme/ent/notification"
	"callme/ent/notifygrant"
	"callme/ent/session"
	"callme/ent/ticket"
	"callme/internal/pulid"
)

// Retention says how long callme keeps what, and how the sweep that removes
// the rest paces itself. See README "What callme keeps".
type Retention struct {
	// Records is how long call events, notifications and notification
	// grants are kept (default 90 days). The calls of the current and the
	// previous business day are always kept: boards resume from them with
	// `after`.
	Records time.Duration
	// PersonalData is how long tickets keep their note and their owner
	// (default 180 days). Notifications and grants, which carry user ids
	// and notes, never outlive it either.
	PersonalData time.Duration
	// Every is how often an instance tries to sweep (default an hour;
	// negative: never). One instance at a time sweeps, under a lease.
	Every time.Duration
	// Batch is how many rows one statement touches (default 500); Pause is
	// the rest between two batches (default 100ms), so fetches and calls
	// never wait behind the sweep for long.
	Batch int
	Pause time.Duration
	// OnBatch, when set, runs after every batch while the lease is held
	// (tests hold the sweep there).
	OnBatch func(job string, rows int)
}

func (r *Retention) setDefaults() {
	if r.Records <= 0 {
		r.Records = 90 * 24 * time.Hour
	}
	if r.PersonalData <= 0 {
		r.PersonalData = 180 * 24 * time.Hour
	}
	if r.Every == 0 {
		r.Every = time.Hour
	}
	if r.Batch <= 0 {
		r.Batch = 500
	}
	if r.Pause < 0 {
		r.Pause = 0
	} else if r.Pause == 0 {
		r.Pause = 100 * time.Millisecond
	}
}

const (
	// lifecycleLease names the lease row of the sweep.
	lifecycleLease = "lifecycle"
	// leaseTTL outlasts any one batch and pause; the holder renews it after
	// each batch, and an instance that died mid-sweep frees it by expiry.
	leaseTTL = 5 * time.Minute
	// minKept: whatever the settings, two business days of records stay.
	minKept = 48 * time.Hour
)

// SweepReport is what one sweep removed.
type SweepReport struct {
	// Ran is false when another instance held the lease.
	Ran bool
	// Rows deleted (Sessions, ConsoleLogins, Calls, Notifications, Grants)
	// and tickets whose note and owner were cleared (Tickets).
	Sessions, ConsoleLogins, Calls, Notifications, Grants, Tickets int
}

func newHolder() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RunLifecycle sweeps every Retention.Every until ctx ends. The first sweep
// waits a minute (or Every, if shorter), so starting instances serve first.
func (s *Service) RunLifecycle(ctx context.Context) {
	every := s.cfg.Retention.Every
	if every < 0 {
		return
	}
	t := time.NewTimer(min(every, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.Sweep(ctx)
		if err == nil {
			s.swept.Store(s.cfg.Now().Unix())
		}
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "data lifecycle sweep", "err", err)
		case rep.Sessions+rep.ConsoleLogins+rep.Calls+rep.Notifications+rep.Grants+rep.Tickets > 0:
			s.log.InfoContext(ctx, "data lifecycle sweep", "sessions", rep.Sessions, "console_logins", rep.ConsoleLogins, "calls", rep.Calls,
				"notifications", rep.Notifications, "grants", rep.Grants, "tickets_anonymised", rep.Tickets)
		}
		t.Reset(every)
	}
}

// errLeaseLost stops a sweep whose lease expired under it (a batch stalled
// past leaseTTL); another instance may be sweeping now.
var errLeaseLost = errors.New("canteen: the lifecycle lease expired during the sweep")

// Sweep removes what is past retention, if this instance gets the lease:
// expired sessions and console logins; call events, notifications and grants older than
// Records; the note and owner of tickets older than PersonalData. It works
// in batches of Retention.Batch rows, each its own short statement or
// transaction, pausing between them.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	mark, ok, err := s.takeLease(ctx)
	if err != nil || !ok {
		return rep, err
	}
	rep.Ran = true
	defer s.releaseLease(context.WithoutCancel(ctx))

	r := s.cfg.Retention
	now := s.now()
	y, m, d := s.businessDate(now)
	keepFrom := s.dayStart(y, m, d).Add(-time.Nanosecond) // in the previous business day
	callsBefore := min(s.BusinessDay(now.Add(-r.Records)), s.BusinessDay(keepFrom))
	recordsBefore := now.Add(-max(minKept, min(r.Records, r.PersonalData)))
	personalBefore := min(s.BusinessDay(now.Add(-r.PersonalData)), s.BusinessDay(keepFrom))

	jobs := []struct {
		name  string
		count *int
		batch func(context.Context, int) (int, error)
	}{
		{"sessions", &rep.Sessions, func(ctx context.Context, n int) (int, error) {
			ids, err := s.db.Session.Query().Where(session.ExpiresAtLT(now)).Limit(n).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return s.db.Session.Delete().Where(session.IDIn(ids...), session.ExpiresAtLT(now)).Exec(ctx)
		}},
		// Expired console logins, used or not: they can never be used again.
		{"console logins", &rep.ConsoleLogins, func(ctx context.Context, n int) (int, error) {
			ids, err := s.db.ConsoleChallenge.Query().Where(consolechallenge.ExpiresAtLT(now)).Limit(n).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return s.db.ConsoleChallenge.Delete().Where(consolechallenge.IDIn(ids...)).Exec(ctx)
		}},
		{"calls", &rep.Calls, func(ctx context.Context, n int) (int, error) { return s.purgeCalls(ctx, callsBefore, n) }},
		{"notifications", &rep.Notifications, func(ctx context.Context, n int) (int, error) {
			ids, err := s.db.Notification.Query().Where(notification.CreatedAtLT(recordsBefore)).Limit(n).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return s.db.Notification.Delete().Where(notification.IDIn(ids...)).Exec(ctx)
		}},
		{"grants", &rep.Grants, func(ctx context.Context, n int) (int, error) {
			ids, err := s.db.NotifyGrant.Query().Where(notifygrant.CreatedAtLT(recordsBefore)).Limit(n).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return s.db.NotifyGrant.Delete().Where(notifygrant.IDIn(ids...)).Exec(ctx)
		}},
		// Tickets stay (sellerStats counts them), without who held them and
		// what they asked for. Days before mark were cleared by an earlier
		// sweep, so each sweep reads only the days that aged since.
		{"personal data", &rep.Tickets, func(ctx context.Context, n int) (int, error) {
			ids, err := s.db.Ticket.Query().
				Where(ticket.BusinessDayGTE(mark), ticket.BusinessDayLT(personalBefore),
					ticket.Or(ticket.NoteNotNil(), ticket.OwnerIDNotNil())).
				Limit(n).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return s.db.Ticket.Update().Where(ticket.IDIn(ids...)).ClearNote().ClearOwnerID().Save(ctx)
		}},
	}
	for _, j := range jobs {
		for {
			n, err := j.batch(ctx, r.Batch)
			*j.count += n
			if err != nil {
				return rep, err
			}
			if r.OnBatch != nil {
				r.OnBatch(j.name, n)
			}
			if n < r.Batch {
				break
			}
			if err := s.renewLease(ctx); err != nil {
				return rep, err
			}
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(r.Pause):
			}
		}
	}
	// Personal data before personalBefore is gone: later sweeps start there.
	_, err = s.db.Lease.Update().Where(lease.Name(lifecycleLease), lease.Holder(s.holder)).SetMark(personalBefore).Save(ctx)
	return rep, err
}

// purgeCalls deletes up to n call events of days before `before`, in one
// transaction that adds them to their day's purged_calls first, so
// sellerStats counts every call once, before and after.
func (s *Service) purgeCalls(ctx context.Context, before, n int) (int, error) {
	deleted := 0
	err := s.inTx(ctx, func(tx *txn) error {
		q := tx.CallEvent.Query().Where(callevent.BusinessDayLT(before)).Limit(n)
		if s.forUpdate() {
			q = q.ForUpdate()
		}
		evs, err := q.Select(callevent.FieldID, callevent.FieldSellerID, callevent.FieldBusinessDay).All(ctx)
		if err != nil || len(evs) == 0 {
			deleted = 0
			return err
		}
		type key struct {
			seller pulid.ID
			day    int
		}
		counts := map[key]int{}
		ids := make([]int, len(evs))
		for i, ev := range evs {
			counts[key{ev.SellerID, ev.BusinessDay}]++
			ids[i] = ev.ID
		}
		for k, c := range counts {
			upd, err := tx.DayCounter.Update().Where(daycounter.SellerID(k.seller), daycounter.BusinessDay(k.day)).AddPurgedCalls(c).Save(ctx)
			if err != nil {
				return err
			}
			if upd == 0 { // no counter (a database older than counters)
				if err := tx.DayCounter.Create().SetSellerID(k.seller).SetBusinessDay(k.day).SetMaxNumber(999).SetPurgedCalls(c).Exec(ctx); err != nil {
					return err
				}
			}
		}
		deleted, err = tx.CallEvent.Delete().Where(callevent.IDIn(ids...)).Exec(ctx)
		if err == nil && deleted != len(ids) {
			return errConflict // somebody else deleted some: count again
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// takeLease takes the sweep's lease if it is free or expired, and returns
// its mark. Whether it got the lease is read back, not taken from the
// update's row count: MySQL counts only rows whose values changed, and a
// renewal under a stopped test clock changes nothing.
func (s *Service) takeLease(ctx context.Context) (mark int, ok bool, err error) {
	now := s.now()
	_, err = s.db.Lease.Update().
		Where(lease.Name(lifecycleLease), lease.Or(lease.ExpiresAtLTE(now), lease.Holder(s.holder))).
		SetHolder(s.holder).SetExpiresAt(now.Add(leaseTTL)).Save(ctx)
	if err != nil {
		return 0, false, err
	}
	l, err := s.db.Lease.Query().Where(lease.Name(lifecycleLease)).Only(ctx)
	if ent.IsNotFound(err) {
		err = s.db.Lease.Create().SetName(lifecycleLease).SetHolder(s.holder).SetExpiresAt(now.Add(leaseTTL)).Exec(ctx)
		if ent.IsConstraintError(err) {
			return 0, false, nil // another instance created it first
		}
		return 0, err == nil, err
	}
	if err != nil {
		return 0, false, err
	}
	return l.Mark, l.Holder == s.holder, nil
}

// renewLease extends the lease after a batch; errLeaseLost if another
// instance took it meanwhile.
func (s *Service) renewLease(ctx context.Context) error {
	now := s.now()
	_, err := s.db.Lease.Update().
		Where(lease.Name(lifecycleLease), lease.Holder(s.holder), lease.ExpiresAtGT(now)).
		SetExpiresAt(now.Add(leaseTTL)).Save(ctx)
	if err != nil {
		return err
	}
	held, err := s.db.Lease.Query().Where(lease.Name(lifecycleLease), lease.Holder(s.holder), lease.ExpiresAtGT(now)).Exist(ctx)
	if err == nil && !held {
		err = errLeaseLost
	}
	return err
}

// releaseLease lets the next sweep (of any instance) start at once.
func (s *Service) releaseLease(ctx context.Context) {
	if _, err := s.db.Lease.Update().Where(lease.Name(lifecycleLease), lease.Holder(s.holder)).
		SetExpiresAt(s.now()).Save(ctx); err != nil {
		s.log.WarnContext(ctx, "releasing the lifecycle lease", "err", err)
	}
}
