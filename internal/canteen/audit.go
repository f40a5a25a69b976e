package canteen

import (
	"context"

	"callme/ent"
	"callme/internal/pulid"
)

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

// audit records an admin's action on someone else's stall. A seller's work
// on their own stall is not audited: the log is for the few changes an admin
// makes behind a seller's back, and stays short enough to read.
func (s *Service) audit(ctx context.Context, tx *txn, a *Actor, action string, target pulid.ID, detail string) error {
	if !a.Admin || a.SellerID == target {
		return nil
	}
	return s.record(ctx, tx, a, action, target, detail)
}

// record writes an audit entry, whoever acts: for what is always audited
// (renewals, content decisions, console logins) and for audit's choice.
func (s *Service) record(ctx context.Context, tx *txn, a *Actor, action string, target pulid.ID, detail string) error {
	_, err := tx.AuditEntry.Create().
		SetActorID(a.UserID).SetAction(action).SetTargetID(target).SetDetail(detail).SetCreatedAt(s.now()).
		Save(ctx)
	return err
}

// auditTicket audits an action on a ticket: by an admin on another's stall,
// unless the admin acted as the ticket's owner (cancelling their own).
func (s *Service) auditTicket(ctx context.Context, tx *txn, a *Actor, action string, t *ent.Ticket) error {
	if t.OwnerID != nil && *t.OwnerID == a.UserID {
		return nil
	}
	return s.audit(ctx, tx, a, action, t.SellerID, "ticket "+t.Code)
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
