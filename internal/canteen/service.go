// Package canteen holds callme's rules: who may do what, how numbers are
// issued and wrap, which status may follow which, and the business day. The
// GraphQL resolvers are thin adapters over Service; everything here is
// testable without GraphQL.
//
// Every unit of work runs in one database transaction (inTx), retried whole on
// deadlocks and conflicts, and publishes its events only after commit.
package canteen

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callme/ent"
	"callme/internal/events"
	"callme/internal/media"
	"callme/internal/model"
	"callme/internal/pulid"
	"callme/internal/ratelimit"
	"callme/internal/store"
	"callme/internal/wechat"
)

// Config holds the rules that operators may tune.
type Config struct {
	// Admins are the openids with the ADMIN role.
	Admins []string
	// Location is the canteen's time zone; DayStartHour is when a business day
	// begins in it (numbers restart then).
	Location     *time.Location
	DayStartHour int
	// SessionCacheTTL is how long an instance may answer from a session it
	// resolved before (0: always read it); a logout elsewhere takes effect
	// within it.
	SessionCacheTTL time.Duration
	// SessionIdle is how long a session lives without requests.
	SessionIdle time.Duration
	// SessionCheck is how often running subscriptions look at the clock to
	// end those whose session expired (default a minute).
	SessionCheck time.Duration
	// MaxActiveTickets caps a customer's WAITING and CALLED tickets of a day.
	MaxActiveTickets int
	// DevLogin accepts `dev:<openid>` login codes (no WeChat credentials).
	DevLogin bool
	// RecallGap is the least time between two calls of one ticket, so a
	// double tap on "call again" does not announce a number twice.
	RecallGap time.Duration
	// TxRetries is how often a transaction is retried on deadlock or conflict.
	TxRetries int
	// Notify configures WeChat subscribe messages on calls; empty is off.
	Notify NotifyConfig
	// Media configures stall photos and QR codes.
	Media MediaConfig
	// Content configures WeChat content security; zero is off.
	Content ContentConfig
	// Retention configures the data lifecycle sweep (lifecycle.go).
	Retention Retention
	// ConsoleLoginTTL is how long a console's scan-to-log-in challenge
	// waits for its approval (default 2 minutes); ConsoleLoginsPerMinute
	// how many one client address may start a minute (default
	// DefaultConsoleLoginsPerMinute; negative: no limit).
	ConsoleLoginTTL        time.Duration
	ConsoleLoginsPerMinute int
	// ConsoleLoginsLive bounds the unexpired challenges of all addresses
	// together (default maxLiveConsoleLogins).
	ConsoleLoginsLive int
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// CallDelivered, when set, hears how long after its commit each live
	// call reached a subscriber's stream (for the delivery-latency metric).
	CallDelivered func(time.Duration)
}

func (c *Config) setDefaults() {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.SessionCheck <= 0 {
		c.SessionCheck = time.Minute
	}
	if c.MaxActiveTickets <= 0 {
		c.MaxActiveTickets = 3
	}
	if c.TxRetries <= 0 {
		c.TxRetries = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ConsoleLoginTTL <= 0 {
		c.ConsoleLoginTTL = consoleLoginTTL
	}
	if c.ConsoleLoginsPerMinute == 0 {
		c.ConsoleLoginsPerMinute = DefaultConsoleLoginsPerMinute
	}
	if c.ConsoleLoginsLive <= 0 {
		c.ConsoleLoginsLive = maxLiveConsoleLogins
	}
	c.Retention.setDefaults()
}

// WeChat is the part of the WeChat client that the domain needs.
type WeChat interface {
	Code2Session(ctx context.Context, app model.App, code string) (wechat.Session, error)
}

// Service runs callme's use cases.
type Service struct {
	db      *ent.Client
	dialect string
	broker  events.Broker
	wechat  WeChat
	cfg     Config
	admins  map[string]bool
	log     *slog.Logger

	issued, called atomic.Uint64
	// callRuns and callDeliveries count the shared call feed's executions
	// (one per group of subscribers per call) and the results they made.
	callRuns, callDeliveries atomic.Uint64
	// swept is when this instance last finished a lifecycle sweep (or found
	// another instance holding the lease), in Unix seconds; start time until
	// then.
	swept atomic.Int64
	// kick wakes the notification sender after a call queued a message.
	kick chan struct{}
	// checkKick wakes the content checker after a mutation queued a check.
	checkKick chan struct{}
	// counters remembers, per stall, the day whose counter row is known to exist.
	counters sync.Map
	// claims is each customer's budget of claim attempts.
	claims *ratelimit.Limiter
	// queues holds each stall's latest queue read for its tracked tickets.
	queueMu sync.Mutex
	queues  map[pulid.ID]*queueSlot
	// consoleStarts is each client address's budget of console logins.
	consoleStarts *ratelimit.Limiter
	// sessions caches resolved sessions for SessionCacheTTL.
	sessions *sessionCache
	// public versions what public reads show (response caches).
	public *publicVersions
	// feeds are the shared calledNumbers feeds, one per stall with subscribers.
	feeds *callFeeds
	// catchUpPass, when set (tests), hears the end of each pass of a call
	// feed member's catch-up: whether it left the member live.
	catchUpPass func(live bool)
	// holder names this instance in the lifecycle lease.
	holder string
}

// Stats counts what this instance did since start (for metrics).
type Stats struct {
	TicketsIssued uint64
	Calls         uint64 // calls and recalls
	// CallRuns counts executions of calledNumbers results in the shared
	// feed, one per group of subscribers that see a call alike;
	// CallDeliveries the results delivered by them.
	CallRuns, CallDeliveries uint64
	// LastSweep is when the data lifecycle last ran to the end here.
	LastSweep time.Time
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	return Stats{TicketsIssued: s.issued.Load(), Calls: s.called.Load(), LastSweep: time.Unix(s.swept.Load(), 0),
		CallRuns: s.callRuns.Load(), CallDeliveries: s.callDeliveries.Load()}
}

// New returns a Service. wx may be nil when only dev login is used.
func New(db *ent.Client, dialectName string, broker events.Broker, wx WeChat, cfg Config, log *slog.Logger) *Service {
	cfg.setDefaults()
	admins := make(map[string]bool, len(cfg.Admins))
	for _, a := range cfg.Admins {
		if a = strings.TrimSpace(a); a != "" {
			admins[a] = true
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Media.PhotoMaxBytes <= 0 {
		cfg.Media.PhotoMaxBytes = 512 << 10
	}
	if cfg.Media.Decoder == nil {
		cfg.Media.Decoder = media.NewDecoder(2)
	}
	if cfg.Media.PublicURL == "" {
		cfg.Media.PublicURL = "http://localhost:8080"
	}
	if cfg.Media.QRPage == "" {
		cfg.Media.QRPage = "pages/stall/index"
	}
	if cfg.Media.QREnv == "" {
		cfg.Media.QREnv = "release"
	}
	if cfg.Notify.State == "" {
		cfg.Notify.State = "formal"
	}
	svc := &Service{db: db, dialect: dialectName, broker: broker, wechat: wx, cfg: cfg, admins: admins, log: log, kick: make(chan struct{}, 1), checkKick: make(chan struct{}, 1),
		claims:        ratelimit.New(claimsPerSecond, claimBurst, cfg.Now),
		consoleStarts: ratelimit.New(float64(cfg.ConsoleLoginsPerMinute)/60, max(cfg.ConsoleLoginsPerMinute, 1), cfg.Now),
		sessions:      newSessionCache(cfg.SessionCacheTTL, 100_000, broker),
		feeds:         &callFeeds{topics: map[string]*callTopic{}},
		holder:        newHolder(),
		queues:        map[pulid.ID]*queueSlot{}}
	svc.swept.Store(cfg.Now().Unix())
	if db != nil && broker != nil { // nil in tests of pure functions
		svc.public = newPublicVersions(broker)
		db.Seller.Use(publicChanges(broker, &svc.public.stalls))
		db.MenuItem.Use(publicChanges(broker, &svc.public.stalls))
		db.Ticket.Use(queueChanges(broker, &svc.public.queues))
		db.CallEvent.Use(queueChanges(broker, &svc.public.queues))
	}
	return svc
}

// now is the clock at microsecond precision, the finest every database keeps.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// BusinessDay returns the business day (YYYYMMDD) that t falls in: the local
// date, where a day starts at DayStartHour on the wall clock rather than at
// midnight. It reads the wall clock, not the time elapsed since midnight, so
// on the days clocks change the day still begins at DayStartHour:00.
func (s *Service) BusinessDay(t time.Time) int {
	y, m, d := s.businessDate(t)
	return y*10000 + int(m)*100 + d
}

// businessDate is BusinessDay as a calendar date.
func (s *Service) businessDate(t time.Time) (int, time.Month, int) {
	lt := t.In(s.cfg.Location)
	y, m, d := lt.Date()
	if lt.Hour() < s.cfg.DayStartHour {
		y, m, d = time.Date(y, m, d-1, 12, 0, 0, 0, time.UTC).Date()
	}
	return y, m, d
}

// nextDayStart is when the next business day begins: today's end.
func (s *Service) nextDayStart() time.Time { return s.dayEnd(s.today()) }

// dayEnd is when business day day (YYYYMMDD) ends: the next one's start.
func (s *Service) dayEnd(day int) time.Time {
	y, m, d := time.Date(day/10000, time.Month(day/100%100), day%100+1, 12, 0, 0, 0, time.UTC).Date()
	return s.dayStart(y, m, d)
}

// dayStart is the instant the business day of date y-m-d begins: the first
// instant whose local wall clock reads DayStartHour:00 or later on that date.
// time.Date alone may pick either side of a clock change when that time does
// not exist (spring) or exists twice (autumn).
func (s *Service) dayStart(y int, m time.Month, d int) time.Time {
	loc := s.cfg.Location
	want := time.Date(y, m, d, s.cfg.DayStartHour, 0, 0, 0, time.UTC)
	wall := func(t time.Time) time.Time {
		lt := t.In(loc)
		return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
	}
	t := time.Date(y, m, d, s.cfg.DayStartHour, 0, 0, 0, loc)
	start, end := t.ZoneBounds()
	switch w := wall(t); {
	case w.Before(want) && !end.IsZero():
		return end // in a gap, read before it: the day starts when the clock jumps
	case w.After(want) && !start.IsZero():
		return start // in a gap, read after it: the same jump
	case !start.IsZero():
		// A time read twice: take the first reading, in the zone before.
		_, off := t.Zone()
		_, prevOff := start.Add(-time.Nanosecond).Zone()
		if prevOff > off {
			if earlier := t.Add(-time.Duration(prevOff-off) * time.Second); earlier.Before(start) && wall(earlier).Equal(want) {
				return earlier
			}
		}
	}
	return t
}

func (s *Service) today() int { return s.BusinessDay(s.now()) }

// txn is a transaction plus what to do once it commits.
type txn struct {
	*ent.Tx
	events    []events.Event
	committed []func()
}

func (t *txn) publish(ev events.Event) { t.events = append(t.events, ev) }

// queueChanged tells a stall's tracked tickets, once per transaction, that
// its line of WAITING tickets changed other than by a call (a call is on the
// stall's topic already): they read their place again. It has a topic of
// its own so the stall's topic stays the call stream (see SellerTopic).
func (t *txn) queueChanged(sellerID pulid.ID) {
	topic := QueueTopic(sellerID)
	for _, e := range t.events {
		if e.Topic == topic {
			return
		}
	}
	t.publish(events.Event{Topic: topic})
}

// waitingChanged publishes queueChanged when a change took a ticket into or
// out of WAITING.
func (t *txn) waitingChanged(before, after *ent.Ticket) {
	if (before.Status == model.StatusWaiting) != (after.Status == model.StatusWaiting) {
		t.queueChanged(after.SellerID)
	}
}

func (t *txn) onCommit(f func()) { t.committed = append(t.committed, f) }

// errConflict makes inTx retry: a row changed under a conditional update.
var errConflict = errors.New("canteen: concurrent update, retry")

// inTx runs fn in a transaction, retries it whole on deadlocks, lock
// timeouts, busy databases and conflicts, and publishes fn's events after
// commit, so nobody hears of a change that might still roll back.
func (s *Service) inTx(ctx context.Context, fn func(*txn) error) error {
	var err error
	for attempt := 0; attempt <= s.cfg.TxRetries; attempt++ {
		if attempt > 0 {
			// Jittered exponential backoff (1 ms .. ~130 ms), so colliding
			// transactions spread out instead of colliding again.
			d := time.Duration(1<<min(attempt, 7))*time.Millisecond + time.Duration(rand.Int64N(int64(time.Duration(1<<min(attempt, 7))*time.Millisecond)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		var t *txn
		t, err = s.runTx(ctx, fn)
		if err == nil {
			for _, ev := range t.events {
				s.broker.Publish(ev)
			}
			for _, f := range t.committed {
				f()
			}
			return nil
		}
		if !retryable(err) {
			return err
		}
		s.log.DebugContext(ctx, "retrying transaction", "attempt", attempt+1, "err", err)
	}
	return err
}

func (s *Service) runTx(ctx context.Context, fn func(*txn) error) (t *txn, err error) {
	tx, err := s.db.Tx(ctx)
	if err != nil {
		return nil, err
	}
	t = &txn{Tx: tx}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		// A commit hook that failed before the database's COMMIT leaves the
		// transaction open: end it, or its connection (on MySQL one with
		// autocommit off, see store) would keep its locks. After a COMMIT
		// that ran, this is a no-op.
		_ = tx.Rollback()
		return nil, err
	}
	return t, nil
}

// retryable reports whether running the same transaction again may succeed.
func retryable(err error) bool {
	var de *Error
	if errors.As(err, &de) {
		return false
	}
	return errors.Is(err, errConflict) || store.Retryable(err)
}

// forUpdate reports whether SELECT … FOR UPDATE is available (see store.RowLocks).
func (s *Service) forUpdate() bool { return store.RowLocks(s.dialect) }
