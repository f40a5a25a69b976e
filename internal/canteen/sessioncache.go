package canteen

import (
	"sync"
	"time"

	"callme/internal/pulid"
)

// sessionCache remembers resolved sessions for a moment, so that a phone's
// burst of requests (a fetch, then its ticket, then the stall list) costs
// one session lookup instead of one each. An entry lives sessionCacheTTL at
// most: a logout or a new role is seen at once on the instance that made it
// (forgetUser) and within that time on the others (see SECURITY.md).
type sessionCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[string]cachedActor // by token hash
}

type cachedActor struct {
	a     Actor
	until time.Time
}

func newSessionCache(ttl time.Duration, max int) *sessionCache {
	return &sessionCache{ttl: ttl, max: max, m: map[string]cachedActor{}}
}

// get returns the cached caller of a token hash, or nil.
func (c *sessionCache) get(hash string, now time.Time) *Actor {
	if c.ttl <= 0 {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[hash]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) || !now.Before(e.a.ExpiresAt) {
		return nil
	}
	a := e.a // each caller gets its own copy: actors are never shared mutably
	return &a
}

func (c *sessionCache) put(hash string, a *Actor, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Bounded: dropping everything costs one lookup per active session,
		// once, and needs no bookkeeping per entry.
		clear(c.m)
	}
	c.m[hash] = cachedActor{a: *a, until: now.Add(c.ttl)}
}

// forgetUser drops every cached session of a user (logout, new role).
func (c *sessionCache) forgetUser(uid pulid.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.a.UserID == uid {
			delete(c.m, h)
		}
	}
}
