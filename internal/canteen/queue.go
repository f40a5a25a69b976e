package canteen

import (
	"context"
	"fmt"
	"time"

	"callme/ent"
	"callme/ent/ticket"
	"callme/internal/model"
	"callme/internal/pulid"
)

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
			if _, err := s.endTicket(ctx, tx, a, cur, actClearUnclaimed); err != nil {
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
	return s.transition(ctx, id, actMarkNoShow, s.release)
}

// Reopen brings a CANCELLED or NO_SHOW ticket of today back to WAITING, with
// its number, if no other active ticket holds that number now. It may put
// the ticket's customer over the per-customer cap: the stall gives back a
// ticket it took away (a late customer at the counter), which the cap on
// what customers take does not bound.
func (s *Service) Reopen(ctx context.Context, id pulid.ID) (*ent.Ticket, error) {
	return s.transition(ctx, id, actReopen, func(tx *txn, cur *ent.Ticket, u *ent.TicketUpdateOne) error {
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

// SellerTickets lists a stall's tickets of one business day (history), in
// issue order (its seller or an admin); cols as for ticketList.
func (s *Service) SellerTickets(ctx context.Context, sellerID pulid.ID, day string, cols []string) ([]*ent.Ticket, error) {
	if _, _, err := s.manageSeller(ctx, sellerID, "see its tickets"); err != nil {
		return nil, err
	}
	d, err := parseDay(day)
	if err != nil {
		return nil, err
	}
	return s.ticketList(ctx, cols, ticket.SellerID(sellerID), ticket.BusinessDay(d))
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
