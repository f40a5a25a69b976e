package canteen

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sort"
	"sync"
	"time"

	"callme/ent"
	"callme/ent/ticket"
	"callme/internal/model"
	"callme/internal/pulid"
)

// TrackedTicket is what the public page behind a ticket's trackURL shows:
// where the ticket is, never who holds it (no note, no owner, no claim code).
type TrackedTicket struct {
	Seller      *ent.Seller
	Code        string
	Status      model.TicketStatus
	Position    *int
	EtaSeconds  *int
	CallCount   int
	CalledAt    *time.Time
	DoneAt      *time.Time
	BusinessDay string
	ExpiresAt   time.Time
}

// A track token is trackTokenBytes random bytes, base64url without padding
// (144 bits: unguessable, and short enough for a QR code on a slip).
const (
	trackTokenBytes = 18
	trackTokenLen   = 24 // base64.RawURLEncoding.EncodedLen(trackTokenBytes)
)

func newTrackToken() (string, error) {
	var b [trackTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validTrackToken reports whether s could be a track token at all, so
// garbage never reaches the database.
func validTrackToken(s string) bool {
	if len(s) != trackTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// trackURL is the public page of a token.
func (s *Service) trackURL(token string) string { return s.cfg.Media.PublicURL + "/t/" + token }

// ensureTrackToken gives a ticket issued before track tokens existed its
// token, once: of two first reads racing, one writes and both answer it.
func (s *Service) ensureTrackToken(ctx context.Context, id pulid.ID) (string, error) {
	tok, err := newTrackToken()
	if err != nil {
		return "", err
	}
	n, err := s.db.Ticket.Update().Where(ticket.ID(id), ticket.TrackTokenIsNil()).SetTrackToken(tok).Save(ctx)
	if err != nil || n == 1 {
		return tok, err
	}
	return s.db.Ticket.Query().Where(ticket.ID(id)).Select(ticket.FieldTrackToken).String(ctx)
}

// ticketByToken returns the live ticket of a track token, or nil when the
// token is malformed, unknown, or its business day is over.
func (s *Service) ticketByToken(ctx context.Context, token string) (*ent.Ticket, error) {
	if !validTrackToken(token) {
		return nil, nil
	}
	t, err := s.db.Ticket.Query().Where(ticket.TrackToken(token)).Only(ctx)
	if ent.IsNotFound(err) || (err == nil && !s.now().Before(s.dayEnd(t.BusinessDay))) {
		return nil, nil
	}
	return t, err
}

// TrackedTicket is the public view of the ticket of a trackURL's token, for
// anyone holding the link (no login); nil for an unknown token or a ticket
// whose business day is over.
func (s *Service) TrackedTicket(ctx context.Context, token string) (*TrackedTicket, error) {
	t, err := s.ticketByToken(ctx, token)
	if t == nil || err != nil {
		return nil, err
	}
	return s.trackedView(ctx, t, nil, time.Now())
}

// trackedView reads what a tracked ticket shows beyond its row: its stall
// (unless st is given), and while it is WAITING its place in the queue and
// its ETA, from a read of the stall's queue begun no earlier than notBefore.
func (s *Service) trackedView(ctx context.Context, t *ent.Ticket, st *ent.Seller, notBefore time.Time) (*TrackedTicket, error) {
	if st == nil {
		var err error
		if st, err = s.db.Seller.Get(ctx, t.SellerID); err != nil {
			return nil, err
		}
	}
	v := &TrackedTicket{
		Seller:      st,
		Code:        t.Code,
		Status:      t.Status,
		CallCount:   t.CallCount,
		CalledAt:    t.CalledAt,
		DoneAt:      t.DoneAt,
		BusinessDay: FormatDay(t.BusinessDay),
		ExpiresAt:   s.dayEnd(t.BusinessDay),
	}
	if t.Status == model.StatusWaiting {
		q, err := s.stallQueue(ctx, t.SellerID, t.BusinessDay, notBefore)
		if err != nil {
			return nil, err
		}
		pos := sort.SearchInts(q.waiting, t.IssueSeq) // WAITING tickets issued before it
		v.Position = &pos
		v.EtaSeconds = etaFrom(q.gap, pos)
	}
	return v, nil
}

// stallQueue is what the tracked tickets of a stall place themselves by: the
// issue order of its WAITING tickets of a day, and its pace (callGap, as
// ETASeconds uses it). The tracked
// tickets of one stall on one instance share a read: after a call, 200
// phones following a queue cost two statements, not 400.
type stallQueue struct {
	started time.Time // when its read began, on the monotonic clock
	day     int
	waiting []int // issue seqs, ascending
	gap     *float64
}

// queueSlot holds a stall's latest queue read; its lock is held during a
// read, so callers that need a newer one wait for it and share it.
type queueSlot struct {
	mu   sync.Mutex
	snap *stallQueue
}

// stallQueue returns the stall's queue of day as read by a read that began
// at notBefore or later: every change whose event arrived before notBefore
// is in it. The slots are bounded by the stalls that exist.
func (s *Service) stallQueue(ctx context.Context, sellerID pulid.ID, day int, notBefore time.Time) (*stallQueue, error) {
	s.queueMu.Lock()
	slot := s.queues[sellerID]
	if slot == nil {
		slot = &queueSlot{}
		s.queues[sellerID] = slot
	}
	s.queueMu.Unlock()
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if q := slot.snap; q != nil && q.day == day && !q.started.Before(notBefore) {
		return q, nil
	}
	q := &stallQueue{started: time.Now(), day: day}
	var err error
	q.waiting, err = s.db.Ticket.Query().
		Where(ticket.SellerID(sellerID), ticket.BusinessDay(day), ticket.StatusEQ(model.StatusWaiting)).
		Order(ent.Asc(ticket.FieldIssueSeq)).
		Select(ticket.FieldIssueSeq).
		Ints(ctx)
	if err != nil {
		return nil, err
	}
	if q.gap, err = s.callGap(ctx, sellerID); err != nil {
		return nil, err
	}
	slot.snap = q
	return q, nil
}

// sameView reports whether a page showing a needs no update to show b.
func sameView(a, b *TrackedTicket) bool {
	eqInt := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.Status == b.Status && a.CallCount == b.CallCount && eqInt(a.Position, b.Position) &&
		eqInt(a.EtaSeconds, b.EtaSeconds) && eqTime(a.CalledAt, b.CalledAt) && eqTime(a.DoneAt, b.DoneAt)
}

// trackCoalesce is how long a tracked ticket's stream gathers changes of the
// queue before reading it again: a burst of calls and cancellations ahead
// costs one read, and a subscriber reads at most a few times a second
// however busy the stall. Its own status changes are sent at once.
const trackCoalesce = 200 * time.Millisecond

func errTrackGone() *Error {
	return Errorf(CodeNotFound, "no ticket has this link, or its business day is over")
}

// TrackedTicketUpdated streams the public view of a token's ticket: its
// state now, then again whenever it changes (its status, a call or recall)
// or its place in the queue does (a call, cancellation or reopening at its
// stall). It needs no login, and is not tied to a session: the link is the
// capability. It ends with NOT_FOUND for an unknown token, and when the
// ticket's business day ends. A client that lost the connection (a server
// restart) subscribes again and gets the current state first.
func (s *Service) TrackedTicketUpdated(ctx context.Context, token string) (*Stream[*TrackedTicket], error) {
	t, err := s.ticketByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errTrackGone()
	}
	id, sellerID, expires := t.ID, t.SellerID, s.dayEnd(t.BusinessDay)
	// Subscribe, then read: every change committed after the read arrives
	// as an event.
	own := s.broker.Subscribe(TicketTopic(id))
	stall := s.broker.Subscribe(SellerTopic(sellerID))
	queue := s.broker.Subscribe(QueueTopic(sellerID))
	closeAll := func() { own.Close(); stall.Close(); queue.Close() }
	var cur *TrackedTicket
	var st *ent.Seller
	err = s.retryRead(ctx, "reading the tracked ticket", func() (err error) {
		if t, err = s.db.Ticket.Get(ctx, id); err != nil {
			return err
		}
		if st, err = s.db.Seller.Get(ctx, sellerID); err != nil {
			return err
		}
		cur, err = s.trackedView(ctx, t, st, time.Now())
		return err
	})
	if err != nil {
		closeAll()
		return nil, err
	}
	return startStream(ctx, func(send func(*TrackedTicket) bool) error {
		defer closeAll()
		// The day's end is checked on every read too, so a clock moved by
		// a test (or a server that slept) ends the stream as well.
		dayOver := time.NewTimer(max(expires.Sub(s.now()), 0))
		defer dayOver.Stop()
		var coalesce *time.Timer
		var pending <-chan time.Time
		// lastEvent is when the latest change was heard: the next read of
		// the queue must have begun after it.
		var lastEvent time.Time
		defer func() {
			if coalesce != nil {
				coalesce.Stop()
			}
		}()
		later := func() {
			lastEvent = time.Now()
			if pending != nil {
				return
			}
			if coalesce == nil {
				coalesce = time.NewTimer(trackCoalesce)
			} else {
				coalesce.Reset(trackCoalesce)
			}
			pending = coalesce.C
		}
		rereadRow := false
		// refresh reads the ticket (if its events were hints) and the queue,
		// and sends the view if the page would change.
		refresh := func() error {
			pending = nil
			if !s.now().Before(expires) {
				return errTrackGone()
			}
			err := s.retryRead(ctx, "reading the tracked ticket", func() (err error) {
				if rereadRow {
					var nt *ent.Ticket
					if nt, err = s.db.Ticket.Get(ctx, id); err != nil {
						return err
					}
					if nt.Version >= t.Version {
						t = nt
					}
				}
				v, err := s.trackedView(ctx, t, st, lastEvent)
				if err == nil && !sameView(cur, v) {
					cur = v
					if !send(v) {
						return ctx.Err()
					}
				}
				return err
			})
			rereadRow = false
			return err
		}
		if !send(cur) {
			return nil
		}
		for {
			var err error
			select {
			case <-ctx.Done():
				return nil
			case <-dayOver.C:
				return errTrackGone()
			case ev := <-own.Events():
				nt, ok := ev.Payload.(*ent.Ticket)
				switch {
				case !ok:
					rereadRow = true // another instance's hint: read the row
					later()
				case nt.Version <= t.Version: // stale
				case nt.Status != model.StatusWaiting:
					// Called, recalled or done: nothing to read, send at once.
					t = nt
					err = refresh()
				default:
					t = nt
					later()
				}
			case <-own.Lagged():
				rereadRow = true
				later()
			case <-stall.Events():
				if t.Status == model.StatusWaiting {
					later()
				}
			case <-queue.Events():
				if t.Status == model.StatusWaiting {
					later()
				}
			case <-stall.Lagged():
				later()
			case <-queue.Lagged():
				later()
			case <-pending:
				err = refresh()
			}
			if err != nil {
				return err
			}
		}
	}), nil
}
