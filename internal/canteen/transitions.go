package canteen

import (
	"context"
	"slices"

	"callme/ent"
	"callme/ent/ticket"
	"callme/internal/model"
	"callme/internal/pulid"
)

// party is who acts on a ticket.
type party uint8

const (
	// bySeller is the stall's seller, or an admin.
	bySeller party = 1 << iota
	// byOwner is the customer the ticket belongs to.
	byOwner
	// byRule is callme itself: a no-show after enough calls or minutes.
	byRule
)

// action names a change of a ticket; the audit log records it by this name.
type action string

const (
	actCall           action = "call"
	actComplete       action = "complete"
	actCancel         action = "cancel"
	actUnclaim        action = "unclaim"
	actMarkNoShow     action = "markNoShow"
	actAutoNoShow     action = "autoNoShow"
	actClearUnclaimed action = "clearUnclaimed"
	actReopen         action = "reopen"
)

// keep as a step's target leaves the status as it is.
const keep model.TicketStatus = ""

// step is one allowed change: from which statuses, to which, by whom.
type step struct {
	from []model.TicketStatus
	to   model.TicketStatus
	by   party
}

// steps is every status change a ticket can make. Every path that changes a
// ticket's status looks its action up here, so a rule holds on all of them.
var steps = map[action]step{
	actCall:     {from: []model.TicketStatus{model.StatusWaiting, model.StatusCalled}, to: model.StatusCalled, by: bySeller},
	actComplete: {from: []model.TicketStatus{model.StatusCalled}, to: model.StatusDone, by: bySeller | byOwner},
	actCancel:   {from: []model.TicketStatus{model.StatusWaiting, model.StatusCalled}, to: model.StatusCancelled, by: bySeller | byOwner},
	// A customer who claimed a handed-out number and cancels gives it back:
	// the slip's holder may still claim it (see Cancel).
	actUnclaim:        {from: []model.TicketStatus{model.StatusWaiting, model.StatusCalled}, to: keep, by: byOwner},
	actMarkNoShow:     {from: []model.TicketStatus{model.StatusCalled}, to: model.StatusNoShow, by: bySeller},
	actAutoNoShow:     {from: []model.TicketStatus{model.StatusCalled}, to: model.StatusNoShow, by: byRule},
	actClearUnclaimed: {from: []model.TicketStatus{model.StatusWaiting}, to: model.StatusCancelled, by: bySeller},
	actReopen:         {from: []model.TicketStatus{model.StatusCancelled, model.StatusNoShow}, to: model.StatusWaiting, by: bySeller},
}

// partyOf tells what a caller is to a ticket.
func partyOf(a *Actor, t *ent.Ticket) party {
	var p party
	if a.manages(t.SellerID) {
		p |= bySeller
	}
	if a != nil && t.OwnerID != nil && *t.OwnerID == a.UserID {
		p |= byOwner
	}
	return p
}

// allow checks that who may take t through act: FORBIDDEN for a caller who
// is no party to it (before anything about the ticket is told), then
// INVALID_TRANSITION for a status it cannot leave that way.
func allow(act action, who party, t *ent.Ticket) (step, error) {
	st, ok := steps[act]
	if !ok {
		panic("canteen: no step for action " + string(act))
	}
	if who&st.by == 0 {
		if st.by&byOwner != 0 {
			return st, Errorf(CodeForbidden, "only the ticket's owner or its stall's seller can do this")
		}
		return st, Errorf(CodeForbidden, "only the ticket's stall's seller can do this")
	}
	return st, leaves(act, t)
}

// leaves checks that t's status is one act may take it from.
func leaves(act action, t *ent.Ticket) error {
	if !slices.Contains(steps[act].from, t.Status) {
		return Errorf(CodeInvalidTransition, "cannot %s a %s ticket", act, t.Status)
	}
	return nil
}

// loadTicket reads a ticket in tx; NOT_FOUND when there is none.
func loadTicket(ctx context.Context, tx *txn, id pulid.ID) (*ent.Ticket, error) {
	t, err := tx.Ticket.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, Errorf(CodeNotFound, "no such ticket")
	}
	return t, err
}

// getTicket loads a ticket in tx and checks that the caller may take it
// through act.
func getTicket(ctx context.Context, tx *txn, a *Actor, id pulid.ID, act action) (*ent.Ticket, error) {
	t, err := loadTicket(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if _, err := allow(act, partyOf(a, t), t); err != nil {
		return nil, err
	}
	return t, nil
}

// endTicket takes cur through act to a final status inside tx, if nobody
// changed it meanwhile, and publishes the change. The caller checked who.
func (s *Service) endTicket(ctx context.Context, tx *txn, a *Actor, cur *ent.Ticket, act action) (*ent.Ticket, error) {
	if err := leaves(act, cur); err != nil {
		return nil, err
	}
	t, err := tx.Ticket.UpdateOneID(cur.ID).Where(ticket.Version(cur.Version)).
		SetStatus(steps[act].to).ClearActiveNumber().SetDoneAt(s.now()).SetDoneBy(a.UserID).AddVersion(1).
		Save(ctx)
	if ent.IsNotFound(err) {
		return nil, errConflict
	}
	if err != nil {
		return nil, err
	}
	tx.publish(ticketEvent(t))
	tx.waitingChanged(cur, t)
	return t, nil
}

// change sets what a step changes beyond the status.
type change func(*txn, *ent.Ticket, *ent.TicketUpdateOne) error

// transition takes a ticket the caller is party to through act, in one
// transaction with an optimistic version check, and publishes the result.
func (s *Service) transition(ctx context.Context, id pulid.ID, act action, ch change) (*ent.Ticket, error) {
	return s.transitionBy(ctx, id, func(*ent.Ticket, party) (action, change) { return act, ch })
}

// transitionBy is transition where the step depends on the ticket and on
// who acts (a cancel by a customer who claimed the number gives it back).
func (s *Service) transitionBy(ctx context.Context, id pulid.ID, decide func(*ent.Ticket, party) (action, change)) (*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	var t *ent.Ticket
	err = s.inTx(ctx, func(tx *txn) error {
		cur, err := loadTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		who := partyOf(a, cur)
		act, ch := decide(cur, who)
		st, err := allow(act, who, cur)
		if err != nil {
			return err
		}
		u := tx.Ticket.UpdateOneID(cur.ID).Where(ticket.Version(cur.Version)).AddVersion(1)
		if st.to != keep {
			u.SetStatus(st.to).SetDoneBy(a.UserID)
		}
		if ch != nil {
			if err := ch(tx, cur, u); err != nil {
				return err
			}
		}
		t, err = u.Save(ctx)
		if ent.IsNotFound(err) {
			return errConflict
		}
		if err != nil {
			return err
		}
		tx.publish(ticketEvent(t))
		tx.waitingChanged(cur, t)
		return s.auditTicket(ctx, tx, a, string(act), cur)
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}
