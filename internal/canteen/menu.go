package canteen

import (
	"context"
	"fmt"

	"callme/ent"
	"callme/ent/contentcheck"
	"callme/ent/menuitem"
	"callme/internal/pulid"
	"callme/internal/wechat"
)

// MenuItemInput is one dish of a new menu.
type MenuItemInput struct {
	Name       string
	PriceCents *int
	Available  *bool
}

const maxMenuItems = 100

// SetMenu replaces a stall's menu, in the given order, atomically.
func (s *Service) SetMenu(ctx context.Context, sellerID pulid.ID, items []*MenuItemInput) (*ent.Seller, error) {
	a, st, err := s.manageSeller(ctx, sellerID, "change its menu")
	if err != nil {
		return nil, err
	}
	if len(items) > maxMenuItems {
		return nil, Errorf(CodeBadUserInput, "a menu has at most %d items", maxMenuItems)
	}
	// New names are checked by WeChat before anything is stored; names
	// already on the menu were checked when they were written. A risky
	// verdict that comes later reverts a name to the one its position had
	// (the last accepted), or removes a dish that had none.
	old, err := s.db.MenuItem.Query().Where(menuitem.SellerID(st.ID)).Order(ent.Asc(menuitem.FieldPosition)).All(ctx)
	if err != nil {
		return nil, err
	}
	onMenu := map[string]bool{}
	for _, it := range old {
		onMenu[it.Name] = true
	}
	var texts []*textCheck
	seen := map[string]bool{}
	for i, it := range items {
		name, err := menuItemNameText.named(fmt.Sprintf("item %d's name", i+1)).check(it.Name)
		if err != nil {
			return nil, err
		}
		if onMenu[name] || seen[name] {
			continue
		}
		seen[name] = true
		var prev *string
		if i < len(old) {
			prev = &old[i].Name
		}
		texts = append(texts, &textCheck{subject: contentcheck.SubjectMENU_ITEM_NAME, field: fmt.Sprintf("item %d's name", i+1), value: name, previous: prev, scene: wechat.SceneProfile})
	}
	held, err := s.checkTexts(ctx, a, texts)
	if err != nil {
		return nil, err
	}
	creates := make([]*ent.MenuItemCreate, 0, len(items))
	err = s.inTx(ctx, func(tx *txn) error {
		if err := s.recordChecks(ctx, tx, a, st.ID, st.ID, held); err != nil {
			return err
		}
		creates = creates[:0]
		for i, it := range items {
			name, err := menuItemNameText.named(fmt.Sprintf("item %d's name", i+1)).check(it.Name)
			if err != nil {
				return err
			}
			if err := checkPriceCents(fmt.Sprintf("item %d's priceCents", i+1), it.PriceCents); err != nil {
				return err
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
	a, _, err := s.manageSeller(ctx, it.SellerID, "change its menu")
	if err != nil {
		return nil, err
	}
	var out *ent.MenuItem
	err = s.inTx(ctx, func(tx *txn) error {
		if out, err = tx.MenuItem.UpdateOneID(it.ID).SetAvailable(available).Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "setMenuItemAvailable", it.SellerID, fmt.Sprintf("%s available=%t", it.Name, available))
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}
