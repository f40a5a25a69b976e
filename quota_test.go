package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestRedisCounterSharesAWindow: the counter two instances share counts
// every increment of a key once, and the key expires.
func TestRedisCounterSharesAWindow(t *testing.T) {
	c, err := redisClient(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := fmt.Sprintf("test:quota:%d", time.Now().UnixNano())
	a, b := redisCounter{c}, redisCounter{c}
	ctx := context.Background()
	for i := int64(1); i <= 4; i++ {
		counter := a
		if i%2 == 0 {
			counter = b
		}
		n, err := counter.Incr(ctx, key, time.Second)
		if err != nil || n != i {
			t.Fatalf("increment %d: %d, %v", i, n, err)
		}
	}
	ttl, err := c.TTL(ctx, "callme:"+key).Result()
	if err != nil || ttl <= 0 || ttl > time.Second {
		t.Fatalf("ttl %v, %v: want the first increment's second", ttl, err)
	}
}
