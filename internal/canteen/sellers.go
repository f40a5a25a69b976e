package canteen

import (
	"context"
	"crypto/rand"
	stdsql "database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"callme/ent"
	"callme/ent/callevent"
	"callme/ent/menuitem"
	"callme/ent/predicate"
	"callme/ent/seller"
	"callme/ent/ticket"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/pulid"

	entsql "entgo.io/ent/dialect/sql"
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

// visible reports whether the caller may see the stall. Unpaid stalls are
// hidden from the public, but not from their seller, admins, or a customer
// holding a ticket there: a stall whose term ran out at noon still has to
// tell its waiting customers where to pick up, and the ticket already shows
// it (Ticket.seller), so every path to the stall answers alike.
func (s *Service) visible(ctx context.Context, st *ent.Seller) (bool, error) {
	if paid(st, s.now()) {
		return true, nil // to everyone
	}
	callerDecides(ctx)
	a := ActorFrom(ctx)
	if a.manages(st.ID) {
		return true, nil
	}
	if a == nil {
		return false, nil
	}
	return s.db.Ticket.Query().Where(ticket.SellerID(st.ID), ticket.OwnerID(a.UserID)).Exist(ctx)
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
	name, err := sellerNameText.check(in.Name)
	if err != nil {
		return nil, err
	}
	phone, err := phoneText.nonEmpty(in.Phone)
	if err != nil {
		return nil, err
	}
	set := []func(*ent.SellerCreate){func(c *ent.SellerCreate) { c.SetNillablePhone(phone) }}
	if in.Prefix != nil {
		p, err := checkPrefix(*in.Prefix)
		if err != nil {
			return nil, err
		}
		set = append(set, func(c *ent.SellerCreate) { c.SetPrefix(p) })
	}
	if in.MaxNumber != nil {
		if err := checkMaxNumber(*in.MaxNumber); err != nil {
			return nil, err
		}
		n := *in.MaxNumber
		set = append(set, func(c *ent.SellerCreate) { c.SetMaxNumber(n) })
	}
	if in.PaidUntil != nil {
		until, err := checkPaidUntil(*in.PaidUntil)
		if err != nil {
			return nil, err
		}
		set = append(set, func(c *ent.SellerCreate) { c.SetPaidUntil(until) })
	}
	code, err := newInviteCode()
	if err != nil {
		return nil, err
	}
	var st *ent.Seller
	err = s.inTx(ctx, func(tx *txn) error {
		c := tx.Seller.Create().SetName(name).SetCreatedAt(s.now()).SetInviteHash(hashToken(code))
		for _, f := range set {
			f(c)
		}
		if st, err = c.Save(ctx); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "createSeller", st.ID, name)
	})
	if err != nil {
		return nil, err
	}
	st = st.Unwrap()
	s.log.InfoContext(ctx, "seller created", "seller", st.ID, "by", a.UserID)
	return &SellerInvite{Seller: st, InviteCode: code}, nil
}

// checkPrefix accepts up to 4 letters. Digits are refused: with prefix "B2"
// the code B2007 could not be told from B + 2007 when read out.
func checkPrefix(p string) (string, error) {
	p, err := prefixText.check(p)
	if err != nil {
		return "", err
	}
	p = strings.ToUpper(p)
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
		tx.publish(events.Event{Topic: SessionsTopic})
		return err
	})
	if err != nil {
		return nil, err
	}
	// The rest of this operation sees the new role too; the next ones read it.
	s.sessions.forgetUser(a.UserID)
	becomes(ctx, a.withStall(st.ID))
	s.log.InfoContext(ctx, "seller claimed", "seller", st.ID, "user", a.UserID)
	return st.Unwrap(), nil
}

// SetOpen opens or closes a stall (its seller or an admin).
func (s *Service) SetOpen(ctx context.Context, sellerID pulid.ID, open bool) (*ent.Seller, error) {
	a, st, err := s.manageSeller(ctx, sellerID, "open or close it")
	if err != nil {
		return nil, err
	}
	if open && !paid(st, s.now()) {
		return nil, Errorf(CodeSellerInactive, "the stall's paid term is over; ask the canteen admin to renew it")
	}
	if st.Open == open {
		return st, nil
	}
	var out *ent.Seller
	err = s.inTx(ctx, func(tx *txn) error {
		out, err = s.writeSellerState(ctx, tx, st.ID, func() (*ent.Seller, error) {
			return tx.Seller.UpdateOneID(st.ID).SetOpen(open).Save(ctx)
		})
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "setOpen", st.ID, fmt.Sprintf("open=%t", open))
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// SellerQuery asks for a page of the stalls the caller may see, oldest first.
type SellerQuery struct {
	// First is the page size (nil: DefaultPageSize, at most MaxPageSize).
	First *int
	// After continues after this stall (keyset pagination).
	After *SellerCursor
	// OpenOnly keeps the stalls that can issue numbers now: open and paid.
	OpenOnly bool
	// Count asks for Total as well, which costs a COUNT.
	Count bool
	// Columns, when not nil, are the only stall columns (ent field names)
	// the caller will read: the page reads those and the ones it needs
	// itself (id, created_at, paid_until) instead of all 17. The stalls are
	// then partial, and must not reach code that reads other columns.
	Columns []string
}

// SellerCursor is a position in the stall list: its order is (CreatedAt, ID).
type SellerCursor struct {
	CreatedAt time.Time
	ID        pulid.ID
}

// SellerPage is a page of stalls.
type SellerPage struct {
	Sellers []*ent.Seller
	// HasNext says that more stalls follow the page.
	HasNext bool
	// Total counts every stall of the query (with SellerQuery.Count).
	Total int
	// Lapses is when HasNext or Total may next change with no write: the
	// first end of a paid period among the stalls they count beyond the page
	// (the page's own are in Sellers). Zero when none ends.
	Lapses time.Time
}

// Sellers lists stalls the caller may see, oldest first. Unpaid stalls are
// listed to admins only; OpenOnly lists only stalls that can issue numbers,
// which an unpaid stall cannot, whoever asks.
func (s *Service) Sellers(ctx context.Context, q SellerQuery) (*SellerPage, error) {
	n, err := pageSize(q.First)
	if err != nil {
		return nil, err
	}
	admin := ActorFrom(ctx) != nil && ActorFrom(ctx).Admin
	now := s.now()
	var where []predicate.Seller
	onlyPaid := !admin || q.OpenOnly
	if onlyPaid {
		where = append(where, seller.PaidUntilGT(now))
	}
	if q.OpenOnly {
		where = append(where, seller.Open(true))
	}
	page := &SellerPage{}
	if q.Count {
		if page.Total, err = s.db.Seller.Query().Where(where...).Count(ctx); err != nil {
			return nil, err
		}
		if onlyPaid && page.Total > 0 {
			// The count drops when the first counted paid period ends.
			first, err := s.db.Seller.Query().Where(where...).Order(ent.Asc(seller.FieldPaidUntil)).First(ctx)
			if err != nil && !ent.IsNotFound(err) {
				return nil, err
			}
			if first != nil {
				page.Lapses = *first.PaidUntil
			}
		}
	}
	if n == 0 {
		return page, nil
	}
	list := s.db.Seller.Query().Where(where...)
	if c := q.After; c != nil {
		list.Where(seller.Or(
			seller.CreatedAtGT(c.CreatedAt),
			seller.And(seller.CreatedAt(c.CreatedAt), seller.IDGT(c.ID)),
		))
	}
	if q.Columns != nil {
		list.Select(pageColumns(q.Columns)...)
	}
	rows, err := list.Order(ent.Asc(seller.FieldCreatedAt), ent.Asc(seller.FieldID)).Limit(n + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(rows) > n {
		if onlyPaid && (page.Lapses.IsZero() || rows[n].PaidUntil.Before(page.Lapses)) {
			page.Lapses = *rows[n].PaidUntil // HasNext may turn false then
		}
		rows, page.HasNext = rows[:n], true
	}
	page.Sellers = rows
	return page, nil
}

// pageColumns adds what a page reads itself to the caller's columns: the
// cursor (id, created_at) and paid_until (the lapse above). ent adds id.
func pageColumns(cols []string) []string {
	return withColumns([]string{seller.FieldCreatedAt, seller.FieldPaidUntil}, cols)
}

// withColumns returns the columns a list reads itself, base, followed by
// those of cols not among them, each once, for a query's Select.
func withColumns(base, cols []string) []string {
	out := slices.Grow(slices.Clone(base), len(cols))
	for _, c := range cols {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
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
	if ok, err := s.visible(ctx, st); !ok || err != nil {
		return nil, err
	}
	return st, nil
}

// The functions below answer for many stalls at once, so that a list costs
// the same statements for 1 stall as for 50. They read what belongs to
// stalls the caller has already been allowed to see.

// SellersByID loads stalls by ID (the stall of a ticket the caller reads).
func (s *Service) SellersByID(ctx context.Context, ids []pulid.ID) (map[pulid.ID]*ent.Seller, error) {
	rows, err := s.db.Seller.Query().Where(seller.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[pulid.ID]*ent.Seller, len(rows))
	for _, st := range rows {
		out[st.ID] = st
	}
	return out, nil
}

// Menus returns the menus of stalls, each in the seller's order. The items'
// Position is left zero: it gives the order, and no field shows it.
//
// Every student who opens the mini-program reads a page of stalls with
// their menus, so this is the busiest read there is, and it runs without
// ent's query builder and scanner: one statement whose text depends only on
// the number of stalls, scanned straight into the items' fields, and the
// items of a page made in one slice rather than one allocation per row.
// On a page of 50 stalls with 5 dishes each, ent's builder and its
// per-column scan targets were ~10% of the request's CPU (BenchmarkQuery).
// TestMenusReadAsEnt holds it to what ent reads from the same rows.
func (s *Service) Menus(ctx context.Context, ids []pulid.ID) (map[pulid.ID][]*ent.MenuItem, error) {
	out := make(map[pulid.ID][]*ent.MenuItem, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = string(id)
		out[id] = []*ent.MenuItem{}
	}
	rows, err := s.db.QueryContext(ctx, menusQuery(len(ids)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Items and prices are made in chunks, whose elements never move.
	size := min(64, max(8, 4*len(ids)))
	var chunk []ent.MenuItem
	var prices []int
	var ptrs []*ent.MenuItem
	var price stdsql.NullInt64 // Scan sets it whole, NULL or not
	var seller stdsql.RawBytes // copied once per stall, not per item
	for rows.Next() {
		if len(chunk) == cap(chunk) {
			chunk = make([]ent.MenuItem, 0, size)
		}
		chunk = chunk[:len(chunk)+1]
		it := &chunk[len(chunk)-1]
		if err := rows.Scan(&it.ID, &seller, &it.Name, &price, &it.Available); err != nil {
			return nil, err
		}
		if n := len(ptrs); n > 0 && string(ptrs[n-1].SellerID) == string(seller) {
			it.SellerID = ptrs[n-1].SellerID // rows come in runs by stall
		} else {
			it.SellerID = pulid.ID(seller)
		}
		if price.Valid {
			if len(prices) == cap(prices) {
				prices = make([]int, 0, size)
			}
			prices = append(prices, int(price.Int64))
			it.PriceCents = &prices[len(prices)-1]
		}
		ptrs = append(ptrs, it)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Ordered by stall: each stall's menu is a run of items, handed out as
	// a slice of them (capped, so an append copies) rather than appended
	// item by item.
	for start := 0; start < len(ptrs); {
		end := start + 1
		for end < len(ptrs) && ptrs[end].SellerID == ptrs[start].SellerID {
			end++
		}
		id := ptrs[start].SellerID
		if len(out[id]) == 0 {
			out[id] = ptrs[start:end:end]
		} else { // a stall in two runs (a collation that orders ids otherwise)
			out[id] = append(out[id], ptrs[start:end]...)
		}
		start = end
	}
	return out, nil
}

// menusQuery is Menus' statement for n stalls: the columns MenuItem's
// fields read, in the seller's order (the index on seller_id, position).
// Backquotes and ? serve MySQL and SQLite alike.
func menusQuery(n int) string {
	return menusSelect + strings.Repeat(", ?", n-1) + menusOrder
}

// menusSelect and menusOrder are menusQuery's text around the stalls'
// placeholders, written once.
const (
	menusSelect = "SELECT `" + menuitem.FieldID + "`, `" + menuitem.FieldSellerID + "`, `" + menuitem.FieldName + "`, `" +
		menuitem.FieldPriceCents + "`, `" + menuitem.FieldAvailable + "` FROM `" + menuitem.Table +
		"` WHERE `" + menuitem.FieldSellerID + "` IN (?"
	menusOrder = ") ORDER BY `" + menuitem.FieldSellerID + "`, `" + menuitem.FieldPosition + "`"
)

// WaitingCounts counts today's WAITING tickets of stalls.
func (s *Service) WaitingCounts(ctx context.Context, ids []pulid.ID) (map[pulid.ID]int, error) {
	var rows []struct {
		SellerID pulid.ID `json:"seller_id"`
		Count    int      `json:"count"`
	}
	err := s.db.Ticket.Query().
		Where(ticket.SellerIDIn(ids...), ticket.BusinessDay(s.today()), ticket.StatusEQ(model.StatusWaiting)).
		GroupBy(ticket.FieldSellerID).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[pulid.ID]int, len(rows))
	for _, r := range rows {
		out[r.SellerID] = r.Count
	}
	return out, nil
}

// LastCalls returns the ticket each stall called most recently today.
// A stall's call_seq is the seq of its latest call, so the latest call of
// every stall is one join, whatever the stall rows the caller read hold.
func (s *Service) LastCalls(ctx context.Context, ids []pulid.ID) (map[pulid.ID]*ent.Ticket, error) {
	evs, err := s.db.CallEvent.Query().
		Where(callevent.SellerIDIn(ids...), callevent.BusinessDay(s.today()), latestCall).
		WithTicket().All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[pulid.ID]*ent.Ticket, len(evs))
	for _, ev := range evs {
		out[ev.SellerID] = ev.Edges.Ticket
	}
	return out, nil
}

// latestCall keeps the call events whose seq is their stall's call_seq.
func latestCall(sel *entsql.Selector) {
	st := entsql.Table(seller.Table)
	sel.Join(st).On(sel.C(callevent.FieldSellerID), st.C(seller.FieldID))
	sel.Where(entsql.ColumnsEQ(sel.C(callevent.FieldSeq), st.C(seller.FieldCallSeq)))
}

// PhotoURL is where a stall's photo is served, or nil without one. A photo
// WeChat has not passed yet is shown to its seller and admins only.
func (s *Service) PhotoURL(ctx context.Context, st *ent.Seller) *string {
	if st.Photo == nil || *st.Photo == "" {
		return nil
	}
	if st.PhotoStatus != seller.PhotoStatusPUBLISHED && ViewOfTicket(ActorFrom(ctx), st.ID, nil) != ViewStaff {
		return nil
	}
	u := "/photos/" + *st.Photo
	return &u
}

// PhotoStatus is where the stall's photo is in WeChat's content check, for
// its seller and admins (nil for others, and without a photo or a verdict
// to tell).
func (s *Service) PhotoStatus(ctx context.Context, st *ent.Seller) *string {
	if ViewOfTicket(ActorFrom(ctx), st.ID, nil) != ViewStaff {
		return nil
	}
	if st.PhotoStatus == seller.PhotoStatusPUBLISHED && (st.Photo == nil || *st.Photo == "") {
		return nil
	}
	v := string(st.PhotoStatus)
	return &v
}
