package dataload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// recorder is a Fetch that records its batches.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	err     error
}

func (r *recorder) fetch(_ context.Context, keys []int) (map[int]string, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Sorted(slices.Values(keys)))
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	out := map[int]string{}
	for _, k := range keys {
		if k >= 0 {
			out[k] = fmt.Sprint("v", k)
		}
	}
	return out, nil
}

func TestLoaderBatches(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		prime, set  []int
		loads       []int
		wantBatches string
		wantValues  string
	}{
		{"primed keys in one batch", []int{1, 2, 3}, nil, []int{2, 1, 3, 2}, "[[1 2 3]]", "[v2 v1 v3 v2]"},
		{"an unprimed key takes the primed ones along", []int{1, 2}, nil, []int{9, 1}, "[[1 2 9]]", "[v9 v1]"},
		{"nothing primed: one batch per key", nil, nil, []int{1, 2, 1}, "[[1] [2]]", "[v1 v2 v1]"},
		{"set values need no fetch", []int{1, 2}, []int{2}, []int{2, 1}, "[[1]]", "[set2 v1]"},
		{"several set values, the first of a key stays", []int{1, 2, 3}, []int{3, 2, 3}, []int{2, 1, 3}, "[[1]]", "[set2 v1 set3]"},
		{"missing key reads zero", []int{-1, 1}, nil, []int{-1, 1}, "[[-1 1]]", "[ v1]"},
	} {
		for _, many := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/SetMany=%v", tc.name, many), func(t *testing.T) {
				var r recorder
				l := New(r.fetch)
				l.Prime(tc.prime...)
				var values []string
				for i, k := range tc.set {
					values = append(values, fmt.Sprint("set", k))
					if !many {
						l.Set(k, values[i])
					}
				}
				if many {
					l.SetMany(tc.set, values)
				}
				var got []string
				for _, k := range tc.loads {
					v, err := l.Load(ctx, k)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, v)
				}
				if b := fmt.Sprint(r.batches); b != tc.wantBatches {
					t.Errorf("batches %s, want %s", b, tc.wantBatches)
				}
				if v := fmt.Sprint(got); v != tc.wantValues {
					t.Errorf("values %s, want %s", v, tc.wantValues)
				}
			})
		}
	}
}

// TestLoaderConcurrent: the list's items load at once, as gqlgen resolves
// them; one fetch answers all.
func TestLoaderConcurrent(t *testing.T) {
	var r recorder
	l := New(r.fetch)
	keys := []int{1, 2, 3, 4, 5, 6, 7, 8}
	l.Prime(keys...)
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := l.Load(context.Background(), k); err != nil || v != fmt.Sprint("v", k) {
				t.Errorf("Load(%d) = %q, %v", k, v, err)
			}
		}()
	}
	wg.Wait()
	if len(r.batches) != 1 {
		t.Errorf("%d fetches, want 1: %v", len(r.batches), r.batches)
	}
}

func TestLoaderErrorsReachEveryWaiter(t *testing.T) {
	boom := errors.New("boom")
	r := recorder{err: boom}
	l := New(r.fetch)
	l.Prime(1, 2)
	if _, err := l.Load(context.Background(), 1); !errors.Is(err, boom) {
		t.Fatalf("Load(1): %v", err)
	}
	if _, err := l.Load(context.Background(), 2); !errors.Is(err, boom) {
		t.Fatalf("Load(2) of the failed batch: %v", err)
	}
}

// A panicking fetch must not leave the batch's other keys waiting forever.
func TestLoaderPanicReleasesWaiters(t *testing.T) {
	l := New(func(context.Context, []int) (map[int]string, error) { panic("fetch") })
	l.Prime(1, 2)
	func() {
		defer func() { _ = recover() }()
		_, _ = l.Load(context.Background(), 1)
	}()
	if _, err := l.Load(context.Background(), 2); err == nil {
		t.Fatal("Load of a key whose batch panicked succeeded")
	}
}

// TestSetManyOfUnequalLengthsStoresNothing: a caller's bug panics at once
// and names itself, and the loader is left as it was (before, it stored
// the keys up to the short end, then panicked out of range).
func TestSetManyOfUnequalLengthsStoresNothing(t *testing.T) {
	var r recorder
	l := New(r.fetch)
	func() {
		defer func() {
			if p := fmt.Sprint(recover()); p != "dataload: SetMany with 2 keys and 1 values" {
				t.Errorf("panic %q", p)
			}
		}()
		l.SetMany([]int{1, 2}, []string{"set1"})
	}()
	v, err := l.Load(context.Background(), 1)
	if err != nil || v != "v1" {
		t.Fatalf("key 1 after the refused SetMany: %q, %v; want it fetched (v1)", v, err)
	}
}
