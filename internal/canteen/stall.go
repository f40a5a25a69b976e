package canteen

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/daycounter"
	"callme/ent/menuitem"
	"callme/ent/ticket"
	"callme/internal/model"
	"callme/internal/pulid"
)

// MenuItemInput is one dish of a new menu.
type MenuItemInput struct {
	Name       string
	PriceCents *int
	Available  *bool
}

const maxMenuItems = 100

// manageSeller loads a stall the caller runs (its seller or an admin).
func (s *Service) manageSeller(ctx context.Context, sellerID pulid.ID, what string) (*Actor, *ent.Seller, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.db.Seller.Get(ctx, sellerID)
	if ent.IsNotFound(err) {
		return nil, nil, Errorf(CodeNotFound, "no such seller")
	}
	if err != nil {
		return nil, nil, err
	}
	if !a.manages(st.ID) {
		return nil, nil, Errorf(CodeForbidden, "only this stall's seller or an admin can %s", what)
	}
	return a, st, nil
}

// audit records an admin's action on someone else's stall.
func (s *Service) audit(ctx context.Context, tx *txn, a *Actor, action string, target pulid.ID, detail string) error {
	if !a.Admin || a.SellerID == target {
		return nil
	}
	_, err := tx.AuditEntry.Create().
		SetActorID(a.UserID).SetAction(action).SetTargetID(target).SetDetail(detail).SetCreatedAt(s.now()).
		Save(ctx)
	return err
}

// SetMenu replaces a stall's menu, in the given order, atomically.
func (s *Service) SetMenu(ctx context.Context, sellerID pulid.ID, items []*MenuItemInput) (*ent.Seller, error) {
	a, st, err := s.manageSeller(ctx, sellerID, "change its menu")
	if err != nil {
		return nil, err
	}
	if len(items) > maxMenuItems {
		return nil, Errorf(CodeBadUserInput, "a menu has at most %d items", maxMenuItems)
	}
	creates := make([]*ent.MenuItemCreate, 0, len(items))
	err = s.inTx(ctx, func(tx *txn) error {
		creates = creates[:0]
		for i, it := range items {
			name, err := checkName(fmt.Sprintf("item %d's name", i+1), it.Name)
			if err != nil {
				return err
			}
			if it.PriceCents != nil && *it.PriceCents < 0 {
				return Errorf(CodeBadUserInput, "item %d's price must not be negative", i+1)
			}
			available := it.Available == nil || *it.Available
			creates = append(creates, tx.MenuItem.Create().
				SetSellerID(st.ID).SetName(name).SetNillablePriceCents(it.PriceCents).
				SetAvailable(available).SetPosition(i))
		}
		if _, err := tx.MenuItem.Delete().Where(menuitem.SellerID(st.ID)).Exec(ctx); err != nil {
			return err
		}
		if len(creates) > 0 {
			if _, err := tx.MenuItem.CreateBulk(creates...).Save(ctx); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, a, "setMenu", st.ID, fmt.Sprintf("%d items", len(items)))
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// SetMenuItemAvailable marks a dish sold out, or back.
func (s *Service) SetMenuItemAvailable(ctx context.Context, itemID pulid.ID, available bool) (*ent.MenuItem, error) {
	it, err := s.db.MenuItem.Get(ctx, itemID)
	if ent.IsNotFound(err) {
		return nil, Errorf(CodeNotFound, "no such menu item")
	}
	if err != nil {
		return nil, err
	}
	if _, _, err := s.manageSeller(ctx, it.SellerID, "change its menu"); err != nil {
		return nil, err
	}
	return s.db.MenuItem.UpdateOneID(it.ID).SetAvailable(available).Save(ctx)
}

// UpdateSellerInput changes a stall's profile and settings; nil leaves a field.
type UpdateSellerInput struct {
	SellerID           pulid.ID
	Name               *string
	PersonName         *string
	Phone              *string
	Prefix             *string
	MaxNumber          *int
	PickupNote         *string
	NoShowAfterCalls   *int
	NoShowAfterMinutes *int
}

// SellerUpdate is the updated stall and what the change means.
type SellerUpdate struct {
	Seller *ent.Seller
	Notice *string
}

func optionalText(field string, v *string, maxRunes int) (*string, error) {
	if v == nil {
		return nil, nil
	}
	t := strings.TrimSpace(*v)
	if utf8.RuneCountInString(t) > maxRunes {
		return nil, Errorf(CodeBadUserInput, "%s must be at most %d characters", field, maxRunes)
	}
	return &t, nil
}

// UpdateSeller changes a stall's profile. A new prefix or maxNumber applies
// from the next business day: today's numbers keep their meaning.
func (s *Service) UpdateSeller(ctx context.Context, in UpdateSellerInput) (*SellerUpdate, error) {
	a, st, err := s.manageSeller(ctx, in.SellerID, "change its profile")
	if err != nil {
		return nil, err
	}
	// Validate everything first, then apply it all in one transaction.
	var ops []func(*ent.SellerUpdateOne)
	var changed []string
	if in.Name != nil {
		name, err := checkName("name", *in.Name)
		if err != nil {
			return nil, err
		}
		ops = append(ops, func(u *ent.SellerUpdateOne) { u.SetName(name) })
		changed = append(changed, "name")
	}
	for _, f := range []struct {
		name  string
		v     *string
		max   int
		set   func(*ent.SellerUpdateOne, string)
		clear func(*ent.SellerUpdateOne)
	}{
		{"personName", in.PersonName, 40, func(u *ent.SellerUpdateOne, v string) { u.SetPersonName(v) }, func(u *ent.SellerUpdateOne) { u.ClearPersonName() }},
		{"phone", in.Phone, 32, func(u *ent.SellerUpdateOne, v string) { u.SetPhone(v) }, func(u *ent.SellerUpdateOne) { u.ClearPhone() }},
		{"pickupNote", in.PickupNote, 100, func(u *ent.SellerUpdateOne, v string) { u.SetPickupNote(v) }, func(u *ent.SellerUpdateOne) { u.ClearPickupNote() }},
	} {
		v, err := optionalText(f.name, f.v, f.max)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		f := f
		if *v == "" {
			ops = append(ops, f.clear)
		} else {
			ops = append(ops, func(u *ent.SellerUpdateOne) { f.set(u, *v) })
		}
		changed = append(changed, f.name)
	}
	var notice *string
	if in.Prefix != nil {
		p, err := checkPrefix(*in.Prefix)
		if err != nil {
			return nil, err
		}
		ops = append(ops, func(u *ent.SellerUpdateOne) { u.SetPrefix(p) })
		changed = append(changed, "prefix")
	}
	if in.MaxNumber != nil {
		if *in.MaxNumber < 9 || *in.MaxNumber > 9999 {
			return nil, Errorf(CodeBadUserInput, "maxNumber must be between 9 and 9999")
		}
		m := *in.MaxNumber
		ops = append(ops, func(u *ent.SellerUpdateOne) { u.SetMaxNumber(m) })
		changed = append(changed, "maxNumber")
	}
	if in.Prefix != nil || in.MaxNumber != nil {
		// Today's counter holds the settings of the day's numbers; before
		// the first number of the day there is none, and the change is live.
		started, err := s.db.DayCounter.Query().
			Where(daycounter.SellerID(st.ID), daycounter.BusinessDay(s.today())).Exist(ctx)
		if err != nil {
			return nil, err
		}
		n := "the new prefix and number range apply now: no number was issued today yet"
		if started {
			n = fmt.Sprintf("the new prefix and number range apply from the next business day (%s); today's numbers keep theirs",
				s.nextDayStart().In(s.cfg.Location).Format("2006-01-02 15:04"))
		}
		notice = &n
	}
	if in.NoShowAfterCalls != nil {
		if *in.NoShowAfterCalls < 1 || *in.NoShowAfterCalls > 20 {
			return nil, Errorf(CodeBadUserInput, "noShowAfterCalls must be between 1 and 20")
		}
		n := *in.NoShowAfterCalls
		ops = append(ops, func(u *ent.SellerUpdateOne) { u.SetNoShowAfterCalls(n) })
		changed = append(changed, "noShowAfterCalls")
	}
	if in.NoShowAfterMinutes != nil {
		if *in.NoShowAfterMinutes < 0 || *in.NoShowAfterMinutes > 240 {
			return nil, Errorf(CodeBadUserInput, "noShowAfterMinutes must be between 0 (off) and 240")
		}
		n := *in.NoShowAfterMinutes
		ops = append(ops, func(u *ent.SellerUpdateOne) { u.SetNoShowAfterMinutes(n) })
		changed = append(changed, "noShowAfterMinutes")
	}
	var out *ent.Seller
	err = s.inTx(ctx, func(tx *txn) error {
		u := tx.Seller.UpdateOneID(st.ID)
		for _, op := range ops {
			op(u)
		}
		if out, err = u.Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "updateSeller", st.ID, strings.Join(changed, ","))
	})
	if err != nil {
		return nil, err
	}
	return &SellerUpdate{Seller: out.Unwrap(), Notice: notice}, nil
}

// nextDayStart is when the next business day begins.
func (s *Service) nextDayStart() time.Time {
	now := s.now().In(s.cfg.Location)
	start := time.Date(now.Year(), now.Month(), now.Day(), s.cfg.DayStartHour, 0, 0, 0, s.cfg.Location)
	if !start.After(now) {
		start = start.AddDate(0, 0, 1)
	}
	return start
}

// RenewSeller extends a stall's paid term by months from the later of now
// and its current end (admins only).
func (s *Service) RenewSeller(ctx context.Context, sellerID pulid.ID, months int) (*ent.Seller, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.Admin {
		return nil, Errorf(CodeForbidden, "only an admin can renew a stall's term")
	}
	if months < 1 || months > 36 {
		return nil, Errorf(CodeBadUserInput, "months must be between 1 and 36")
	}
	var out *ent.Seller
	err = s.inTx(ctx, func(tx *txn) error {
		st, err := tx.Seller.Get(ctx, sellerID)
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no such seller")
		}
		if err != nil {
			return err
		}
		from := s.now()
		if st.PaidUntil != nil && st.PaidUntil.After(from) {
			from = *st.PaidUntil
		}
		until := from.AddDate(0, months, 0)
		if out, err = tx.Seller.UpdateOneID(st.ID).SetPaidUntil(until).Save(ctx); err != nil {
			return err
		}
		_, err = tx.AuditEntry.Create().SetActorID(a.UserID).SetAction("renewSeller").SetTargetID(st.ID).
			SetDetail(fmt.Sprintf("+%d months, paid until %s", months, until.Format(time.RFC3339))).SetCreatedAt(s.now()).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// AuditLog lists the latest admin actions (admins only).
func (s *Service) AuditLog(ctx context.Context, first *int) ([]*ent.AuditEntry, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.Admin {
		return nil, Errorf(CodeForbidden, "only an admin can read the audit log")
	}
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	return s.db.AuditEntry.Query().Order(ent.Desc("created_at"), ent.Desc("id")).Limit(n).All(ctx)
}

// IsOpen is what customers see: a stall past its paid term is closed,
// whatever its switch says.
func (s *Service) IsOpen(st *ent.Seller) bool { return st.Open && paid(st, s.now()) }

// ClearUnclaimed cancels the stall's unowned WAITING tickets of today (the
// numbers handed out that nobody claimed) and returns how many.
func (s *Service) ClearUnclaimed(ctx context.Context, sellerID pulid.ID) (int, error) {
	a, st, err := s.manageSeller(ctx, sellerID, "clear its queue")
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.inTx(ctx, func(tx *txn) error {
		n = 0
		list, err := tx.Ticket.Query().
			Where(ticket.SellerID(st.ID), ticket.BusinessDay(s.today()), ticket.StatusEQ(model.StatusWaiting), ticket.OwnerIDIsNil()).
			All(ctx)
		if err != nil {
			return err
		}
		for _, cur := range list {
			if _, err := s.endTicket(ctx, tx, a, cur, model.StatusCancelled); err != nil {
				return err
			}
			n++
		}
		return s.audit(ctx, tx, a, "clearUnclaimed", st.ID, fmt.Sprintf("%d tickets", n))
	})
	return n, err
}

// MarkNoShow marks a CALLED ticket as not picked up (its seller or an admin).
func (s *Service) MarkNoShow(ctx context.Context, id pulid.ID) (*ent.Ticket, error) {
	return s.transition(ctx, id, false, func(tx *txn, cur *ent.Ticket, u *ent.TicketUpdateOne) error {
		if cur.Status != model.StatusCalled {
			return Errorf(CodeInvalidTransition, "only a CALLED ticket can be a no-show, this one is %s", cur.Status)
		}
		u.SetStatus(model.StatusNoShow).ClearActiveNumber().SetDoneAt(s.now())
		return nil
	})
}

// Reopen brings a CANCELLED or NO_SHOW ticket of today back to WAITING, with
// its number, if no other active ticket holds that number now.
func (s *Service) Reopen(ctx context.Context, id pulid.ID) (*ent.Ticket, error) {
	return s.transition(ctx, id, false, func(tx *txn, cur *ent.Ticket, u *ent.TicketUpdateOne) error {
		if cur.Status != model.StatusCancelled && cur.Status != model.StatusNoShow {
			return Errorf(CodeInvalidTransition, "only a CANCELLED or NO_SHOW ticket can be reopened, this one is %s", cur.Status)
		}
		if cur.BusinessDay != s.today() {
			return Errorf(CodeInvalidTransition, "this ticket is from an earlier business day")
		}
		taken, err := tx.Ticket.Query().
			Where(ticket.SellerID(cur.SellerID), ticket.BusinessDay(cur.BusinessDay), ticket.ActiveNumber(cur.Number)).
			Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return Errorf(CodeInvalidTransition, "number %s is in use again; issue a new ticket", cur.Code)
		}
		u.SetStatus(model.StatusWaiting).SetActiveNumber(cur.Number).ClearDoneAt().ClearDoneBy().
			SetCallCount(0).ClearCalledAt().ClearFirstCalledAt()
		return nil
	})
}

// transition applies change to a ticket the caller may act on, in one
// transaction with an optimistic version check, and publishes the result.
func (s *Service) transition(ctx context.Context, id pulid.ID, ownerToo bool, change func(*txn, *ent.Ticket, *ent.TicketUpdateOne) error) (*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	var t *ent.Ticket
	err = s.inTx(ctx, func(tx *txn) error {
		cur, err := getTicket(ctx, tx, a, id, ownerToo)
		if err != nil {
			return err
		}
		u := tx.Ticket.UpdateOneID(cur.ID).Where(ticket.Version(cur.Version)).SetDoneBy(a.UserID).AddVersion(1)
		if err := change(tx, cur, u); err != nil {
			return err
		}
		t, err = u.Save(ctx)
		if ent.IsNotFound(err) {
			return errConflict
		}
		if err != nil {
			return err
		}
		tx.publish(ticketEvent(t))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// SellerTickets lists a stall's tickets of one business day (history), in
// issue order (its seller or an admin).
func (s *Service) SellerTickets(ctx context.Context, sellerID pulid.ID, day string) ([]*ent.Ticket, error) {
	if _, _, err := s.manageSeller(ctx, sellerID, "see its tickets"); err != nil {
		return nil, err
	}
	d, err := parseDay(day)
	if err != nil {
		return nil, err
	}
	return s.ticketList(ctx, ticket.SellerID(sellerID), ticket.BusinessDay(d))
}

// parseDay reads a business day as YYYY-MM-DD.
func parseDay(day string) (int, error) {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return 0, Errorf(CodeBadUserInput, "day must be a date like 2026-11-25")
	}
	return t.Year()*10000 + int(t.Month())*100 + t.Day(), nil
}

// FormatDay renders a business day (YYYYMMDD) as YYYY-MM-DD.
func FormatDay(d int) string { return fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100) }

// throughputWindow is how far back ETA and average wait look.
const throughputWindow = 30 * time.Minute

// callTimes returns the first-call times of the stall's tickets in the last
// window, oldest first.
func (s *Service) recentFirstCalls(ctx context.Context, st pulid.ID) ([]*ent.Ticket, error) {
	since := s.now().Add(-throughputWindow)
	return s.db.Ticket.Query().
		Where(ticket.SellerID(st), ticket.FirstCalledAtGTE(since)).
		Order(ent.Asc(ticket.FieldFirstCalledAt)).
		Select(ticket.FieldFirstCalledAt, ticket.FieldCreatedAt).
		All(ctx)
}

// ETASeconds estimates when a WAITING ticket will be called: the tickets
// ahead of it plus one, times the median interval between the stall's first
// calls over the last 30 minutes. Nil without enough calls to tell.
func (s *Service) ETASeconds(ctx context.Context, t *ent.Ticket) (*int, error) {
	pos, err := s.Position(ctx, t)
	if pos == nil || err != nil {
		return nil, err
	}
	calls, err := s.recentFirstCalls(ctx, t.SellerID)
	if err != nil || len(calls) < 3 {
		return nil, err
	}
	gaps := make([]float64, 0, len(calls)-1)
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].FirstCalledAt.Sub(*calls[i-1].FirstCalledAt).Seconds())
	}
	eta := int(quantile(gaps, 0.5) * float64(*pos+1))
	return &eta, nil
}

// AverageWaitSeconds is the mean time from issue to first call over the
// last 30 minutes, or nil when nothing was called.
func (s *Service) AverageWaitSeconds(ctx context.Context, st *ent.Seller) (*int, error) {
	calls, err := s.recentFirstCalls(ctx, st.ID)
	if err != nil || len(calls) == 0 {
		return nil, err
	}
	var sum float64
	for _, c := range calls {
		sum += c.FirstCalledAt.Sub(c.CreatedAt).Seconds()
	}
	avg := int(sum / float64(len(calls)))
	return &avg, nil
}

// DayStats summarises one business day of a stall.
type DayStats struct {
	Day                 string
	Issued              int
	Completed           int
	Cancelled           int
	NoShows             int
	Calls               int
	MedianWaitSeconds   *int
	P90WaitSeconds      *int
	MedianPickupSeconds *int
	P90PickupSeconds    *int
}

// SellerStats summarises a stall's business days from..to (at most 62 days).
func (s *Service) SellerStats(ctx context.Context, sellerID pulid.ID, from, to string) ([]*DayStats, error) {
	if _, _, err := s.manageSeller(ctx, sellerID, "see its statistics"); err != nil {
		return nil, err
	}
	f, err := parseDay(from)
	if err != nil {
		return nil, err
	}
	tday, err := parseDay(to)
	if err != nil {
		return nil, err
	}
	ft, _ := time.Parse("2006-01-02", from)
	tt, _ := time.Parse("2006-01-02", to)
	if tt.Before(ft) || tt.Sub(ft) > 62*24*time.Hour {
		return nil, Errorf(CodeBadUserInput, "to must be on or after from, at most 62 days later")
	}
	tickets, err := s.db.Ticket.Query().
		Where(ticket.SellerID(sellerID), ticket.BusinessDayGTE(f), ticket.BusinessDayLTE(tday)).
		All(ctx)
	if err != nil {
		return nil, err
	}
	calls, err := s.db.CallEvent.Query().
		Where(callevent.SellerID(sellerID), callevent.BusinessDayGTE(f), callevent.BusinessDayLTE(tday)).
		Select(callevent.FieldBusinessDay).Ints(ctx)
	if err != nil {
		return nil, err
	}
	byDay := map[int]*DayStats{}
	waits, pickups := map[int][]float64{}, map[int][]float64{}
	get := func(d int) *DayStats {
		if byDay[d] == nil {
			byDay[d] = &DayStats{Day: FormatDay(d)}
		}
		return byDay[d]
	}
	for _, t := range tickets {
		ds := get(t.BusinessDay)
		ds.Issued++
		switch t.Status {
		case model.StatusDone:
			ds.Completed++
		case model.StatusCancelled:
			ds.Cancelled++
		case model.StatusNoShow:
			ds.NoShows++
		}
		if t.FirstCalledAt != nil {
			waits[t.BusinessDay] = append(waits[t.BusinessDay], t.FirstCalledAt.Sub(t.CreatedAt).Seconds())
			if t.Status == model.StatusDone && t.DoneAt != nil {
				pickups[t.BusinessDay] = append(pickups[t.BusinessDay], t.DoneAt.Sub(*t.FirstCalledAt).Seconds())
			}
		}
	}
	for _, d := range calls {
		get(d).Calls++
	}
	out := make([]*DayStats, 0, len(byDay))
	for d, ds := range byDay {
		ds.MedianWaitSeconds, ds.P90WaitSeconds = quantileInt(waits[d], 0.5), quantileInt(waits[d], 0.9)
		ds.MedianPickupSeconds, ds.P90PickupSeconds = quantileInt(pickups[d], 0.5), quantileInt(pickups[d], 0.9)
		out = append(out, ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day < out[j].Day })
	return out, nil
}

// quantile is the q-quantile of xs by nearest rank (xs is sorted in place).
func quantile(xs []float64, q float64) float64 {
	sort.Float64s(xs)
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func quantileInt(xs []float64, q float64) *int {
	if len(xs) == 0 {
		return nil
	}
	v := int(quantile(xs, q))
	return &v
}
