package canteen

import (
	"context"
	"sort"
	"time"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/daycounter"
	"callme/ent/ticket"
	"callme/internal/model"
	"callme/internal/pulid"
)

// throughputWindow is how far back ETA and average wait look.
const throughputWindow = 30 * time.Minute

// recentFirstCalls returns the first-call times of the stall's tickets in
// the last window, oldest first. A ticket is only called on its own business
// day, so one first called since then belongs to the day the window starts
// in or a later one: bounding business_day
// lets the (seller_id, business_day, …) index read a day or two of tickets
// rather than the stall's whole history, once per ticket shown.
func (s *Service) recentFirstCalls(ctx context.Context, st pulid.ID) ([]*ent.Ticket, error) {
	since := s.now().Add(-throughputWindow)
	return s.db.Ticket.Query().
		Where(ticket.SellerID(st), ticket.BusinessDayGTE(s.BusinessDay(since)), ticket.FirstCalledAtGTE(since)).
		Order(ent.Asc(ticket.FieldFirstCalledAt)).
		Select(ticket.FieldFirstCalledAt, ticket.FieldCreatedAt).
		All(ctx)
}

// ETASeconds estimates when a WAITING ticket will be called: the tickets
// ahead of it plus one, times the median interval between the stall's first
// calls over the last 30 minutes. Nil without enough calls to tell.
func (s *Service) ETASeconds(ctx context.Context, t *ent.Ticket) (*int, error) {
	k, waiting := PositionOf(t)
	if !waiting {
		return nil, nil
	}
	ahead, err := s.Positions(ctx, []PositionKey{k})
	if err != nil {
		return nil, err
	}
	return s.etaAt(ctx, t.SellerID, ahead[k])
}

// etaAt estimates the wait of a ticket with pos tickets ahead of it at a stall.
func (s *Service) etaAt(ctx context.Context, sellerID pulid.ID, pos int) (*int, error) {
	gap, err := s.callGap(ctx, sellerID)
	return etaFrom(gap, pos), err
}

// callGap is the median interval between the stall's recent first calls,
// or nil with fewer than 3 of them: the pace ETAs are estimated from.
func (s *Service) callGap(ctx context.Context, sellerID pulid.ID) (*float64, error) {
	calls, err := s.recentFirstCalls(ctx, sellerID)
	if err != nil || len(calls) < 3 {
		return nil, err
	}
	gaps := make([]float64, 0, len(calls)-1)
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].FirstCalledAt.Sub(*calls[i-1].FirstCalledAt).Seconds())
	}
	g := quantile(gaps, 0.5)
	return &g, nil
}

// etaFrom is the wait of a ticket with pos tickets ahead at a stall calling
// every gap seconds; nil when the pace is unknown.
func etaFrom(gap *float64, pos int) *int {
	if gap == nil {
		return nil
	}
	eta := int(*gap * float64(pos+1))
	return &eta
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
	// Calls whose events the lifecycle sweep deleted were counted here.
	purged, err := s.db.DayCounter.Query().
		Where(daycounter.SellerID(sellerID), daycounter.BusinessDayGTE(f), daycounter.BusinessDayLTE(tday), daycounter.PurgedCallsGT(0)).
		Select(daycounter.FieldBusinessDay, daycounter.FieldPurgedCalls).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range purged {
		get(c.BusinessDay).Calls += c.PurgedCalls
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
