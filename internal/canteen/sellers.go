package canteen

import (
	"context"
	"crypto/rand"
	"strings"
	"time"
	"unicode/utf8"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/menuitem"
	"callme/ent/seller"
	"callme/ent/ticket"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/pulid"

	"entgo.io/contrib/entgql"
)

// Page sizes for connections.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// SellerInvite is a new stall and the code its seller claims it with.
type SellerInvite struct {
	Seller     *ent.Seller
	InviteCode string
}

// CreateSellerInput describes a new stall.
type CreateSellerInput struct {
	Name      string
	Phone     *string
	Prefix    *string
	PaidUntil *time.Time
	MaxNumber *int
}

// paid reports whether the stall's paid term covers now.
func paid(st *ent.Seller, now time.Time) bool {
	return st.PaidUntil != nil && st.PaidUntil.After(now)
}

// visible reports whether the caller may see the stall: unpaid stalls are
// hidden from everyone but their seller and admins.
func (s *Service) visible(ctx context.Context, st *ent.Seller) bool {
	return paid(st, s.now()) || ActorFrom(ctx).manages(st.ID)
}

// CreateSeller creates a closed stall and a one-time invite code (admins only).
func (s *Service) CreateSeller(ctx context.Context, in CreateSellerInput) (*SellerInvite, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.Admin {
		return nil, Errorf(CodeForbidden, "only an admin can create sellers")
	}
	name, err := checkName("name", in.Name)
	if err != nil {
		return nil, err
	}
	c := s.db.Seller.Create().SetName(name).SetCreatedAt(s.now())
	if in.Phone != nil {
		p := strings.TrimSpace(*in.Phone)
		if utf8.RuneCountInString(p) > 32 {
			return nil, Errorf(CodeBadUserInput, "phone must be at most 32 characters")
		}
		if p != "" {
			c.SetPhone(p)
		}
	}
	if in.Prefix != nil {
		p, err := checkPrefix(*in.Prefix)
		if err != nil {
			return nil, err
		}
		c.SetPrefix(p)
	}
	if in.MaxNumber != nil {
		if *in.MaxNumber < 9 || *in.MaxNumber > 9999 {
			return nil, Errorf(CodeBadUserInput, "maxNumber must be between 9 and 9999")
		}
		c.SetMaxNumber(*in.MaxNumber)
	}
	if in.PaidUntil != nil {
		c.SetPaidUntil(in.PaidUntil.UTC().Truncate(time.Microsecond))
	}
	code, err := newInviteCode()
	if err != nil {
		return nil, err
	}
	c.SetInviteHash(hashToken(code))
	st, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "seller created", "seller", st.ID, "by", a.UserID)
	return &SellerInvite{Seller: st, InviteCode: code}, nil
}

func checkName(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n < 1 || n > 40 {
		return "", Errorf(CodeBadUserInput, "%s must be 1 to 40 characters", field)
	}
	return v, nil
}

// checkPrefix accepts up to 4 letters. Digits are refused: with prefix "B2"
// the code B2007 could not be told from B + 2007 when read out.
func checkPrefix(p string) (string, error) {
	p = strings.ToUpper(strings.TrimSpace(p))
	if len(p) > 4 {
		return "", Errorf(CodeBadUserInput, "prefix must be at most 4 letters")
	}
	for _, r := range p {
		if r < 'A' || r > 'Z' {
			return "", Errorf(CodeBadUserInput, "prefix must be at most 4 letters (A-Z)")
		}
	}
	return p, nil
}

// Invite codes are typed by people: 12 characters from an alphabet without
// look-alikes (60 bits), shown as XXXX-XXXX-XXXX, case and dashes ignored.
const inviteAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ" // 30 symbols

func newInviteCode() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(inviteAlphabet[int(c)%len(inviteAlphabet)])
	}
	return sb.String(), nil
}

func normalizeInvite(code string) string {
	code = strings.ToUpper(code)
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, code)
}

// ClaimSeller binds the caller (SELLER app) to the stall of an invite code.
func (s *Service) ClaimSeller(ctx context.Context, inviteCode string) (*ent.Seller, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if a.App != model.AppSeller {
		return nil, Errorf(CodeForbidden, "sign in through the seller app to claim a stall")
	}
	if a.SellerID != "" {
		return nil, Errorf(CodeForbidden, "this account already runs a stall")
	}
	norm := normalizeInvite(inviteCode)
	if len(norm) != 12 {
		return nil, Errorf(CodeNotFound, "no such invite code")
	}
	// The stored hash is of the code as issued, with dashes.
	issued := norm[0:4] + "-" + norm[4:8] + "-" + norm[8:12]
	hash := hashToken(issued)
	var st *ent.Seller
	err = s.inTx(ctx, func(tx *txn) error {
		found, err := tx.Seller.Query().Where(seller.InviteHash(hash)).Only(ctx)
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no such invite code, or it was already used")
		}
		if err != nil {
			return err
		}
		st, err = tx.Seller.UpdateOneID(found.ID).
			Where(seller.InviteHash(hash)).
			SetOwnerID(a.UserID).
			ClearInviteHash().
			Save(ctx)
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no such invite code, or it was already used")
		}
		if ent.IsConstraintError(err) {
			return Errorf(CodeForbidden, "this account already runs a stall")
		}
		tx.publish(events.Event{Topic: UserTopic(a.UserID)}) // a new role
		return err
	})
	if err != nil {
		return nil, err
	}
	// The rest of this operation sees the new role too; the next ones read it.
	becomes(ctx, a.withStall(st.ID))
	s.log.InfoContext(ctx, "seller claimed", "seller", st.ID, "user", a.UserID)
	return st.Unwrap(), nil
}

// SetOpen opens or closes a stall (its seller or an admin).
func (s *Service) SetOpen(ctx context.Context, sellerID pulid.ID, open bool) (*ent.Seller, error) {
	_, st, err := s.manageSeller(ctx, sellerID, "open or close it")
	if err != nil {
		return nil, err
	}
	if open && !paid(st, s.now()) {
		return nil, Errorf(CodeSellerInactive, "the stall's paid term is over; ask the canteen admin to renew it")
	}
	if st.Open == open {
		return st, nil
	}
	return s.db.Seller.UpdateOneID(st.ID).SetOpen(open).Save(ctx)
}

// Sellers lists stalls the caller may see, oldest first.
func (s *Service) Sellers(ctx context.Context, first *int, after *string, openOnly bool) (*ent.SellerConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	var cursor *ent.Cursor
	if after != nil && *after != "" {
		cursor = new(ent.Cursor)
		if err := cursor.UnmarshalGQL(*after); err != nil {
			return nil, Errorf(CodeBadUserInput, "after is not a cursor from this list")
		}
	}
	admin := ActorFrom(ctx) != nil && ActorFrom(ctx).Admin
	now := s.now()
	q := s.db.Seller.Query()
	if !admin {
		q = q.Where(seller.PaidUntilGT(now))
	}
	if openOnly {
		q = q.Where(seller.Open(true))
	}
	conn, err := q.Paginate(ctx, cursor, &n, nil, nil,
		ent.WithSellerOrder(&ent.SellerOrder{Field: ent.SellerOrderFieldCreatedAt, Direction: entgql.OrderDirectionAsc}))
	if err != nil {
		return nil, err
	}
	page := make([]*ent.Seller, 0, len(conn.Edges))
	for _, e := range conn.Edges {
		page = append(page, e.Node)
	}
	loaderFrom(ctx).remember(page)
	return conn, nil
}

func pageSize(first *int) (int, error) {
	if first == nil {
		return DefaultPageSize, nil
	}
	if *first < 0 || *first > MaxPageSize {
		return 0, Errorf(CodeBadUserInput, "first must be between 0 and %d", MaxPageSize)
	}
	return *first, nil
}

// Seller returns a stall, or nil when there is none the caller may see.
func (s *Service) Seller(ctx context.Context, id pulid.ID) (*ent.Seller, error) {
	st, err := s.db.Seller.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.visible(ctx, st) {
		return nil, nil
	}
	return st, nil
}

// Menu returns a stall's menu in the seller's order; for the stalls of a
// list, one query loads every menu of the page.
func (s *Service) Menu(ctx context.Context, st *ent.Seller) ([]*ent.MenuItem, error) {
	if l := loaderFrom(ctx); l != nil {
		if items, ok, err := s.batchedMenu(ctx, l, st.ID); ok || err != nil {
			return items, err
		}
	}
	return s.db.MenuItem.Query().Where(menuitem.SellerID(st.ID)).Order(ent.Asc(menuitem.FieldPosition)).All(ctx)
}

// WaitingCount counts today's WAITING tickets of a stall.
func (s *Service) WaitingCount(ctx context.Context, st *ent.Seller) (int, error) {
	if l := loaderFrom(ctx); l != nil {
		if n, ok, err := s.batchedWaiting(ctx, l, st.ID); ok || err != nil {
			return n, err
		}
	}
	return s.db.Ticket.Query().
		Where(ticket.SellerID(st.ID), ticket.BusinessDay(s.today()), ticket.StatusEQ(model.StatusWaiting)).
		Count(ctx)
}

// LastCalled returns the ticket called most recently today, or nil.
func (s *Service) LastCalled(ctx context.Context, st *ent.Seller) (*ent.Ticket, error) {
	if l := loaderFrom(ctx); l != nil {
		if t, ok, err := s.batchedLastCalled(ctx, l, st.ID); ok || err != nil {
			return t, err
		}
	}
	ce, err := s.db.CallEvent.Query().
		Where(callevent.SellerID(st.ID), callevent.BusinessDay(s.today())).
		Order(ent.Desc(callevent.FieldSeq)).
		WithTicket().
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ce.Edges.Ticket, nil
}

// PhotoURL is where a stall's photo is served, or nil without one.
func (s *Service) PhotoURL(st *ent.Seller) *string {
	if st.Photo == nil || *st.Photo == "" {
		return nil
	}
	u := "/photos/" + *st.Photo
	return &u
}
