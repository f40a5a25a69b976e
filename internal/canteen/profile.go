package canteen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"callme/ent"
	"callme/ent/contentcheck"
	"callme/ent/daycounter"
	"callme/ent/seller"
	"callme/internal/pulid"
	"callme/internal/wechat"
)

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
	// Text others read is checked by WeChat before it is stored (see
	// contentsec.go); the phone is not: no API field shows it to anyone.
	var texts []*textCheck
	if in.Name != nil {
		name, err := sellerNameText.check(*in.Name)
		if err != nil {
			return nil, err
		}
		ops = append(ops, func(u *ent.SellerUpdateOne) { u.SetName(name) })
		changed = append(changed, "name")
		if name != st.Name {
			texts = append(texts, &textCheck{subject: contentcheck.SubjectSELLER_NAME, field: "name", value: name, previous: &st.Name, scene: wechat.SceneProfile})
		}
	}
	for _, f := range []struct {
		rule    textRule
		v       *string
		set     func(*ent.SellerUpdateOne, string)
		clear   func(*ent.SellerUpdateOne)
		subject contentcheck.Subject // "" for text nobody else reads
		cur     *string
	}{
		{personNameText, in.PersonName, func(u *ent.SellerUpdateOne, v string) { u.SetPersonName(v) }, func(u *ent.SellerUpdateOne) { u.ClearPersonName() }, contentcheck.SubjectPERSON_NAME, st.PersonName},
		{phoneText, in.Phone, func(u *ent.SellerUpdateOne, v string) { u.SetPhone(v) }, func(u *ent.SellerUpdateOne) { u.ClearPhone() }, "", st.Phone},
		{pickupNoteText, in.PickupNote, func(u *ent.SellerUpdateOne, v string) { u.SetPickupNote(v) }, func(u *ent.SellerUpdateOne) { u.ClearPickupNote() }, contentcheck.SubjectPICKUP_NOTE, st.PickupNote},
	} {
		v, err := f.rule.optional(f.v)
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
			if f.subject != "" && (f.cur == nil || *f.cur != *v) {
				texts = append(texts, &textCheck{subject: f.subject, field: f.rule.field, value: *v, previous: f.cur, scene: wechat.SceneProfile})
			}
		}
		changed = append(changed, f.rule.field)
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
		if err := checkMaxNumber(*in.MaxNumber); err != nil {
			return nil, err
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
	held, err := s.checkTexts(ctx, a, texts)
	if err != nil {
		return nil, err
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
		if err := s.recordChecks(ctx, tx, a, st.ID, st.ID, held); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "updateSeller", st.ID, strings.Join(changed, ","))
	})
	if err != nil {
		return nil, err
	}
	return &SellerUpdate{Seller: out.Unwrap(), Notice: notice}, nil
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
		var until time.Time
		out, err = s.writeSellerState(ctx, tx, sellerID, func() (*ent.Seller, error) {
			// Locked (after the counter rows, a fetch's order), so two
			// renewals at once add their months one after the other.
			q := tx.Seller.Query().Where(seller.ID(sellerID))
			if s.forUpdate() {
				q = q.ForUpdate()
			}
			st, err := q.Only(ctx)
			if ent.IsNotFound(err) {
				return nil, Errorf(CodeNotFound, "no such seller")
			}
			if err != nil {
				return nil, err
			}
			from := s.now()
			if st.PaidUntil != nil && st.PaidUntil.After(from) {
				from = *st.PaidUntil
			}
			until = from.AddDate(0, months, 0)
			return tx.Seller.UpdateOneID(st.ID).SetPaidUntil(until).Save(ctx)
		})
		if err != nil {
			return err
		}
		return s.record(ctx, tx, a, "renewSeller", sellerID, fmt.Sprintf("+%d months, paid until %s", months, until.Format(time.RFC3339)))
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// IsOpen is what customers see: a stall past its paid term is closed,
// whatever its switch says.
func (s *Service) IsOpen(st *ent.Seller) bool { return st.Open && paid(st, s.now()) }
