package canteen

import (
	"context"
	"sync"
	"time"

	"callme/ent"
	"callme/ent/callevent"
	"callme/internal/events"
	"callme/internal/pulid"
)

// View is how much of a ticket, and of its stall, an actor may see. It is
// the one place the private fields decide from (Note, ClaimCode, PhotoURL,
// PhotoStatus ask it), and the one place a shared subscription feed groups
// viewers by: every viewer with the same View of a call sees the same
// payload, so a private field added later that asks View cannot leak
// through a shared payload.
type View int

const (
	// ViewPublic: anyone, signed in or not. The shared feed executes this
	// view as an anonymous caller.
	ViewPublic View = iota
	// ViewOwner: the ticket's owner (its note).
	ViewOwner
	// ViewStaff: the stall's seller and admins (note, claim code, the
	// stall's unpublished photo and its content check).
	ViewStaff
)

// ViewOfTicket is how a sees the ticket of stall sellerID owned by ownerID
// (nil: unclaimed). For a stall alone, pass a nil owner.
func ViewOfTicket(a *Actor, sellerID pulid.ID, ownerID *pulid.ID) View {
	switch {
	case a == nil:
		return ViewPublic
	case a.manages(sellerID):
		return ViewStaff
	case ownerID != nil && *ownerID == a.UserID:
		return ViewOwner
	}
	return ViewPublic
}

// ViewOf is how a sees t.
func ViewOf(a *Actor, t *ent.Ticket) View { return ViewOfTicket(a, t.SellerID, t.OwnerID) }

// The shared call feed. Every calledNumbers subscription of a stall on this
// instance is a member of one callTopic: one broker subscription and one
// goroutine per stall with subscribers, whatever their number, which takes
// the stall's calls in seq order, fills gaps from the database once for
// all, and hands each call to the live members in groups that share one
// execution (same Key, same View; the transport executes and writes). A
// member is not a goroutine and not a channel: it is an entry in the topic
// with the last seq it got. A member that must read the database first (a
// replay with `after`, or its session to check) does so on a goroutine that
// exists only until it is level with the topic and joins it at the seam,
// under the topic's lock, so nothing is skipped or sent twice.

// CallMember is one subscriber of a stall's calls in the shared feed.
type CallMember struct {
	t     *callTopic
	ctx   context.Context
	stop  context.CancelFunc
	actor *Actor
	guard *sessionGuard
	// Key groups members that execute alike (the transport's document and
	// variables); Tag is the transport's own.
	Key string
	Tag any

	deliver func(ev *CallEvent, view View, group []*CallMember)
	end     func(error)
	gmu     sync.Mutex // the guard's: held while its session is read

	// Guarded by t.mu.
	last    int64
	live    bool
	started bool
	gone    bool
	// watch is the timer that reads its session (watchSession), stopped
	// when it leaves: a pending timer would hold the member, and through
	// its Tag the transport's socket, for up to SessionCheck.
	watch *time.Timer
}

// callFeeds holds the topics of one Service.
type callFeeds struct {
	mu     sync.Mutex
	topics map[string]*callTopic
}

type callTopic struct {
	s      *Service
	seller pulid.ID
	ctx    context.Context
	stop   context.CancelFunc

	// dmu is held through each dispatch, so a member taken off the path
	// can wait for the delivery it was part of to finish.
	dmu     sync.Mutex
	mu      sync.Mutex
	last    int64 // the last seq through the path; -1 before the first member joined
	members map[*CallMember]struct{}
	holds   int // callers of callTopic whose member has not joined yet
	// recent are the last calls through the path, oldest first and without
	// gaps: a member resuming a few calls back replays them from here.
	recent []*CallEvent
	// early are the events that reached the path before its first member
	// said where the stall stands (last -1), and earlyLag that some were
	// dropped: the path takes them when it knows (kick), so that a call
	// committed after that member read the stall is not lost.
	early    []events.Event
	earlyLag bool
	kick     chan struct{}
	// st is the stall as last read, at stAt.
	st    *ent.Seller
	stAt  time.Time
	batch []*CallMember // reused by the topic's goroutine
}

// CallFeed joins ctx's caller to the shared feed of stall sellerID's calls;
// with after, it first replays today's calls with seq > after. deliver runs
// one group's execution (members with equal Key and View) on the topic's
// path or, for a member catching up, on its own; end hears why a member
// ended (nil: it left). Nothing is delivered before Start. Like
// CalledNumbers, a member opened with a session ends when the session does.
func (s *Service) CallFeed(ctx context.Context, sellerID pulid.ID, after *int, key string, tag any,
	deliver func(ev *CallEvent, view View, group []*CallMember), end func(error)) (*CallMember, error) {
	t := s.callTopic(sellerID)
	// Where the stall is: from the feed when it runs and knows the stall
	// (a storm of reconnects then costs the database nothing here), else
	// read after the topic subscribed: any call committed later arrives as
	// an event. An `after` beyond the feed's position is checked against
	// the database, the authority (another instance may be ahead).
	t.mu.Lock()
	st, stAt, cur := t.st, t.stAt, t.last
	t.mu.Unlock()
	read := st == nil || cur < 0 || s.now().Sub(stAt) > stallCacheTTL || (after != nil && int64(*after) > cur)
	var err error
	if read {
		st, err = s.Seller(ctx, sellerID)
		if err == nil && st != nil {
			cur = st.CallSeq
			t.mu.Lock()
			t.st, t.stAt = st, s.now()
			t.mu.Unlock()
		}
	} else if ok, verr := s.visible(ctx, st); !ok || verr != nil {
		st, err = nil, verr
	}
	if err != nil || st == nil {
		t.release()
		if err == nil {
			err = Errorf(CodeNotFound, "no such seller")
		}
		return nil, err
	}
	from := cur
	if after != nil && int64(*after) < cur {
		from = max(int64(*after), 0)
	}
	// Its own context: the member outlives the call that joined it, and
	// need not keep that call's values.
	mctx, stop := context.WithCancel(context.Background())
	a := ActorFrom(ctx)
	m := &CallMember{t: t, ctx: mctx, stop: stop, actor: a, guard: s.guardSession(a), Key: key, Tag: tag,
		deliver: deliver, end: end, last: from}
	if m.guard != nil {
		m.guard.tick.Stop() // a timer reads it instead (watchSession)
	}
	t.mu.Lock()
	if t.last < 0 {
		t.last = cur
		if len(t.early) > 0 || t.earlyLag {
			t.kick <- struct{}{} // buffered: the only send
		}
	}
	t.members[m] = struct{}{}
	t.mu.Unlock()
	t.release() // the member holds the topic now
	return m, nil
}

// Actor is the caller m subscribed as.
func (m *CallMember) Actor() *Actor { return m.actor }

// Start lets m's calls flow: live at once when m is level with the topic,
// else after catching up from the database.
func (m *CallMember) Start() {
	t := m.t
	t.mu.Lock()
	if m.gone || m.started {
		t.mu.Unlock()
		return
	}
	m.started = true
	if m.last >= t.last {
		m.live = true
		t.mu.Unlock()
		m.watchSession()
		return
	}
	t.mu.Unlock()
	go m.catchUp(false)
	m.watchSession()
}

// Leave ends m without telling it (the client completed or went away).
func (m *CallMember) Leave() { m.finish(nil, false) }

func (m *CallMember) finish(err error, tell bool) {
	t := m.t
	t.mu.Lock()
	if m.gone {
		t.mu.Unlock()
		return
	}
	m.gone, m.live = true, false
	if m.watch != nil {
		m.watch.Stop()
	}
	delete(t.members, m)
	empty := t.empty()
	t.mu.Unlock()
	m.stop()
	m.guard.close()
	if empty {
		t.s.dropTopicIfEmpty(t)
	}
	if tell && m.end != nil {
		m.end(err)
	}
}

// Bounds of the feed's memory: the calls a resume may replay without the
// database, and how long the stall as read stands for new members (its
// paid state decides who may subscribe).
const (
	recentCalls   = 256
	stallCacheTTL = 5 * time.Second
)

// recentAfter returns the remembered calls of day with seq > after, if the
// memory reaches back that far; t.mu is held.
func (t *callTopic) recentAfter(after int64, day int) ([]*CallEvent, bool) {
	if len(t.recent) == 0 || t.recent[0].Seq > after+1 {
		return nil, false
	}
	var out []*CallEvent
	for _, ce := range t.recent {
		if ce.Seq > after && ce.Ticket.BusinessDay == day {
			out = append(out, ce)
		}
	}
	return out, true
}

// callTopic returns the topic of sellerID with a hold on it (release it).
func (s *Service) callTopic(sellerID pulid.ID) *callTopic {
	f := s.feeds
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.topics[string(sellerID)]
	if t == nil {
		ctx, stop := context.WithCancel(context.Background())
		t = &callTopic{s: s, seller: sellerID, ctx: ctx, stop: stop, last: -1, members: map[*CallMember]struct{}{},
			kick: make(chan struct{}, 1)}
		f.topics[string(sellerID)] = t
		sub := s.broker.Subscribe(SellerTopic(sellerID))
		go t.run(sub)
	}
	t.mu.Lock()
	t.holds++ // while its member joins
	t.mu.Unlock()
	return t
}

func (t *callTopic) release() {
	t.mu.Lock()
	t.holds--
	empty := t.empty()
	t.mu.Unlock()
	if empty {
		t.s.dropTopicIfEmpty(t)
	}
}

func (s *Service) dropTopicIfEmpty(t *callTopic) {
	f := s.feeds
	f.mu.Lock()
	defer f.mu.Unlock()
	t.mu.Lock()
	empty := t.empty()
	t.mu.Unlock()
	if empty && f.topics[string(t.seller)] == t {
		delete(f.topics, string(t.seller))
		t.stop()
	}
}

// empty reports that the topic has no member and none joining; t.mu is held.
func (t *callTopic) empty() bool { return len(t.members) == 0 && t.holds == 0 }

// run is the topic's one ordered path: until the last member leaves, it
// takes the stall's calls in seq order and hands each to the live members.
func (t *callTopic) run(sub events.Subscription) {
	defer sub.Close()
	for {
		var err error
		select {
		case <-t.ctx.Done():
			return
		case ev := <-sub.Events():
			t.mu.Lock()
			if t.last < 0 {
				// No member yet: the first one reads where the stall stands,
				// and this call may be after it. Kept until then.
				if len(t.early) < recentCalls {
					t.early = append(t.early, ev)
				} else {
					t.earlyLag = true
				}
				t.mu.Unlock()
				continue
			}
			t.mu.Unlock()
			err = t.take(ev)
		case <-t.kick:
			t.mu.Lock()
			early, lag := t.early, t.earlyLag
			t.early, t.earlyLag = nil, false
			t.mu.Unlock()
			if lag {
				err = t.fill(0)
			}
			for _, ev := range early {
				if err != nil {
					break
				}
				err = t.take(ev)
			}
		case <-sub.Lagged():
			t.mu.Lock()
			if t.last < 0 {
				t.earlyLag = true
				t.mu.Unlock()
				continue
			}
			t.mu.Unlock()
			err = t.fill(0)
		}
		if err != nil {
			// The database outlasted the retries: every member ends with
			// the error, as each subscription did on its own.
			t.mu.Lock()
			ms := make([]*CallMember, 0, len(t.members))
			for m := range t.members {
				ms = append(ms, m)
			}
			t.mu.Unlock()
			for _, m := range ms {
				m.finish(err, true)
			}
		}
	}
}

// take hands on ev, a call of the stall or a hint of one, after the calls
// before it; the topic's last is set.
func (t *callTopic) take(ev events.Event) error {
	t.mu.Lock()
	last := t.last
	t.mu.Unlock()
	ce, ok := ev.Payload.(*CallEvent)
	switch {
	case !ok:
		// A hint without the call (another instance's event that could not
		// be hydrated): read it from the database.
		if ev.Seq > last {
			return t.fill(ev.Seq)
		}
	case ce.Seq <= last: // a call already sent
	case ce.Seq > last+1:
		if err := t.fill(ce.Seq - 1); err != nil {
			return err
		}
		t.dispatch(ce, true)
	default:
		t.dispatch(ce, true)
	}
	return nil
}

// fill dispatches today's stored calls with seq > the topic's last (and
// <= upto unless 0).
func (t *callTopic) fill(upto int64) error {
	t.mu.Lock()
	last := t.last
	t.mu.Unlock()
	stored, err := t.s.storedCalls(t.ctx, t.seller, last, upto)
	if err != nil {
		return err
	}
	for _, ce := range stored {
		t.dispatch(ce, false)
	}
	return nil
}

// storedCalls reads today's calls of a stall with after < seq <= upto (upto
// 0: all), in seq order: the shared feed's gaps and catch-ups, and the
// stream of CalledNumbers.
func (s *Service) storedCalls(ctx context.Context, sellerID pulid.ID, after, upto int64) ([]*CallEvent, error) {
	var stored []*ent.CallEvent
	err := s.retryRead(ctx, "reading calls", func() (err error) {
		q := s.db.CallEvent.Query().Where(
			callevent.SellerID(sellerID), callevent.SeqGT(after), callevent.BusinessDay(s.today()))
		if upto > 0 {
			q = q.Where(callevent.SeqLTE(upto))
		}
		stored, err = q.Order(ent.Asc(callevent.FieldSeq)).WithTicket().All(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*CallEvent, len(stored))
	for i, ce := range stored {
		out[i] = newCallEvent(ce.Seq, ce.Edges.Ticket, ce.CalledAt)
	}
	return out, nil
}

// dispatch hands ce to every live member that has not had it, grouped.
func (t *callTopic) dispatch(ce *CallEvent, fresh bool) {
	t.dmu.Lock()
	defer t.dmu.Unlock()
	t.mu.Lock()
	if ce.Seq <= t.last {
		t.mu.Unlock()
		return
	}
	t.last = ce.Seq
	if len(t.recent) == recentCalls {
		copy(t.recent, t.recent[1:])
		t.recent = t.recent[:recentCalls-1]
	}
	t.recent = append(t.recent, ce)
	batch := t.batch[:0]
	for m := range t.members {
		if m.live && ce.Seq > m.last {
			if m.pollSession() {
				// Its session must be read again before it gets more:
				// off the path, then it catches up.
				m.live = false
				go m.catchUp(true)
				continue
			}
			m.last = ce.Seq
			batch = append(batch, m)
		}
	}
	t.batch = batch
	t.mu.Unlock()
	t.s.deliverGrouped(ce, batch)
	if fresh && t.s.cfg.CallDelivered != nil {
		d := t.s.cfg.Now().Sub(ce.CalledAt)
		for range batch {
			t.s.cfg.CallDelivered(d)
		}
	}
	clear(batch)
}

// deliverGrouped hands ce to members in groups of equal Key and View: one
// execution each. Members of the owner's or the staff's view are grouped by
// user as well, so that only the public view is ever shared between people.
func (s *Service) deliverGrouped(ce *CallEvent, members []*CallMember) {
	if len(members) == 0 {
		return
	}
	s.callDeliveries.Add(uint64(len(members)))
	type groupKey struct {
		key  string
		view View
		user pulid.ID
	}
	if len(members) == 1 {
		m := members[0]
		s.callRuns.Add(1)
		m.deliver(ce, ViewOf(m.actor, ce.Ticket), members)
		return
	}
	groups := make(map[groupKey][]*CallMember, 4)
	var order []groupKey
	for _, m := range members {
		k := groupKey{key: m.Key, view: ViewOf(m.actor, ce.Ticket)}
		if k.view != ViewPublic {
			k.user = m.actor.UserID
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	s.callRuns.Add(uint64(len(order)))
	for _, k := range order {
		g := groups[k]
		g[0].deliver(ce, k.view, g)
	}
}

// catchUp brings m level with the topic from the database (after reading
// its session again if recheck), then makes it live at the seam. It runs
// on a goroutine of its own that ends when m is live.
func (m *CallMember) catchUp(recheck bool) {
	s, t := m.t.s, m.t
	if recheck {
		if err := m.checkSession(); err != nil {
			m.finish(err, m.ctx.Err() == nil)
			return
		}
	}
	for {
		t.mu.Lock()
		// upto: every call through the path so far was committed before
		// the read below begins, so the read returns those of today.
		last, upto := m.last, t.last
		stored, ok := t.recentAfter(last, s.today())
		t.mu.Unlock()
		var err error
		if !ok {
			stored, err = s.storedCalls(m.ctx, t.seller, last, 0)
		}
		if m.ctx.Err() != nil {
			return
		}
		if err != nil {
			m.finish(err, true)
			return
		}
		for _, ce := range stored {
			t.mu.Lock()
			gone := m.gone
			if ce.Seq > m.last {
				m.last = ce.Seq
			} else {
				gone = true // cannot happen: stored calls come in order
			}
			t.mu.Unlock()
			if gone {
				return
			}
			s.deliverGrouped(ce, []*CallMember{m})
		}
		t.mu.Lock()
		if m.gone {
			t.mu.Unlock()
			return
		}
		// The calls up to upto that were not replayed are of an earlier
		// day: m is past them. Without this, a phone resuming with
		// yesterday's seq before today's first call never became level
		// and read again at once, for ever (a core per phone).
		m.last = max(m.last, upto)
		live := m.last >= t.last
		m.live = live
		t.mu.Unlock()
		if s.catchUpPass != nil {
			s.catchUpPass(live)
		}
		if live {
			return
		}
	}
}

// pollSession reports, without waiting, whether m's session must be read
// again (false while it is being read).
func (m *CallMember) pollSession() bool {
	if m.guard == nil || !m.gmu.TryLock() {
		return false
	}
	defer m.gmu.Unlock()
	return m.guard.poll()
}

func (m *CallMember) checkSession() error {
	m.gmu.Lock()
	defer m.gmu.Unlock()
	return m.guard.check(m.ctx)
}

// watchSession reads a member's session again when its user's topic says
// so or the clock makes it due, every SessionCheck, on a timer: no
// goroutine waits for it.
func (m *CallMember) watchSession() {
	if m.guard == nil {
		return
	}
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.gone {
		return
	}
	m.watch = time.AfterFunc(t.s.cfg.SessionCheck, func() {
		if m.ctx.Err() != nil {
			return
		}
		if m.pollSession() {
			t.mu.Lock()
			wasLive := m.live
			m.live = false
			t.mu.Unlock()
			if wasLive {
				// Let a delivery it is part of finish, then read the
				// session and catch up, on this timer's goroutine.
				t.dmu.Lock()
				t.dmu.Unlock() //nolint:staticcheck // a barrier, not a critical section
				m.catchUp(true)
			} else if err := m.checkSession(); err != nil {
				m.finish(err, m.ctx.Err() == nil)
				return
			}
		}
		t.mu.Lock()
		if !m.gone { // else finish stopped it
			m.watch.Reset(t.s.cfg.SessionCheck)
		}
		t.mu.Unlock()
	})
}
