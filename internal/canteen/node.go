package canteen

import (
	"context"

	"callme/ent"
	"callme/ent/schema"
	"callme/internal/pulid"
)

// Node returns any object by ID, if the caller may see it. Unknown IDs and
// hidden stalls are nil; tickets and users of others are FORBIDDEN.
func (s *Service) Node(ctx context.Context, id pulid.ID) (ent.Noder, error) {
	switch id.Prefix() {
	case schema.PrefixSeller:
		st, err := s.Seller(ctx, id)
		if st == nil || err != nil {
			return nil, err
		}
		return st, nil
	case schema.PrefixMenuItem:
		it, err := s.db.MenuItem.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if st, err := s.Seller(ctx, it.SellerID); st == nil || err != nil {
			return nil, err
		}
		return it, nil
	case schema.PrefixUser:
		u, err := s.db.User.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if a := ActorFrom(ctx); a == nil || (a.UserID != u.ID && !a.Admin) {
			return nil, Errorf(CodeForbidden, "you can only read your own user")
		}
		return u, nil
	case schema.PrefixTicket:
		t, err := s.db.Ticket.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !canRead(ActorFrom(ctx), t) {
			return nil, Errorf(CodeForbidden, "only the ticket's owner or its stall's seller can read it")
		}
		return t, nil
	}
	return nil, nil
}
