package graph

import (
	"callme/internal/ratelimit"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// SocketLimits bound the WebSockets and subscriptions one client address, and
// the whole server, may hold. Each open socket with one calledNumbers
// subscription costs about 38 KB and 1 goroutine, each further subscription
// at most about 32 KB (see SECURITY.md for the defaults' arithmetic); without
// these, one address could open sockets until the process runs out of memory
// or file descriptors.
type SocketLimits struct {
	MaxSockets           int // open WebSockets in all (default 10000)
	MaxSocketsPerAddress int // open WebSockets per client address (default 4000)
	MaxSubscriptions     int // active subscriptions in all (default 20000)
	MaxSubsPerAddress    int // active subscriptions per client address (default 8000)
	RetryAfterSeconds    int // sent with a refused handshake (default 10)
}

func (l *SocketLimits) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxSockets, 10000)
	def(&l.MaxSocketsPerAddress, 4000)
	def(&l.MaxSubscriptions, 20000)
	def(&l.MaxSubsPerAddress, 8000)
	def(&l.RetryAfterSeconds, 10)
}

// socketCounts is the live count behind SocketLimits, shared by every socket
// of one handler.
type socketCounts struct {
	lim      SocketLimits
	trustXFF bool

	mu       sync.Mutex
	sockets  map[string]int // by address key
	subs     map[string]int
	nSockets int
	nSubs    int
}

func newSocketCounts(lim SocketLimits, trustForwardedFor bool) *socketCounts {
	lim.setDefaults()
	return &socketCounts{lim: lim, trustXFF: trustForwardedFor, sockets: map[string]int{}, subs: map[string]int{}}
}

type socketAddrKey struct{}

// addressKey is what the limits count by: the client address, for IPv6 its
// /64.
func (s *socketCounts) addressKey(r *http.Request) string {
	return ratelimit.AddressKey(clientIP(r, s.trustXFF))
}

// guard refuses a WebSocket handshake over the per-address or total socket
// limit with 429 before anything is upgraded, authenticated or allocated; an
// accepted socket holds its place until the transport is done with it.
func (s *socketCounts) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" { // what gqlgen's WebSocket transport takes
			next.ServeHTTP(w, r)
			return
		}
		key := s.addressKey(r)
		s.mu.Lock()
		perAddr, total := s.sockets[key] >= s.lim.MaxSocketsPerAddress, s.nSockets >= s.lim.MaxSockets
		if !perAddr && !total {
			s.sockets[key]++
			s.nSockets++
		}
		s.mu.Unlock()
		if perAddr || total {
			msg := fmt.Sprintf("at most %d WebSockets per client address; close one first", s.lim.MaxSocketsPerAddress)
			if total {
				msg = "the server holds all the WebSockets it can; retry shortly"
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(s.lim.RetryAfterSeconds))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintf(w, `{"errors":[{"message":%q,"extensions":{"code":"RATE_LIMITED","retryAfterSeconds":%d}}]}`, msg, s.lim.RetryAfterSeconds)
			return
		}
		defer func() {
			s.mu.Lock()
			if s.sockets[key]--; s.sockets[key] <= 0 {
				delete(s.sockets, key)
			}
			s.nSockets--
			s.mu.Unlock()
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), socketAddrKey{}, key)))
	})
}

// acquireSub takes a subscription place for key; it reports the limit hit,
// "" when there was room.
func (s *socketCounts) acquireSub(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.subs[key] >= s.lim.MaxSubsPerAddress:
		return fmt.Sprintf("at most %d subscriptions per client address; complete one first", s.lim.MaxSubsPerAddress)
	case s.nSubs >= s.lim.MaxSubscriptions:
		return "the server holds all the subscriptions it can; retry shortly"
	}
	s.subs[key]++
	s.nSubs++
	return ""
}

func (s *socketCounts) releaseSubs(key string, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	if s.subs[key] -= n; s.subs[key] <= 0 {
		delete(s.subs, key)
	}
	s.nSubs -= n
	s.mu.Unlock()
}
