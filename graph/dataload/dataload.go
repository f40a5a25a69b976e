// Package dataload batches keyed loads of one GraphQL response.
//
// GraphQL resolves a list's fields item by item; a field that reads the
// database would cost one statement per item. A Loader turns those reads into
// one batch: a list resolver announces the keys it returned (Prime), and the
// first Load of any of them fetches all announced keys in one call.
//
// Unlike timer-based dataloaders, nothing waits for more keys to arrive: the
// batch is exactly the primed keys plus the one asked for, so a response costs
// the same statements on a busy machine as on a quiet one, and adds no
// latency. A key nobody primed is fetched on its own (a single object).
package dataload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Fetch loads the values of keys; keys missing from the map load as the
// zero value.
type Fetch[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// Loader caches the values of one response. Use New; it is safe for
// concurrent use.
type Loader[K comparable, V any] struct {
	fetch Fetch[K, V]

	mu      sync.Mutex
	pending []K              // primed, not fetched yet
	primed  map[K]bool       // the keys in pending still to fetch
	results map[K]*result[V] // fetched or being fetched
}

type result[V any] struct {
	done  chan struct{} // closed when value and err are set (one per batch)
	value V
	err   error
}

// settled is the done channel of a value set at hand: closed already.
var settled = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// New returns a Loader that fetches with f. Its maps are made on first
// use: every response gets a set of loaders, most (a mutation's) use none.
func New[K comparable, V any](f Fetch[K, V]) *Loader[K, V] {
	return &Loader[K, V]{fetch: f}
}

// store records r as k's result; l.mu is held.
func (l *Loader[K, V]) store(k K, r *result[V], hint int) {
	if l.results == nil {
		l.results = make(map[K]*result[V], hint)
	}
	l.results[k] = r
}

// Prime announces keys that Loads will probably ask for, so that the first
// Load fetches them together.
func (l *Loader[K, V]) Prime(keys ...K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = slices.Grow(l.pending, len(keys))
	for _, k := range keys {
		if l.primed[k] || l.results[k] != nil {
			continue
		}
		if l.primed == nil {
			l.primed = make(map[K]bool, len(keys))
		}
		l.primed[k] = true
		l.pending = append(l.pending, k)
	}
}

// Set stores a value already at hand (e.g. a row a list just read).
func (l *Loader[K, V]) Set(k K, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.results[k] != nil {
		return
	}
	l.store(k, &result[V]{done: settled, value: v}, 0)
	delete(l.primed, k) // it may stay in pending; fetching skips it
}

// SetMany stores values already at hand as Set does each (keys[i] gets
// values[i]; the first value of a key stays), with one allocation for all
// of them: a list announces its rows at once. Keys and values of different
// lengths are a caller's bug: it panics before storing any.
func (l *Loader[K, V]) SetMany(keys []K, values []V) {
	if len(keys) != len(values) {
		panic(fmt.Sprintf("dataload: SetMany with %d keys and %d values", len(keys), len(values)))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	batch := make([]result[V], len(keys))
	for i, k := range keys {
		if l.results[k] != nil {
			continue
		}
		batch[i] = result[V]{done: settled, value: values[i]}
		l.store(k, &batch[i], len(keys))
		delete(l.primed, k)
	}
}

var errPanicked = errors.New("dataload: fetch panicked")

// Load returns the value of k, fetching it with every primed key on first use.
func (l *Loader[K, V]) Load(ctx context.Context, k K) (V, error) {
	var zero V
	l.mu.Lock()
	if r := l.results[k]; r != nil {
		l.mu.Unlock()
		select {
		case <-r.done:
			return r.value, r.err
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	keys := []K{k}
	for _, p := range l.pending {
		if p != k && l.primed[p] {
			keys = append(keys, p)
		}
	}
	l.pending, l.primed = nil, nil
	// One allocation and one channel for the whole batch: its keys are
	// fetched, and settled, together.
	batch := make([]result[V], len(keys))
	done := make(chan struct{})
	for i, key := range keys {
		batch[i].done = done
		l.store(key, &batch[i], len(keys))
	}
	l.mu.Unlock()

	var (
		values map[K]V
		err    = errPanicked
	)
	// Waiters must never hang, not even when the fetch panics (the panic
	// goes on to the resolver's recover).
	defer func() {
		for i, key := range keys {
			if err != nil {
				batch[i].err = err
			} else {
				batch[i].value = values[key]
			}
		}
		close(done)
	}()
	values, err = l.fetch(ctx, keys)
	if err != nil {
		return zero, err
	}
	return values[k], nil
}
