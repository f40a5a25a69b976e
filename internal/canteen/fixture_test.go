package canteen_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"callme/ent"
	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/store"
	"callme/internal/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

type fixture struct {
	// seller and st are the stall of tests that need just one.
	seller context.Context
	st     *ent.Seller

	svc    *canteen.Service
	db     *store.DB
	clock  *clock
	broker *events.Local
}

// forEngine runs fn as a subtest on every configured database engine.
func forEngine(t *testing.T, fn func(t *testing.T, e storetest.Engine)) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

func newFixture(t *testing.T, e storetest.Engine, mod ...func(*canteen.Config)) *fixture {
	t.Helper()
	return newHookedFixture(t, e, nil, mod...)
}

// newHookedFixture is newFixture with hook seeing every SQL statement.
func newHookedFixture(t *testing.T, e storetest.Engine, hook func(string), mod ...func(*canteen.Config)) *fixture {
	t.Helper()
	db := storetest.Open(t, e, store.Options{Hook: hook})
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, shanghai)}
	cfg := canteen.Config{
		Admins:       []string{"admin"},
		Location:     shanghai,
		DayStartHour: 4,
		DevLogin:     true,
		Now:          clk.Now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	b := events.NewLocal(64)
	return &fixture{svc: canteen.New(db.Client, db.Dialect, b, nil, cfg, nil), db: db, clock: clk, broker: b}
}

// as logs name in through app with dev login and returns a context for it.
func (f *fixture) as(t *testing.T, app model.App, name string) context.Context {
	t.Helper()
	ctx := context.Background()
	l, err := f.svc.Login(ctx, canteen.LoginInput{App: app, Code: "dev:" + name})
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return f.auth(t, l.Token)
}

func (f *fixture) auth(t *testing.T, token string) context.Context {
	t.Helper()
	a, err := f.svc.Authenticate(context.Background(), token)
	if err != nil || a == nil {
		t.Fatalf("authenticate: %v, %v", a, err)
	}
	return canteen.WithActor(context.Background(), a)
}

// stall creates an open, paid stall with a claimed seller and returns the
// seller's context and the stall.
func (f *fixture) stall(t *testing.T, name, prefix string, maxNumber int) (context.Context, *ent.Seller) {
	t.Helper()
	f.clock.Add(time.Second) // stalls list oldest first; keep creation order distinct
	admin := f.as(t, model.AppSeller, "admin")
	paid := f.clock.Now().Add(30 * 24 * time.Hour)
	inv, err := f.svc.CreateSeller(admin, canteen.CreateSellerInput{Name: name, Prefix: &prefix, PaidUntil: &paid, MaxNumber: &maxNumber})
	if err != nil {
		t.Fatalf("create seller: %v", err)
	}
	seller := f.as(t, model.AppSeller, "owner-"+name)
	if _, err := f.svc.ClaimSeller(seller, inv.InviteCode); err != nil {
		t.Fatalf("claim seller: %v", err)
	}
	seller = f.as(t, model.AppSeller, "owner-"+name) // fresh session: roles per request
	st, err := f.svc.SetOpen(seller, inv.Seller.ID, true)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return seller, st
}

func wantCode(t *testing.T, err error, want canteen.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	var de *canteen.Error
	if !errors.As(err, &de) {
		t.Fatalf("got %v (%T), want a %s domain error", err, err, want)
	}
	if de.Code != want {
		t.Fatalf("got %s (%q), want %s", de.Code, de.Message, want)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
