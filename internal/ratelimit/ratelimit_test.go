package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterBurstRefillAndIsolation(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(2, 3, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("burst event %d refused", i+1)
		}
	}
	ok, retry := l.Allow("a")
	if ok || retry != 500*time.Millisecond {
		t.Fatalf("4th event: ok=%v retry=%v, want refused with 500ms", ok, retry)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was slowed by a")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("no token after the refill time")
	}
}

func TestLimiterForgetsIdleKeys(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(1, 1, func() time.Time { return now })
	for i := 0; i < 1000; i++ {
		l.Allow(fmt.Sprint(i))
	}
	now = now.Add(time.Hour)
	for i := 0; i < 1024; i++ {
		l.Allow("fresh")
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("%d keys held after an idle hour, want 1", n)
	}
}

func TestLimiterDisabled(t *testing.T) {
	l := New(0, 0, nil)
	for i := 0; i < 10000; i++ {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}

func TestLimiterAllowN(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(10, 100, func() time.Time { return now })
	if ok, _ := l.AllowN("a", 60); !ok {
		t.Fatal("60 of a full bucket of 100 refused")
	}
	ok, retry := l.AllowN("a", 60)
	if ok || retry != 2*time.Second {
		t.Fatalf("60 more with 40 left: ok=%v retry=%v, want refused with 2s", ok, retry)
	}
	if ok, _ := l.AllowN("a", 40); !ok {
		t.Fatal("a refused AllowN took tokens")
	}
	now = now.Add(10 * time.Second)
	if ok, _ := l.AllowN("a", 1000); !ok {
		t.Fatal("more than the burst is never allowed; want it to take a full bucket")
	}
	if ok, _ := l.AllowN("a", 1); ok {
		t.Fatal("an AllowN above the burst left tokens")
	}
}

func TestAddressKeyCountsIPv6ByItsSlash64(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8::1", "2001:db8::ffff:1", true},     // one line's /64
		{"2001:db8:0:1::1", "2001:db8:0:2::1", false}, // two lines
		{"10.0.0.1", "10.0.0.2", false},               // IPv4 as it is
		{"::ffff:10.0.0.1", "10.0.0.1", true},         // IPv4-mapped is IPv4
		{"not an address", "not an address", true},    // its own key
		{"not an address", "also not an address", false},
	} {
		if got := AddressKey(tc.a) == AddressKey(tc.b); got != tc.same {
			t.Errorf("AddressKey(%q) == AddressKey(%q): %v, want %v (%q, %q)", tc.a, tc.b, got, tc.same, AddressKey(tc.a), AddressKey(tc.b))
		}
	}
}
