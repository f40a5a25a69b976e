// Package ratelimit keeps token buckets per key (a client address, a
// session), so one abusive client is slowed without slowing the others.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a set of token buckets, one per key, created on first use and
// forgotten after idle, so memory stays bounded by the active clients.
type Limiter struct {
	rate  rate.Limit
	burst int
	idle  time.Duration
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	calls   int
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a limiter allowing perSecond events per key with bursts of
// burst. perSecond <= 0 disables limiting. now may be nil (the real clock).
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	r := rate.Limit(perSecond)
	if perSecond <= 0 {
		r = rate.Inf
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{rate: r, burst: burst, idle: 10 * time.Minute, now: now, buckets: map[string]*bucket{}}
}

// Allow takes a token for key. When none is left it reports how long until
// one will be.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	return l.AllowN(key, 1)
}

// AllowN takes n tokens for key at once, or none: when fewer are left it
// reports how long until there will be n. An n above the burst takes the
// whole burst (so it is allowed once the bucket is full) rather than never.
func (l *Limiter) AllowN(key string, n int) (ok bool, retryAfter time.Duration) {
	if n <= 0 {
		return true, 0
	}
	if l.rate == rate.Inf {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%1024 == 0 {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, min(n, l.burst))
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len counts the keys held (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > l.idle {
			delete(l.buckets, k)
		}
	}
}

// ipv6PrefixBits is how much of an IPv6 address a client address counts by:
// one subscriber line gets a whole /64 to pick addresses from, so keying by
// the full address would give every line unlimited budgets.
const ipv6PrefixBits = 64

// AddressKey is what per-address limits count a client address by: an IPv4
// address as it is, an IPv6 address by its /64. Anything that does not
// parse as an address is its own key.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(ipv6PrefixBits); err == nil {
			return p.String()
		}
	}
	return a.String()
}
