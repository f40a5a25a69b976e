package main

import (
	"fmt"
	"testing"

	"callme/internal/store/storetest"
)

// After every database connection was cut (a MariaDB restart, a failover
// that drops connections), the very next fetch, walk-up and customer,
// succeeds without a client retry: dead pooled connections are replaced.
func TestFetchRightAfterConnectionsCut(t *testing.T) {
	dsn, proxy := proxiedMySQL(t)
	s := startServer(t, storetest.Engine{Name: "mysql", DSN: func(testing.TB) string { return dsn }}, noRateLimits)
	seller, stallID := s.openStall(t, "Cut", "C")
	fetch := func(who string, i int) {
		t.Helper()
		r := s.query(t, who, `mutation($id: ID!, $k: String!) { fetch(input: {sellerId: $id, idempotencyKey: $k}) { id number } }`,
			map[string]any{"id": stallID, "k": fmt.Sprint("k-", i)})
		if len(r.Errors) != 0 {
			t.Fatalf("fetch %d right after the cut: %+v", i, r.Errors)
		}
	}
	for i := 0; i < 6; i++ {
		fetch(seller, i) // warm both pools
	}
	for round := 0; round < 5; round++ {
		proxy.Stop()
		if err := proxy.Start(); err != nil {
			t.Fatal(err)
		}
		fetch(seller, 100+round)
	}
}
