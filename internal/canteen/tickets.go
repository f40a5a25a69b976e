package canteen

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"callme/ent"
	"callme/ent/daycounter"
	"callme/ent/predicate"
	"callme/ent/seller"
	"callme/ent/ticket"
	"callme/ent/user"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/store"
	"callme/internal/ticketcode"

	"entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
)

// FetchInput asks for a number at a stall.
type FetchInput struct {
	SellerID       pulid.ID
	Note           *string
	IdempotencyKey *string
}

// ClaimInput attaches a handed-out number to the caller.
type ClaimInput struct {
	SellerID pulid.ID
	Number   int
	Note     *string
	// ClaimCode is the code on the slip: holding the slip is the proof.
	ClaimCode *string
}

// TicketTopic and SellerTopic name the event topics of one ticket and one stall.
func TicketTopic(id pulid.ID) string { return "ticket:" + string(id) }
func SellerTopic(id pulid.ID) string { return "seller:" + string(id) }

// QueueTopic names the topic of changes to a stall's line of WAITING
// tickets other than calls (cancellations, reopenings): bare hints, for
// tracked tickets' positions.
func QueueTopic(id pulid.ID) string { return "queue:" + string(id) }

// FormatCode renders a ticket code (see package ticketcode).
func FormatCode(prefix string, number, maxNumber int) string {
	return ticketcode.Format(prefix, number, maxNumber)
}

// Fetch issues the next number of the stall's business day. A customer gets
// a ticket of their own; the stall's seller gets an unowned one to hand out.
func (s *Service) Fetch(ctx context.Context, in FetchInput) (*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	note, err := ticketNoteText.nonEmpty(in.Note)
	if err != nil {
		return nil, err
	}
	key, err := idempotencyKeyText.optional(in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	// From the seller app, only the stall's own seller (or an admin) hands
	// out numbers, and they are unowned; from the customer app, they are the
	// caller's own.
	owned := a.App == model.AppCustomer
	if !owned && !a.manages(in.SellerID) {
		return nil, Errorf(CodeForbidden, "only this stall's seller can hand out its numbers")
	}

	// A retry of a fetch that succeeded answers its ticket, even if the
	// stall closed or the customer reached the cap meanwhile (fast: on the
	// refusal only; general path: before anything else).
	byKey := func(err error) (*ent.Ticket, error) {
		if key != nil {
			if t, kerr := ticketByKey(ctx, s.db.Ticket, a.UserID, *key, in.SellerID); t != nil || kerr != nil {
				return t, kerr
			}
		}
		return nil, err
	}
	fast := s.forUpdate()
	if key != nil && !fast {
		if t, err := byKey(nil); t != nil || err != nil {
			return t, err
		}
	}
	counter, err := s.ensureCounter(ctx, in.SellerID)
	if err != nil {
		if fast {
			return byKey(err)
		}
		return nil, err
	}
	held, err := s.checkNote(ctx, a, note)
	if err != nil {
		return nil, err
	}
	if fast {
		t, err := s.fetchFast(ctx, a, in.SellerID, owned, note, key, counter, held)
		switch {
		case errors.Is(err, errNumberTaken):
			// The numbers wrapped and the next one is still held: the general
			// path below skips held numbers.
		case errors.Is(err, errKeyUsed):
			return byKey(err)
		case err != nil:
			var de *Error
			if errors.As(err, &de) && (de.Code == CodeRateLimited || de.Code == CodeSellerClosed || de.Code == CodeSellerInactive) {
				return byKey(err)
			}
			return nil, err
		default:
			return t, nil
		}
	} else {
		t, err := s.fetchOneWriter(ctx, a, in.SellerID, owned, note, key, counter, held)
		switch {
		case errors.Is(err, errNumberTaken):
			// A held number after a wrap, a key a racing retry used, or no
			// counter row: the general path below sorts each out.
		case err != nil:
			return nil, err
		default:
			return t, nil
		}
	}
	var t *ent.Ticket
	err = s.inTx(ctx, func(tx *txn) error {
		if owned {
			// First, so one customer's fetches at any stalls queue here and
			// each counts the tickets the ones before it committed.
			if err := s.lockUser(ctx, tx, a.UserID); err != nil {
				return err
			}
		}
		if key != nil {
			// Two retries raced past the check above: the later one, after
			// the earlier commits, answers its ticket here, or (if both got
			// this far) loses on the unique index and is retried.
			prev, err := ticketByKey(ctx, tx.Ticket, a.UserID, *key, in.SellerID)
			if prev != nil || err != nil {
				t = prev
				return err
			}
		}
		st, err := tx.Seller.Get(ctx, in.SellerID)
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no such seller")
		}
		if err != nil {
			return err
		}
		now := s.now()
		if err := canIssue(st, now); err != nil {
			return err
		}
		day := s.BusinessDay(now)
		if owned {
			if err := s.checkActiveCap(ctx, tx, a.UserID, day); err != nil {
				return err
			}
			if err := s.countTake(ctx, tx, a.UserID, day); err != nil {
				return err
			}
		}
		c, err := s.lockCounter(ctx, tx, st, day)
		if err != nil {
			return err
		}
		number, err := s.nextNumber(ctx, tx, c)
		if err != nil {
			return err
		}
		if t, err = s.insertTicket(ctx, tx, a, st.ID, day, number, c.Issued+1, dayCounter{day: day, prefix: c.Prefix, maxNumber: c.MaxNumber}, owned, note, key, now); err != nil {
			return err
		}
		if err := s.recordChecks(ctx, tx, a, st.ID, t.ID, held); err != nil {
			return err
		}
		n, err := tx.DayCounter.Update().
			Where(daycounter.ID(c.ID), daycounter.Issued(c.Issued)).
			SetLastNumber(number).
			SetIssued(c.Issued + 1).
			Save(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return errConflict
		}
		tx.onCommit(func() { s.issued.Add(1) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// errNumberTaken and errKeyUsed end a fast fetch whose INSERT hit a unique
// index: the number is still held (numbers wrapped), or the idempotency key
// was used (a retry: answer its ticket).
var (
	errNumberTaken = errors.New("canteen: number still held")
	errKeyUsed     = errors.New("canteen: idempotency key used")
)

// Index names of the unique indexes a fetch's INSERT may hit (ent/schema).
const (
	activeNumberIndex = "ticket_seller_id_business_day_active_number"
	idempotencyIndex  = "ticket_issued_by_idempotency_key"
)

// fetchFast issues a number on MySQL in one round trip: a batch of (for a
// customer) the UPDATE of their user row that adds this take while took
// proves them under the cap (takeWithinCap); the counter UPDATE, which
// checks the stall is open and paid and, for a customer, that the first
// UPDATE took (customerCounterUpdate), takes the next number and leaves it
// in LAST_INSERT_ID; the ticket's INSERT, which reads the number from there
// and inserts only if the UPDATE took one (ticketAfterCounter); and COMMIT.
// The transaction begins with its first statement (store: no START
// TRANSACTION). A note that must be recorded for review (content security)
// adds its INSERT and the COMMIT after the batch. Where the rules need more
// (numbers that wrapped onto a held one, a refused stall or customer, a
// retried key, a missing counter row) it answers a sentinel or a domain
// error and the caller takes the general path.
func (s *Service) fetchFast(ctx context.Context, a *Actor, sellerID pulid.ID, owned bool, note, key *string, c dayCounter, held []*textCheck) (*ent.Ticket, error) {
	record := false
	for _, h := range held {
		record = record || h.state != ""
	}
	var t *ent.Ticket
	tookOn := 0 // the day of a take the batch committed without a ticket
	err := s.inTx(ctx, func(tx *txn) error {
		tookOn = 0
		row, err := s.todaysRow(a, sellerID, c, owned, note, key)
		if err != nil {
			return err
		}
		now, day := row.t.CreatedAt, row.t.BusinessDay
		batch, args := []string{counterUpdate, ticketAfterCounter}, []any{sellerID, day, now}
		if owned {
			batch = []string{takeWithinCap, customerCounterUpdate, ticketAfterCounter}
			args = []any{day, day, a.UserID, day, day, s.cfg.MaxActiveTickets, sellerID, day, now}
		}
		res, err := store.ExecBatch(ctx, tx, !record, batch, append(args, row.args...)...)
		if err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1062 {
				switch {
				case strings.Contains(me.Message, activeNumberIndex):
					return errNumberTaken
				case strings.Contains(me.Message, idempotencyIndex):
					return errKeyUsed
				}
			}
			return err
		}
		last := len(batch) - 1 // the INSERT; the UPDATE is before it
		if res.RowsAffected[last] != 1 {
			if owned && !record && res.RowsAffected[0] == 1 {
				tookOn = day // took the take, then the stall refused; committed
			}
			return errRefused
		}
		v := res.LastInsertIDs[last-1]
		t = s.issuedIn(tx, row, int(v&16383), int(v>>14))
		if record {
			return s.recordChecks(ctx, tx, a, sellerID, t.ID, held)
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		if tookOn != 0 {
			s.giveTakeBack(ctx, a.UserID, tookOn)
		}
		return nil, s.whyRefused(ctx, a, owned, sellerID)
	}
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// todaysRow makes the row a fast fetch inserts, unless the business day
// turned over since the counter c was made: errNumberTaken, and the
// general path makes the new day's counter.
func (s *Service) todaysRow(a *Actor, sellerID pulid.ID, c dayCounter, owned bool, note, key *string) (ticketRow, error) {
	now := s.now()
	day := s.BusinessDay(now)
	if day != c.day {
		return ticketRow{}, errNumberTaken
	}
	return newTicketRow(a, sellerID, day, c, owned, note, key, now)
}

// issuedIn binds the ticket a fast fetch inserted with number and seq to
// tx, with what ent's hooks would do for an INSERT through its builder:
// the queue's version bump and event, and the issued count, on commit.
func (s *Service) issuedIn(tx *txn, row ticketRow, number, seq int) *ent.Ticket {
	t := tx.Ticket.Attach(row.issued(number, seq))
	s.queuesWritten(tx)
	tx.onCommit(func() { s.issued.Add(1) })
	return t
}

// giveTakeBack takes back from users.took a take whose batch committed
// without a ticket (the stall was closed, unpaid or had no counter row for
// the day: takeWithinCap ran before the counter UPDATE refused), so a
// customer who keeps tapping a closed stall is not pushed past the cap
// onto the counting general path for the rest of the day. Only while took
// is still of that day: there it counts this take, so it stays at least
// the day's tickets. If it fails, took overcounts by one, which is safe.
func (s *Service) giveTakeBack(ctx context.Context, uid pulid.ID, day int) {
	// The take committed: give it back even if the caller has gone.
	ctx = context.WithoutCancel(ctx)
	if _, err := s.db.ExecContext(ctx, "UPDATE `users` SET `took` = `took` - 1 WHERE `id` = ? AND `took_day` = ? AND `took` > 0", uid, day); err != nil {
		s.log.WarnContext(ctx, "giving a refused take back", "user", uid, "err", err)
	}
}

// fetchOneWriter issues a number on SQLite, whose one writer serialises
// every write transaction: it holds the write lock for the fewest
// statements, with everything else made before BEGIN. The counter UPDATE
// takes the next number and answers it with the stall's open switch and
// paid term (the copy in the counter row that fetchFast reads too); a
// customer's UPDATE runs only while their active tickets of the day are
// under the cap (counted in the same statement: with one writer nothing
// can add one meanwhile); then the ticket's INSERT with every value. The
// open switch and the term are checked here, not in the WHERE: the term is
// compared as an instant, not as SQLite's text of it. A
// refusal rolls back and tells why (whyRefused); a number still held
// after a wrap, a key a racing retry used (both unique indexes) or a
// missing counter row answers errNumberTaken, for the general path.
func (s *Service) fetchOneWriter(ctx context.Context, a *Actor, sellerID pulid.ID, owned bool, note, key *string, c dayCounter, held []*textCheck) (*ent.Ticket, error) {
	var t *ent.Ticket
	err := s.inTx(ctx, func(tx *txn) error {
		row, err := s.todaysRow(a, sellerID, c, owned, note, key)
		if err != nil {
			return err
		}
		now, day := row.t.CreatedAt, row.t.BusinessDay
		q, args := oneWriterCounterUpdate+oneWriterReturning, []any{sellerID, day}
		if owned {
			q, args = oneWriterCounterUpdate+oneWriterUnderCap+oneWriterReturning, append(args, day, a.UserID, s.cfg.MaxActiveTickets)
		}
		var number, seq int
		var open bool
		var paidUntil *time.Time
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		found := rows.Next()
		if found {
			err = rows.Scan(&number, &seq, &open, &paidUntil)
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = rows.Err()
		}
		switch {
		case err != nil:
			return err
		case !found || !open || paidUntil == nil || !paidUntil.After(now):
			return errRefused
		}
		if _, err := tx.ExecContext(ctx, ticketValues, row.valueArgs(number, seq)...); err != nil {
			if store.UniqueViolation(err) {
				return errNumberTaken
			}
			return err
		}
		t = s.issuedIn(tx, row, number, seq)
		return s.recordChecks(ctx, tx, a, sellerID, t.ID, held)
	})
	if errors.Is(err, errRefused) {
		return nil, s.whyRefused(ctx, a, owned, sellerID)
	}
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// oneWriterCounterUpdate, oneWriterUnderCap and oneWriterReturning make
// fetchOneWriter's counter UPDATE. Arguments: seller, day; for a
// customer, then day, user, cap. A customer whose user row is gone counts
// NULL, which is under no cap: refused, and whyRefused says so (as on
// MySQL, where the batch's user UPDATE finds no row).
const (
	oneWriterCounterUpdate = "UPDATE `day_counters` SET `last_number` = `last_number` % `max_number` + 1, `issued` = `issued` + 1 " +
		"WHERE `seller_id` = ? AND `business_day` = ?"
	oneWriterUnderCap  = " AND (SELECT (SELECT COUNT(*) FROM `tickets` WHERE `owner_id` = u.`id` AND `business_day` = ? AND `active_number` IS NOT NULL) FROM `users` u WHERE u.`id` = ?) < ?"
	oneWriterReturning = " RETURNING `last_number`, `issued`, `open`, `paid_until`"
)

// errRefused ends a fast fetch whose counter UPDATE issued nothing: the
// stall is closed, unpaid or unknown, the customer is at the cap or gone,
// or the stall has no counter row for the day.
var errRefused = errors.New("canteen: the counter update issued no number")

// whyRefused tells why a fast fetch's counter UPDATE issued nothing. Its
// transaction has ended (the batch committed, or, holding a note for
// review, rolled back), so it reads what holds now, in the general path's
// order (the stall, then the cap), so that a fetch refused for both reasons
// answers the same on every engine: a refusal that no longer holds (a
// ticket of the customer's finished meanwhile, the stall reopened, no
// counter row yet) sends the fetch down the general path, which checks
// every rule again under its locks.
func (s *Service) whyRefused(ctx context.Context, a *Actor, owned bool, sellerID pulid.ID) error {
	now := s.now()
	err := s.whyNotIssued(ctx, s.db.Seller, sellerID, now)
	if !owned || !errors.Is(err, errNumberTaken) {
		return err
	}
	active, err := countActive(ctx, s.db, a.UserID, s.BusinessDay(now))
	if err != nil {
		return err
	}
	if err := s.capError(active); err != nil {
		return err
	}
	return errNumberTaken
}

// counterUpdate takes a stall's next number in one statement, if the stall
// is open and paid, as the counter row itself says (the seller's state,
// which newCounter copies and writeCounterState keeps: no subquery on
// sellers, which cost MariaDB ~0.06 ms a fetch). The low 14 bits of
// LAST_INSERT_ID carry the number (at most 9999), the rest the day's issue
// sequence; assignments run left to right, so both read the row as it was.
// Arguments: seller, day, now.
const counterUpdate = "UPDATE `day_counters` SET `last_number` = LAST_INSERT_ID(((`issued` + 1) << 14) | (`last_number` % `max_number` + 1)) & 16383, `issued` = `issued` + 1 " +
	"WHERE `seller_id` = ? AND `business_day` = ? AND `open` AND `paid_until` > ?"

// takeWithinCap and customerCounterUpdate are a customer's counterUpdate,
// behind the lock of their user row in the same batch, and only while
// users.took proves them under the cap. users.took counts the tickets the
// customer took on took_day (fetched or claimed), so it bounds their active
// tickets of that day from above; a customer's tickets come only from
// their own takes (a seller's reopen gives back one that was counted when
// it was taken). takeWithinCap adds this take, and locks the row, only if
// took proves there is room:
//   - took_day is an earlier day: they took nothing today, so they hold
//     no active ticket of today, and took starts again at 1;
//   - took_day is today, or NULL (a row from before took, whose migration
//     counted their tickets of any day), and took is under the cap.
//
// Otherwise (took at the cap, which a cancel may have made stale, or a
// took_day later than this fetch's day) it changes nothing and the batch
// issues nothing (customerCounterUpdate reads ROW_COUNT), so the fetch
// takes the general path, which counts their tickets under the lock of the
// row (lockUser, checkActiveCap, countTake). A customer takes a few tickets
// a day, so most fetches never count.
//
// Why the decision may rest on the row alone: InnoDB tests an UPDATE's
// WHERE on the row it locked (a lookup by primary key waits for the lock),
// so the test sees every take committed before it, and no subquery reads a
// view made before the lock. Were the row tested on its last committed
// version first (InnoDB's semi-consistent read, at READ COMMITTED, for
// scans), a skipped row would cost only a detour: the fetch is refused and
// takes the general path, which counts under the lock. took_day never
// goes back: a take for an earlier day than took_day's does not match.
// The update also refuses a caller whose user row is gone (it changes
// nothing), as the general path's lockUser does. Locks are taken in the general path's order: the
// user row, then the counter row. The batch runs only on the transaction
// pool, the one that allows multi statements (store); its values go
// through the driver's interpolation (InterpolateParams) like any
// statement's, never into the text by concatenation.
// Arguments: day, day, user, day, day, cap; then counterUpdate's.
//
// tookUpdate adds a take unconditionally, for the general path and claims,
// which hold the row (lockUser) and counted under it: a take for an earlier
// day than took_day's adds to the later day's took (an overcount), where
// resetting took for its own day would let the later day's fast fetches
// skip tickets they hold. Arguments: day, day, day, user.
const (
	takeWithinCap = "UPDATE `users` SET `took` = IF(`took_day` < ?, 0, `took`) + 1, `took_day` = ? " +
		"WHERE `id` = ? AND (`took_day` IS NULL OR `took_day` <= ?) AND (`took_day` < ? OR `took` < ?)"
	customerCounterUpdate = counterUpdate + " AND ROW_COUNT() = 1"
	tookUpdate            = "UPDATE `users` SET `took` = CASE WHEN `took_day` IS NULL OR `took_day` >= ? THEN `took` ELSE 0 END + 1, " +
		"`took_day` = GREATEST(COALESCE(`took_day`, ?), ?) WHERE `id` = ?"
)

// countActive counts a customer's active tickets of day, for the refusal
// of a fetch whose counter update issued nothing (whyRefused); it tells a
// user row that is gone apart from one with no tickets.
func countActive(ctx context.Context, db *ent.Client, uid pulid.ID, day int) (int, error) {
	rows, err := db.QueryContext(ctx, "SELECT (SELECT COUNT(*) FROM `tickets` WHERE `owner_id` = u.`id` AND `business_day` = ? AND `active_number` IS NOT NULL) FROM `users` u WHERE u.`id` = ?", day, uid)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, errors.New("canteen: the caller's user row is gone")
	}
	var n int
	if err := rows.Scan(&n); err != nil {
		return 0, err
	}
	return n, rows.Close()
}

// whyNotIssued tells why the counter update found no open, paid stall.
func (s *Service) whyNotIssued(ctx context.Context, sellers *ent.SellerClient, sellerID pulid.ID, now time.Time) error {
	st, err := sellers.Get(ctx, sellerID)
	if ent.IsNotFound(err) {
		return Errorf(CodeNotFound, "no such seller")
	}
	if err != nil {
		return err
	}
	if err := canIssue(st, now); err != nil {
		return err
	}
	return errNumberTaken // open and paid, but no counter row: the general path makes one
}

// insertTicket writes a newly issued ticket.
func (s *Service) insertTicket(ctx context.Context, tx *txn, a *Actor, sellerID pulid.ID, day, number, seq int, c dayCounter, owned bool, note, key *string, now time.Time) (*ent.Ticket, error) {
	create := tx.Ticket.Create().
		SetSellerID(sellerID).
		SetBusinessDay(day).
		SetNumber(number).
		SetCode(FormatCode(c.prefix, number, c.maxNumber)).
		SetActiveNumber(number).
		SetIssueSeq(seq).
		SetStatus(model.StatusWaiting).
		SetIssuedBy(a.UserID).
		SetNillableIdempotencyKey(key).
		SetNillableNote(note).
		SetCreatedAt(now)
	// The track token goes into the INSERT: a trackURL costs no statement.
	tok, err := newTrackToken()
	if err != nil {
		return nil, err
	}
	create.SetTrackToken(tok)
	if owned {
		create.SetOwnerID(a.UserID).SetClaimedAt(now)
	} else {
		code, err := newClaimCode()
		if err != nil {
			return nil, err
		}
		create.SetClaimCode(code)
	}
	return create.Save(ctx)
}

// ticketAfterCounter inserts the ticket whose number the counter UPDATE
// before it took, if it took one (ROW_COUNT): the number and the day's
// issue sequence come from LAST_INSERT_ID (see counterUpdate), and the code
// is formatted from the number as ticketcode.Format does (LPAD to the
// width of the day's highest number), so the row and the ticket fetchFast
// answers (ticketRow.issued) are made of the same values. It is insertTicket
// in one hand-written statement: ent's builder cost ~120 allocations per
// fetch, and it cannot take its values from the statement before. It
// writes the same columns with the same values (ent's defaults for status,
// call_count and version included). Arguments: ticketRow.args.
const ticketAfterCounter = insertTicketColumns +
	"SELECT ?, ?, ?, LAST_INSERT_ID() & 16383, CONCAT(?, LPAD(LAST_INSERT_ID() & 16383, ?, '0')), LAST_INSERT_ID() & 16383, LAST_INSERT_ID() >> 14, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM DUAL WHERE ROW_COUNT() = 1"

// insertTicketColumns are the columns every hand-written ticket INSERT
// writes, in the order of its values.
const insertTicketColumns = "INSERT INTO `tickets` (`id`, `seller_id`, `business_day`, `number`, `code`, `active_number`, `issue_seq`, `status`, `issued_by`, `idempotency_key`, `note`, `track_token`, `call_count`, `version`, `created_at`, `owner_id`, `claimed_at`, `claim_code`) "

// ticketValues is ticketAfterCounter with every value given, for SQLite
// (fetchOneWriter), which has no LAST_INSERT_ID(expr) to carry the number
// from the counter UPDATE. Arguments: ticketRow.valueArgs.
const ticketValues = insertTicketColumns + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// ticketRow is a ticket a fast fetch (fetchFast, fetchOneWriter) is about
// to insert, all but its number.
type ticketRow struct {
	t    *ent.Ticket
	c    dayCounter // its code's prefix and width
	args []any      // ticketAfterCounter's (valueArgs makes ticketValues')
}

func newTicketRow(a *Actor, sellerID pulid.ID, day int, c dayCounter, owned bool, note, key *string, now time.Time) (ticketRow, error) {
	// The hand-written INSERTs bypass ent's builder: check what it would.
	for _, v := range []struct {
		s     *string
		check func(string) error
	}{{note, ticket.NoteValidator}, {key, ticket.IdempotencyKeyValidator}} {
		if v.s != nil {
			if err := v.check(*v.s); err != nil {
				return ticketRow{}, err
			}
		}
	}
	tok, err := newTrackToken()
	if err != nil {
		return ticketRow{}, err
	}
	t := &ent.Ticket{
		ID:             ticket.DefaultID(),
		SellerID:       sellerID,
		BusinessDay:    day,
		Status:         model.StatusWaiting,
		IssuedBy:       a.UserID,
		IdempotencyKey: key,
		Note:           note,
		TrackToken:     &tok,
		CallCount:      ticket.DefaultCallCount,
		Version:        ticket.DefaultVersion,
		CreatedAt:      now,
	}
	var owner, claimedAt, claimCode any // NULL unless set
	if owned {
		uid, at := a.UserID, now
		t.OwnerID, t.ClaimedAt = &uid, &at
		owner, claimedAt = string(uid), at
	} else {
		code, err := newClaimCode()
		if err != nil {
			return ticketRow{}, err
		}
		t.ClaimCode = &code
		claimCode = code
	}
	nullable := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return ticketRow{t: t, c: c, args: []any{
		string(t.ID), string(sellerID), day, c.prefix, ticketcode.Width(c.maxNumber), string(t.Status), string(a.UserID),
		nullable(key), nullable(note), tok, t.CallCount, t.Version, now, owner, claimedAt, claimCode,
	}}, nil
}

// valueArgs are ticketValues' arguments: args with the code's prefix and
// width replaced by the number, code, active number and issue sequence.
func (r ticketRow) valueArgs(number, seq int) []any {
	v := make([]any, 0, len(r.args)+2)
	v = append(v, r.args[:3]...)
	v = append(v, number, FormatCode(r.c.prefix, number, r.c.maxNumber), number, seq)
	return append(v, r.args[5:]...)
}

// issued completes the ticket with the number and issue sequence the
// counter UPDATE took, as ticketAfterCounter wrote them.
func (r ticketRow) issued(number, seq int) *ent.Ticket {
	active := number
	r.t.Number, r.t.ActiveNumber, r.t.IssueSeq = number, &active, seq
	r.t.Code = FormatCode(r.c.prefix, number, r.c.maxNumber)
	return r.t
}

// ticketByKey returns the caller's ticket of an idempotency key, or nil.
func ticketByKey(ctx context.Context, q *ent.TicketClient, uid pulid.ID, key string, sellerID pulid.ID) (*ent.Ticket, error) {
	prev, err := q.Query().Where(ticket.IssuedBy(uid), ticket.IdempotencyKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if prev.SellerID != sellerID {
		return nil, Errorf(CodeBadUserInput, "idempotencyKey was already used for a ticket at another stall")
	}
	return prev, nil
}

// lockUser serialises the transactions that add to a customer's active
// tickets by the customer's own doing (fetch and claim), for
// checkActiveCap. A seller's Reopen does not take it: the cap bounds what a
// customer takes, not what a stall gives back.
func (s *Service) lockUser(ctx context.Context, tx *txn, uid pulid.ID) error {
	if !s.forUpdate() {
		return nil // SQLite: one writer at a time
	}
	_, err := tx.User.Query().Where(user.ID(uid)).ForUpdate().Only(ctx)
	return err
}

// countTake adds a customer's take of a ticket of day (a fetch or a claim
// on the general path) to users.took, which the fast fetch trusts to bound
// their active tickets (takeWithinCap). The caller holds the user row
// (lockUser); a transaction that rolls back takes the take back. A
// reopened ticket needs none: it was counted when it was taken.
func (s *Service) countTake(ctx context.Context, tx *txn, uid pulid.ID, day int) error {
	if !s.forUpdate() {
		return nil // SQLite has no fast fetch to read took
	}
	_, err := tx.ExecContext(ctx, tookUpdate, day, day, day, uid)
	return err
}

// checkActiveCap enforces the per-customer cap on active tickets. The caller
// holds the user's row lock (MySQL; SQLite serialises writers), so two
// fetches by one customer at two stalls cannot both slip under the cap.
func (s *Service) checkActiveCap(ctx context.Context, tx *txn, uid pulid.ID, day int) error {
	n, err := tx.Ticket.Query().
		Where(ticket.OwnerID(uid), ticket.BusinessDay(day), ticket.ActiveNumberNotNil()).
		Count(ctx)
	if err != nil {
		return err
	}
	return s.capError(n)
}

// capError refuses a customer who already holds n active tickets, at the cap.
func (s *Service) capError(n int) error {
	if n < s.cfg.MaxActiveTickets {
		return nil
	}
	return &Error{
		Code:       CodeRateLimited,
		Message:    fmt.Sprintf("you already hold %d active tickets today; finish or cancel one first", n),
		Extensions: map[string]any{"limit": s.cfg.MaxActiveTickets},
	}
}

// ensureCounter creates the stall's counter row for today, once per stall
// per day per instance, outside the fetch transaction. Creating it inside
// would make the day's first fetches, all locking a row that does not exist
// yet, deadlock on MySQL's gap locks and burn their retries.
//
// Only a stall that may issue numbers gets one: the row snapshots the
// stall's prefix and maxNumber for the day, so a fetch refused at a closed
// stall must not fix them before the seller's last change of the morning.
// The cache keeps one day per stall, so it is bounded by the stalls that
// exist, whatever IDs clients send.
func (s *Service) ensureCounter(ctx context.Context, sellerID pulid.ID) (dayCounter, error) {
	day := s.today()
	if c, ok := s.counters.Load(sellerID); ok && c.(dayCounter).day == day {
		return c.(dayCounter), nil
	}
	// Most calls find the row another instance made: read it without
	// locks. Only a missing row takes the seller's share lock, whose
	// INSERT could otherwise wait for a counter row setOpen holds while
	// holding what setOpen waits for.
	c, err := readCounter(ctx, s.db.DayCounter, sellerID, day)
	if ent.IsNotFound(err) {
		err = s.inTx(ctx, func(tx *txn) error {
			create, err := s.newCounter(ctx, tx, sellerID, day)
			if err != nil {
				return err
			}
			err = create.OnConflictColumns(daycounter.FieldSellerID, daycounter.FieldBusinessDay).Ignore().Exec(ctx)
			if err != nil {
				return err
			}
			// Another instance may have made the row with settings since changed.
			c, err = readCounter(ctx, tx.DayCounter, sellerID, day)
			return err
		})
	}
	if err != nil {
		return dayCounter{}, err
	}
	s.counters.Store(sellerID, c)
	return c, nil
}

// readCounter reads what a stall's counter row of day fixes for the day.
func readCounter(ctx context.Context, q *ent.DayCounterClient, sellerID pulid.ID, day int) (dayCounter, error) {
	row, err := q.Query().Where(daycounter.SellerID(sellerID), daycounter.BusinessDay(day)).Only(ctx)
	if err != nil {
		return dayCounter{}, err
	}
	return dayCounter{day: day, prefix: row.Prefix, maxNumber: row.MaxNumber}, nil
}

// newCounter starts a stall's counter row for day, if the stall may issue
// numbers, with its settings and its open switch and paid term as they are
// under a share lock of the seller row (MySQL; SQLite has one writer):
// SetOpen and RenewSeller lock the row to write it, so each either commits
// before (and the counter copies what it wrote) or waits until the counter
// row exists (and writes it there too, writeCounterState). Without the lock
// a stall closed meanwhile could get a counter that says open, and the fast
// fetch, which reads only the counter, would issue numbers after
// setOpen(false) returned.
func (s *Service) newCounter(ctx context.Context, tx *txn, sellerID pulid.ID, day int) (*ent.DayCounterCreate, error) {
	q := tx.Seller.Query().Where(seller.ID(sellerID))
	if s.forUpdate() {
		q = q.ForShare(sql.WithLockClause("LOCK IN SHARE MODE")) // MariaDB has no FOR SHARE
	}
	st, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, Errorf(CodeNotFound, "no such seller")
	}
	if err != nil {
		return nil, err
	}
	if err := canIssue(st, s.now()); err != nil {
		return nil, err
	}
	return tx.DayCounter.Create().
		SetSellerID(st.ID).SetBusinessDay(day).SetMaxNumber(st.MaxNumber).SetPrefix(st.Prefix).
		SetOpen(st.Open).SetNillablePaidUntil(st.PaidUntil), nil
}

// writeSellerState runs write, which updates a stall's seller row (its
// open switch or paid term), and writes the row's new state to the stall's
// counter rows that a fetch may still use (writeCounterState), in one
// transaction, taking locks in a fetch's order: the counter rows first
// (a fetch locks its counter row, then its ticket's INSERT share-locks the
// seller row through the foreign key), then the seller row. Locking the
// seller first deadlocked with every fetch in flight, and under a lunch
// queue the close lost every retry. The counter rows are written after
// the seller row, so a row newCounter made meanwhile (it holds the
// seller's share lock until it commits, which the seller's UPDATE waits
// for) is written too. That row is the one exception to the order: it was
// not locked first, so a fetch that locked it meanwhile and waits for the
// seller's share lock deadlocks with this transaction, which the server
// breaks and inTx retries. It can happen once per stall per day, when its
// day's row is made during a setOpen or renewSeller, as can the like case
// in ensureCounter (the row made by another instance between its read and
// its INSERT, which then waits for the row this transaction holds).
func (s *Service) writeSellerState(ctx context.Context, tx *txn, sellerID pulid.ID, write func() (*ent.Seller, error)) (*ent.Seller, error) {
	if s.forUpdate() {
		if _, err := tx.DayCounter.Query().Where(s.usableCounters(sellerID)...).ForUpdate().IDs(ctx); err != nil {
			return nil, err
		}
	}
	st, err := write()
	if err != nil {
		return nil, err
	}
	return st, s.writeCounterState(ctx, tx, st)
}

// usableCounters are a stall's counter rows a fetch may still use: from two
// business days ago on, so an instance whose clock lags a little, or that
// computed its day just before the day turned, reads the stall's state too.
func (s *Service) usableCounters(sellerID pulid.ID) []predicate.DayCounter {
	return []predicate.DayCounter{daycounter.SellerID(sellerID), daycounter.BusinessDayGTE(s.BusinessDay(s.now().Add(-48 * time.Hour)))}
}

// writeCounterState writes a stall's open switch and paid term, as st (the
// seller row this transaction just wrote) has them, to its usable counter
// rows (see writeSellerState).
func (s *Service) writeCounterState(ctx context.Context, tx *txn, st *ent.Seller) error {
	u := tx.DayCounter.Update().Where(s.usableCounters(st.ID)...).SetOpen(st.Open)
	if st.PaidUntil != nil {
		u.SetPaidUntil(*st.PaidUntil)
	} else {
		u.ClearPaidUntil()
	}
	_, err := u.Save(ctx)
	return err
}

// dayCounter is what a stall's counter row fixes for a day: its prefix and
// where numbers wrap. Both stay for the day, so instances may cache them.
type dayCounter struct {
	day       int
	prefix    string
	maxNumber int
}

// canIssue says why a stall cannot issue numbers now, or nil.
func canIssue(st *ent.Seller, now time.Time) error {
	if !paid(st, now) {
		return Errorf(CodeSellerInactive, "this stall's paid term is over; it cannot issue numbers")
	}
	if !st.Open {
		return Errorf(CodeSellerClosed, "this stall is closed; try again when it opens")
	}
	return nil
}

// lockCounter returns the stall's counter row of day, locked for this
// transaction (ensureCounter made it; creating it here is the fallback for
// a fetch that crossed midnight).
func (s *Service) lockCounter(ctx context.Context, tx *txn, st *ent.Seller, day int) (*ent.DayCounter, error) {
	q := tx.DayCounter.Query().Where(daycounter.SellerID(st.ID), daycounter.BusinessDay(day))
	if s.forUpdate() {
		q = q.ForUpdate()
	}
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		// Two first fetches may race here; the unique index lets one win and
		// the other's transaction is retried (see retryable).
		create, err := s.newCounter(ctx, tx, st.ID, day)
		if err != nil {
			return nil, err
		}
		return create.Save(ctx)
	}
	return c, err
}

// nextNumber picks the number after the counter's last one, wrapping after
// max_number and skipping numbers still held by active tickets.
func (s *Service) nextNumber(ctx context.Context, tx *txn, c *ent.DayCounter) (int, error) {
	next := c.LastNumber%c.MaxNumber + 1
	if c.Issued < c.MaxNumber {
		return next, nil // no wrap yet today: next was never handed out
	}
	held, err := tx.Ticket.Query().
		Where(ticket.SellerID(c.SellerID), ticket.BusinessDay(c.BusinessDay), ticket.ActiveNumberNotNil()).
		Select(ticket.FieldActiveNumber).
		Ints(ctx)
	if err != nil {
		return 0, err
	}
	inUse := make(map[int]bool, len(held))
	for _, n := range held {
		inUse[n] = true
	}
	for i := 0; i < c.MaxNumber; i++ {
		n := (c.LastNumber+i)%c.MaxNumber + 1
		if !inUse[n] {
			return n, nil
		}
	}
	return 0, Errorf(CodeNumbersExhausted, "all %d numbers of today are waiting or called; finish some first", c.MaxNumber)
}

// Claim attaches a number the seller handed out to the calling customer.
func (s *Service) Claim(ctx context.Context, in ClaimInput) (*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if a.App != model.AppCustomer {
		return nil, Errorf(CodeForbidden, "claim numbers from the customer app")
	}
	if in.Number < 1 || in.Number > 9999 {
		return nil, Errorf(CodeBadUserInput, "number must be between 1 and 9999")
	}
	note, err := ticketNoteText.nonEmpty(in.Note)
	if err != nil {
		return nil, err
	}
	code, err := checkClaimCode(in.ClaimCode)
	if err != nil {
		return nil, err
	}
	// Every attempt spends from the caller's budget, so guessing a code
	// takes longer than a lunch break (see claimCodeDigits).
	if ok, wait := s.claims.Allow(string(a.UserID)); !ok {
		return nil, rateLimited(wait, "too many claims; try again in %d s, or ask the seller")
	}
	held, err := s.checkNote(ctx, a, note)
	if err != nil {
		return nil, err
	}
	var t *ent.Ticket
	err = s.inTx(ctx, func(tx *txn) error {
		if err := s.lockUser(ctx, tx, a.UserID); err != nil {
			return err
		}
		day := s.today()
		cur, err := tx.Ticket.Query().
			Where(ticket.SellerID(in.SellerID), ticket.BusinessDay(day), ticket.ActiveNumber(in.Number)).
			Only(ctx)
		if err == nil && !sameCode(cur.ClaimCode, code) {
			err = &ent.NotFoundError{} // a wrong code tells nothing about the number
		}
		if ent.IsNotFound(err) {
			return Errorf(CodeNotFound, "no waiting or called number %d with this claim code at this stall today", in.Number)
		}
		if err != nil {
			return err
		}
		if cur.OwnerID != nil {
			if *cur.OwnerID == a.UserID {
				t = cur
				return nil
			}
			return Errorf(CodeTicketTaken, "number %d is already claimed by another customer", in.Number)
		}
		if err := s.checkActiveCap(ctx, tx, a.UserID, day); err != nil {
			return err
		}
		t, err = tx.Ticket.UpdateOneID(cur.ID).
			Where(ticket.OwnerIDIsNil(), ticket.Version(cur.Version)).
			SetOwnerID(a.UserID).
			SetClaimedAt(s.now()).
			SetNillableNote(note).
			AddVersion(1).
			Save(ctx)
		if ent.IsNotFound(err) {
			return errConflict // claimed or changed meanwhile: look again
		}
		if err != nil {
			return err
		}
		if err := s.countTake(ctx, tx, a.UserID, day); err != nil {
			return err
		}
		if note != nil {
			if err := s.recordChecks(ctx, tx, a, t.SellerID, t.ID, held); err != nil {
				return err
			}
		}
		tx.publish(ticketEvent(t))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

// Claim codes: claimCodeDigits random digits, short enough to read out or
// type from a slip. With claimBurst attempts and then one a minute per
// customer (claimsPerSecond), guessing one of 10^6 codes takes years per
// account; numbers stay claimable only for the day.
const (
	claimCodeDigits = 6
	claimBurst      = 10
	claimsPerSecond = 1.0 / 60
)

func newClaimCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", claimCodeDigits, n.Int64()), nil
}

func checkClaimCode(code *string) (string, error) {
	if code == nil || strings.TrimSpace(*code) == "" {
		return "", Errorf(CodeBadUserInput, "claimCode is required: it is printed on the slip with the number")
	}
	c := strings.TrimSpace(*code)
	if len(c) != claimCodeDigits || strings.Trim(c, "0123456789") != "" {
		return "", Errorf(CodeBadUserInput, "claimCode is the %d digits printed on the slip", claimCodeDigits)
	}
	return c, nil
}

// sameCode compares in constant time, so timing tells nothing of the code.
func sameCode(stored *string, given string) bool {
	return stored != nil && subtle.ConstantTimeCompare([]byte(*stored), []byte(given)) == 1
}

// ClaimCode returns a handed-out ticket's claim code to its stall's seller
// (to print or say it again), and to nobody else.
func (s *Service) ClaimCode(ctx context.Context, t *ent.Ticket) *string {
	if ViewOf(ActorFrom(ctx), t) != ViewStaff {
		return nil
	}
	return t.ClaimCode
}

// ticketEvent publishes a snapshot of t, which must come from the
// transaction being committed. The snapshot is a copy bound to the client, not
// the transaction: subscribers resolve its edges after the commit, and the
// caller may still unwrap or change its own t.
func ticketEvent(t *ent.Ticket) events.Event {
	snap := *t
	return events.Event{Topic: TicketTopic(t.ID), Seq: int64(t.Version), Payload: snap.Unwrap()}
}

// Call calls a WAITING ticket, or calls a CALLED one again (a recall).
func (s *Service) Call(ctx context.Context, id pulid.ID) (*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	var t *ent.Ticket
	err = s.inTx(ctx, func(tx *txn) error {
		cur, err := getTicket(ctx, tx, a, id, actCall)
		if err != nil {
			return err
		}
		if t, err = s.call(ctx, tx, a, cur); err != nil {
			return err
		}
		return s.auditTicket(ctx, tx, a, "call", cur)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// CallNext calls the oldest WAITING ticket of today, or returns nil.
func (s *Service) CallNext(ctx context.Context, sellerID pulid.ID) (*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.manages(sellerID) {
		return nil, Errorf(CodeForbidden, "only this stall's seller can call its numbers")
	}
	var t *ent.Ticket
	err = s.inTx(ctx, func(tx *txn) error {
		t = nil
		if err := s.sweepNoShows(ctx, tx, a, sellerID); err != nil {
			return err
		}
		cur, err := tx.Ticket.Query().
			Where(ticket.SellerID(sellerID), ticket.BusinessDay(s.today()), ticket.StatusEQ(model.StatusWaiting)).
			Order(ent.Asc(ticket.FieldIssueSeq)).
			First(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if t, err = s.call(ctx, tx, a, cur); err != nil {
			return err
		}
		return s.auditTicket(ctx, tx, a, "callNext", cur)
	})
	return t, err
}

// call records one call of cur: the ticket moves to CALLED, the stall's call
// sequence grows by one, and a CallEvent keeps it for replay. The seller row
// update serialises calls of one stall, so seqs are gap-free and in commit order.
func (s *Service) call(ctx context.Context, tx *txn, a *Actor, cur *ent.Ticket) (*ent.Ticket, error) {
	if err := leaves(actCall, cur); err != nil {
		return nil, err
	}
	if cur.BusinessDay != s.today() {
		return nil, Errorf(CodeInvalidTransition, "this ticket is from an earlier business day")
	}
	now := s.now()
	st, err := tx.Seller.Get(ctx, cur.SellerID)
	if err != nil {
		return nil, err
	}
	if cur.Status == model.StatusCalled && s.noShowDue(st, cur, now) {
		// Called often or long enough: the recall marks it NO_SHOW instead.
		t, err := s.endTicket(ctx, tx, a, cur, actAutoNoShow)
		if err != nil {
			return nil, err
		}
		return t.Unwrap(), nil
	}
	if cur.Status == model.StatusCalled && cur.CalledAt != nil {
		if wait := cur.CalledAt.Add(s.cfg.RecallGap).Sub(now); wait > 0 {
			return nil, rateLimited(wait, "this number was just called; call it again in %d s")
		}
	}
	if err := tx.Seller.UpdateOneID(cur.SellerID).AddCallSeq(1).Exec(ctx); err != nil {
		return nil, err
	}
	st, err = tx.Seller.Query().Where(seller.ID(cur.SellerID)).Only(ctx)
	if err != nil {
		return nil, err
	}
	upd := tx.Ticket.UpdateOneID(cur.ID)
	if cur.FirstCalledAt == nil {
		upd.SetFirstCalledAt(now)
	}
	t, err := upd.
		Where(ticket.Version(cur.Version)).
		SetStatus(model.StatusCalled).
		AddCallCount(1).
		SetCalledAt(now).
		SetCalledBy(a.UserID).
		AddVersion(1).
		Save(ctx)
	if ent.IsNotFound(err) {
		return nil, errConflict
	}
	if err != nil {
		return nil, err
	}
	_, err = tx.CallEvent.Create().
		SetSellerID(st.ID).
		SetBusinessDay(cur.BusinessDay).
		SetSeq(st.CallSeq).
		SetTicketID(t.ID).
		SetCalledAt(now).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.queueNotification(ctx, tx, st, t); err != nil {
		return nil, err
	}
	tx.publish(ticketEvent(t))
	// The call event carries its own snapshot, with the seller, so boards
	// showing ticket { seller { name } } need no query per subscriber.
	snap := ticketEvent(t).Payload.(*ent.Ticket)
	sellerSnap := *st
	snap.Edges.Seller = sellerSnap.Unwrap()
	ev := newCallEvent(st.CallSeq, snap, now)
	tx.publish(events.Event{Topic: SellerTopic(st.ID), Seq: ev.Seq, Payload: ev})
	t = t.Unwrap()
	tx.onCommit(func() { s.called.Add(1) })
	return t, nil
}

// sweepNoShows marks the stall's CALLED tickets whose time limit passed as
// NO_SHOW, so that a seller who only presses "next" still clears them.
func (s *Service) sweepNoShows(ctx context.Context, tx *txn, a *Actor, sellerID pulid.ID) error {
	st, err := tx.Seller.Get(ctx, sellerID)
	if err != nil || st.NoShowAfterMinutes == 0 {
		return err
	}
	now := s.now()
	due, err := tx.Ticket.Query().
		Where(ticket.SellerID(sellerID), ticket.BusinessDay(s.today()), ticket.StatusEQ(model.StatusCalled),
			ticket.FirstCalledAtLTE(now.Add(-time.Duration(st.NoShowAfterMinutes)*time.Minute))).
		All(ctx)
	if err != nil {
		return err
	}
	for _, cur := range due {
		if _, err := s.endTicket(ctx, tx, a, cur, actAutoNoShow); err != nil {
			return err
		}
	}
	return nil
}

// noShowDue reports whether a CALLED ticket has been called the stall's
// no-show number of times, or was first called longer ago than its limit.
func (s *Service) noShowDue(st *ent.Seller, t *ent.Ticket, now time.Time) bool {
	if t.CallCount >= st.NoShowAfterCalls {
		return true
	}
	return st.NoShowAfterMinutes > 0 && t.FirstCalledAt != nil &&
		!now.Before(t.FirstCalledAt.Add(time.Duration(st.NoShowAfterMinutes)*time.Minute))
}

// Complete marks a CALLED ticket picked up (its owner or its seller).
func (s *Service) Complete(ctx context.Context, id pulid.ID) (*ent.Ticket, error) {
	return s.transition(ctx, id, actComplete, s.release)
}

// Cancel cancels a WAITING or CALLED ticket (its owner or its seller). A
// customer who claimed a handed-out number gives it back instead: its slip
// may be in someone else's hand, and cancelling would take the number away
// from them; the seller can clear numbers nobody holds.
func (s *Service) Cancel(ctx context.Context, id pulid.ID) (*ent.Ticket, error) {
	return s.transitionBy(ctx, id, func(cur *ent.Ticket, who party) (action, change) {
		if who == byOwner && cur.IssuedBy != *cur.OwnerID {
			return actUnclaim, func(_ *txn, _ *ent.Ticket, u *ent.TicketUpdateOne) error {
				u.ClearOwnerID().ClearClaimedAt().ClearNote()
				return nil
			}
		}
		return actCancel, s.release
	})
}

// release frees a ticket's number as it reaches a final status.
func (s *Service) release(_ *txn, _ *ent.Ticket, u *ent.TicketUpdateOne) error {
	u.ClearActiveNumber().SetDoneAt(s.now())
	return nil
}

// MyTickets lists the caller's tickets of the current business day; cols
// as for ticketList.
func (s *Service) MyTickets(ctx context.Context, cols []string) ([]*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	return s.ticketList(ctx, cols, ticket.OwnerID(a.UserID), ticket.BusinessDay(s.today()))
}

// Queue lists a stall's active tickets of today in issue order (its seller
// only); cols as for ticketList.
func (s *Service) Queue(ctx context.Context, sellerID pulid.ID, cols []string) ([]*ent.Ticket, error) {
	a, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !a.manages(sellerID) {
		return nil, Errorf(CodeForbidden, "only this stall's seller can see its queue")
	}
	return s.ticketList(ctx, cols, ticket.SellerID(sellerID), ticket.BusinessDay(s.today()), ticket.ActiveNumberNotNil())
}

// ticketList loads tickets in issue order. cols, when not nil, are the only
// ticket columns (ent field names) the caller will read beyond listColumns,
// which every listed ticket carries: a stall's queue page is read on every
// refresh of its console, and a ticket has 23 columns where the page shows
// a handful (BenchmarkQuery/queue50: 28% fewer allocations, ~15% less
// CPU). The tickets are then partial, and must not reach code that reads
// other columns.
func (s *Service) ticketList(ctx context.Context, cols []string, where ...predicate.Ticket) ([]*ent.Ticket, error) {
	q := s.db.Ticket.Query().Where(where...)
	if cols != nil {
		q.Select(withColumns(listColumns, cols)...)
	}
	return q.Order(ent.Asc(ticket.FieldBusinessDay), ent.Asc(ticket.FieldIssueSeq)).All(ctx)
}

// listColumns are what the domain reads of every listed ticket, whatever
// the caller reads: its stall and owner (who may see what: ViewOf), its day
// and issue order (the list's order, and a WAITING ticket's place:
// PositionOf) and its status. ent adds the id.
var listColumns = []string{ticket.FieldSellerID, ticket.FieldOwnerID, ticket.FieldBusinessDay, ticket.FieldIssueSeq, ticket.FieldStatus}

// PositionKey names a WAITING ticket's place: its stall, day and issue order.
type PositionKey struct {
	SellerID    pulid.ID
	BusinessDay int
	IssueSeq    int
}

// PositionOf is the key of t's place, or false unless t is WAITING.
func PositionOf(t *ent.Ticket) (PositionKey, bool) {
	return PositionKey{t.SellerID, t.BusinessDay, t.IssueSeq}, t.Status == model.StatusWaiting
}

// Positions counts, for each key, the WAITING tickets ahead of it: one
// statement for every stall and day the keys name, so a queue of 50 costs
// what a queue of 1 does.
func (s *Service) Positions(ctx context.Context, keys []PositionKey) (map[PositionKey]int, error) {
	type group struct {
		seller pulid.ID
		day    int
	}
	seen := map[group]bool{}
	var where []predicate.Ticket
	for _, k := range keys {
		g := group{k.SellerID, k.BusinessDay}
		if !seen[g] {
			seen[g] = true
			where = append(where, ticket.And(ticket.SellerID(k.SellerID), ticket.BusinessDay(k.BusinessDay)))
		}
	}
	var rows []struct {
		SellerID    pulid.ID `json:"seller_id"`
		BusinessDay int      `json:"business_day"`
		IssueSeq    int      `json:"issue_seq"`
	}
	err := s.db.Ticket.Query().
		Where(ticket.Or(where...), ticket.StatusEQ(model.StatusWaiting)).
		Select(ticket.FieldSellerID, ticket.FieldBusinessDay, ticket.FieldIssueSeq).
		Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	waiting := map[group][]int{}
	for _, r := range rows {
		g := group{r.SellerID, r.BusinessDay}
		waiting[g] = append(waiting[g], r.IssueSeq)
	}
	out := make(map[PositionKey]int, len(keys))
	for _, k := range keys {
		n := 0
		for _, seq := range waiting[group{k.SellerID, k.BusinessDay}] {
			if seq < k.IssueSeq {
				n++
			}
		}
		out[k] = n
	}
	return out, nil
}

// Note returns a ticket's note to its owner and its seller only. Tickets
// reach other callers through public edges (a stall's lastCalled, the call
// stream), and a note may say who the customer is.
func (s *Service) Note(ctx context.Context, t *ent.Ticket) *string {
	if !canRead(ActorFrom(ctx), t) {
		return nil
	}
	return t.Note
}

// TrackURL returns the link to a ticket's public page to those who may read
// its note (canRead), and to nobody else: the link is a capability, handed
// on by its owner or printed on the seller's slip. A ticket issued before
// links existed gets its token here, once.
func (s *Service) TrackURL(ctx context.Context, t *ent.Ticket) (*string, error) {
	if !canRead(ActorFrom(ctx), t) {
		return nil, nil
	}
	tok := t.TrackToken
	if tok == nil {
		v, err := s.ensureTrackToken(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		tok = &v
	}
	u := s.trackURL(*tok)
	return &u, nil
}

// canRead reports whether the caller may see t's private fields (note,
// trackURL): its owner, its seller, an admin.
func canRead(a *Actor, t *ent.Ticket) bool {
	return ViewOf(a, t) >= ViewOwner
}
