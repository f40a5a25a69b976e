package canteen

import (
	"sync"
	"time"

	"callme/internal/events"
	"callme/internal/pulid"
)

// SessionsTopic carries "some session ended or changed role" to every
// instance; each drops its cached sessions when it hears it.
const SessionsTopic = "sessions"

// sessionCache remembers resolved sessions, so that a phone's requests cost
// one session lookup per SessionCacheTTL instead of one each. A logout or a
// new role (claimSeller) drops the user's entries at once on the instance
// that made it, and every instance's entries as soon as it hears the event
// on SessionsTopic (events carry no payload across instances, so they clear
// everything: logouts are rare). A broker that lost events (lagged) clears
// everything too. Nothing waits for events: each lookup first drains what
// arrived, so there is no goroutine to run or to stop.
type sessionCache struct {
	ttl time.Duration
	max int
	sub events.Subscription // nil: no broker (a cache of one instance)

	mu  sync.Mutex
	m   map[string]cachedActor // by token hash
	gen uint64                 // bumped on every clear
}

type cachedActor struct {
	a     Actor
	until time.Time
}

func newSessionCache(ttl time.Duration, max int, broker events.Broker) *sessionCache {
	c := &sessionCache{ttl: ttl, max: max, m: map[string]cachedActor{}}
	if ttl > 0 && broker != nil {
		c.sub = broker.Subscribe(SessionsTopic)
	}
	return c
}

// drain clears the cache if any invalidation arrived; c.mu is held.
func (c *sessionCache) drain() {
	if c.sub == nil {
		return
	}
	for {
		select {
		case <-c.sub.Events():
		case <-c.sub.Lagged():
		default:
			return
		}
		clear(c.m)
		c.gen++
	}
}

// get returns the cached caller of a token hash, or nil, and the cache's
// generation to hand to put.
func (c *sessionCache) get(hash string, now time.Time) (*Actor, uint64) {
	if c.ttl <= 0 {
		return nil, 0
	}
	c.mu.Lock()
	c.drain()
	e, ok := c.m[hash]
	gen := c.gen
	c.mu.Unlock()
	if !ok || !now.Before(e.until) || !now.Before(e.a.ExpiresAt) {
		return nil, gen
	}
	a := e.a // each caller gets its own copy: actors are never shared mutably
	return &a, gen
}

// put caches a session read from the database, unless the cache was
// cleared since the read began (gen from get): the read may predate a logout.
func (c *sessionCache) put(hash string, a *Actor, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drain()
	if c.gen != gen {
		return
	}
	if len(c.m) >= c.max {
		// Bounded: dropping everything costs one lookup per active session,
		// once, and needs no bookkeeping per entry.
		clear(c.m)
	}
	c.m[hash] = cachedActor{a: *a, until: now.Add(c.ttl)}
}

// forgetUser drops every cached session of a user (logout, new role) at
// once on this instance; SessionsTopic tells the others.
func (c *sessionCache) forgetUser(uid pulid.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.a.UserID == uid {
			delete(c.m, h)
		}
	}
	c.gen++
}
