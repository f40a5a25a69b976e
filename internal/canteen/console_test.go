package canteen_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/auditentry"
	"callme/internal/canteen"
	"callme/internal/model"
	"callme/internal/store/storetest"
)

// recvLogin waits for the one session a console login stream sends, and
// for the stream to end after it.
func recvLogin(t *testing.T, st *canteen.Stream[*canteen.Login]) *canteen.Login {
	t.Helper()
	var l *canteen.Login
	select {
	case got, ok := <-st.C:
		if !ok {
			t.Fatalf("the stream ended without a session: %v", st.Err())
		}
		l = got
	case <-time.After(5 * time.Second):
		t.Fatal("no session within 5s")
	}
	select {
	case extra, ok := <-st.C:
		if ok {
			t.Fatalf("a second event %+v; want the stream to end", extra)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end after its session")
	}
	if err := st.Err(); err != nil {
		t.Fatalf("the stream ended with %v after its session", err)
	}
	return l
}

// TestConsoleLoginFlow: approved after the console listens (the event) and
// before it does (the look after subscribing), the console gets a new
// session of the approving seller: an ordinary one, with the seller's roles.
func TestConsoleLoginFlow(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, st := f.stall(t, "Console", "C", 999)
		ctx := context.Background()
		for _, approveFirst := range []bool{false, true} {
			cl := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
			if !strings.HasPrefix(cl.QRText, "callme-console:") || strings.Contains(cl.QRText, cl.Secret) || !cl.ExpiresAt.Equal(f.clock.Now().Add(2*time.Minute)) {
				t.Fatalf("started %+v: want a callme-console: QR text without the secret, expiring in 2 minutes", cl)
			}
			if approveFirst {
				if ok := must[bool](t)(f.svc.ApproveConsoleLogin(seller, cl.QRText, "10.0.0.9")); !ok {
					t.Fatal("approve answered false")
				}
			}
			sctx, cancel := context.WithCancel(ctx)
			stream := must[*canteen.Stream[*canteen.Login]](t)(f.svc.ConsoleLoginApproved(sctx, cl.Secret))
			if !approveFirst {
				must[bool](t)(f.svc.ApproveConsoleLogin(seller, cl.QRText, "10.0.0.9"))
			}
			l := recvLogin(t, stream)
			cancel()
			a := must[*canteen.Actor](t)(f.svc.Authenticate(ctx, l.Token))
			if a == nil || a.SellerID != st.ID || l.User.Openid != "owner-Console" || a.App != model.AppSeller {
				t.Fatalf("the console's session: %+v for %+v; want the seller's", a, l.User)
			}
			console := canteen.WithActor(ctx, a)
			if _, err := f.svc.Queue(console, st.ID, nil); err != nil {
				t.Fatalf("the console runs the stall's queue: %v", err)
			}
			// Single use: neither a second approval nor a second listener.
			_, err := f.svc.ApproveConsoleLogin(seller, cl.QRText, "10.0.0.9")
			wantCode(t, err, canteen.CodeNotFound)
			_, err = f.svc.ConsoleLoginApproved(ctx, cl.Secret)
			wantCode(t, err, canteen.CodeNotFound)
			// Logging the console out ends its session, not the phone's.
			must[bool](t)(f.svc.Logout(console))
			if a := must[*canteen.Actor](t)(f.svc.Authenticate(ctx, l.Token)); a != nil {
				t.Fatal("the console's session outlived its logout")
			}
			if _, err := f.svc.Queue(seller, st.ID, nil); err != nil {
				t.Fatalf("the phone's session after the console's logout: %v", err)
			}
		}
		n := must[int](t)(f.db.Client.AuditEntry.Query().Where(auditentry.Action("approveConsoleLogin"), auditentry.TargetID(st.ID)).Count(ctx))
		if n != 2 {
			t.Fatalf("%d audit entries for 2 console logins", n)
		}
	})
}

// TestConsoleLoginRefusals: who may approve, and what is no challenge.
func TestConsoleLoginRefusals(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0], func(c *canteen.Config) { c.ConsoleLoginTTL = 300 * time.Millisecond })
	seller, _ := f.stall(t, "Refuse", "R", 999)
	ctx := context.Background()
	cl := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
	_, err := f.svc.ApproveConsoleLogin(ctx, cl.QRText, "10.0.0.9")
	wantCode(t, err, canteen.CodeUnauthenticated)
	_, err = f.svc.ApproveConsoleLogin(f.as(t, model.AppCustomer, "alice"), cl.QRText, "10.0.0.9")
	wantCode(t, err, canteen.CodeForbidden)
	// A seller-app account without a stall is no seller.
	_, err = f.svc.ApproveConsoleLogin(f.as(t, model.AppSeller, "nobody"), cl.QRText, "10.0.0.9")
	wantCode(t, err, canteen.CodeForbidden)
	for _, qr := range []string{"", "callme-console:", cl.QRText + "x", strings.TrimPrefix(cl.QRText, "callme-console:"), "callme-console:" + strings.Repeat("A", 43), strings.Repeat("取", 5000)} {
		_, err = f.svc.ApproveConsoleLogin(seller, qr, "10.0.0.9")
		wantCode(t, err, canteen.CodeNotFound)
	}
	for _, secret := range []string{"", "x", cl.Secret[1:] + "A", strings.Repeat("A", 43), strings.Repeat("a", 5000), strings.TrimPrefix(cl.QRText, "callme-console:")} {
		_, err = f.svc.ConsoleLoginApproved(ctx, secret)
		wantCode(t, err, canteen.CodeNotFound)
	}
	// Unapproved, the console's wait ends with NOT_FOUND when the challenge
	// expires (300 ms here), and approving it then is too late.
	stream := must[*canteen.Stream[*canteen.Login]](t)(f.svc.ConsoleLoginApproved(ctx, cl.Secret))
	select {
	case l, ok := <-stream.C:
		if ok {
			t.Fatalf("an unapproved login sent %+v", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait outlived the challenge")
	}
	wantCode(t, stream.Err(), canteen.CodeNotFound)
	f.clock.Add(300 * time.Millisecond)
	_, err = f.svc.ApproveConsoleLogin(seller, cl.QRText, "10.0.0.9")
	wantCode(t, err, canteen.CodeNotFound)
	_, err = f.svc.ConsoleLoginApproved(ctx, cl.Secret)
	wantCode(t, err, canteen.CodeNotFound)
}

// TestConsoleLoginRateLimit: ten starts a minute per client address.
func TestConsoleLoginRateLimit(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	ctx := context.Background()
	for i := range 10 {
		if _, err := f.svc.StartConsoleLogin(ctx, "10.0.0.1"); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	_, err := f.svc.StartConsoleLogin(ctx, "10.0.0.1")
	wantCode(t, err, canteen.CodeRateLimited)
	must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.2")) // another address
	f.clock.Add(6 * time.Second)
	must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1")) // one more after 6 s
}

// TestConsoleLoginStartsAreBounded: an IPv6 line counts as one address
// (its /64: a line picks from all of it), and however many addresses start
// challenges, at most ConsoleLoginsLive wait at once; expired ones are
// deleted by the next start and make room.
func TestConsoleLoginStartsAreBounded(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e, func(c *canteen.Config) { c.ConsoleLoginsLive = 15 })
		ctx := context.Background()
		for i := range 10 {
			must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, fmt.Sprintf("2001:db8::%x", i+1)))
		}
		_, err := f.svc.StartConsoleLogin(ctx, "2001:db8::ffff")
		wantCode(t, err, canteen.CodeRateLimited)
		for i := range 5 { // other lines, up to the live bound
			must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, fmt.Sprintf("2001:db8:0:%x::1", i+1)))
		}
		_, err = f.svc.StartConsoleLogin(ctx, "10.9.9.9")
		wantCode(t, err, canteen.CodeRateLimited)
		f.clock.Add(3 * time.Minute) // all 15 expired
		must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.9.9.9"))
		if n := must[int](t)(f.db.Client.ConsoleChallenge.Query().Count(ctx)); n != 1 {
			t.Errorf("%d challenges kept, want only the new one (expired ones deleted)", n)
		}
	})
}

// TestConsoleSessionCannotApproveConsoles: a session got by scanning is a
// seller's for running the stall, but it cannot log further consoles in:
// whoever picks up a tablet left at the stall cannot mint sessions that
// outlive the console's logout.
func TestConsoleSessionCannotApproveConsoles(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		seller, _ := f.stall(t, "Console", "C", 999)
		ctx := context.Background()
		cl := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
		must[bool](t)(f.svc.ApproveConsoleLogin(seller, cl.QRText, "10.0.0.9"))
		st := must[*canteen.Stream[*canteen.Login]](t)(f.svc.ConsoleLoginApproved(ctx, cl.Secret))
		l := recvLogin(t, st)
		a := must[*canteen.Actor](t)(f.svc.Authenticate(ctx, l.Token))
		if a.SellerID == "" {
			t.Fatal("the console's session does not run the stall")
		}
		cl2 := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.2"))
		_, err := f.svc.ApproveConsoleLogin(canteen.WithActor(ctx, a), cl2.QRText, "10.0.0.9")
		wantCode(t, err, canteen.CodeForbidden)
		must[bool](t)(f.svc.ApproveConsoleLogin(seller, cl2.QRText, "10.0.0.9")) // the phone still can
	})
}

// TestConsoleLoginApprovalRace: 30 approvals of one challenge at once,
// through two services on one database (two instances): one wins.
func TestConsoleLoginApprovalRace(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e, func(c *canteen.Config) { c.ConsoleLoginsPerMinute = -1 })
		seller, _ := f.stall(t, "Race", "R", 999)
		admin := f.as(t, model.AppSeller, "admin")
		other := canteen.New(f.db.Client, f.db.Dialect, f.broker, nil, canteen.Config{
			Admins: []string{"admin"}, Location: shanghai, DayStartHour: 4, DevLogin: true, Now: f.clock.Now,
		}, nil)
		ctx := context.Background()
		cl := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		start := make(chan struct{})
		for i := range 30 {
			svc, who := f.svc, seller
			if i%2 == 1 {
				svc, who = other, admin
			}
			wg.Go(func() {
				<-start
				ok, err := svc.ApproveConsoleLogin(who, cl.QRText, "10.0.0.9")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case ok && err == nil:
					won++
				case canteen.ErrorCode(err) == canteen.CodeNotFound:
					lost++
				default:
					t.Errorf("approval: %v, %v", ok, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if won != 1 || lost != 29 {
			t.Fatalf("30 approvals: %d won, %d NOT_FOUND; want 1 and 29", won, lost)
		}
		l := recvLogin(t, must[*canteen.Stream[*canteen.Login]](t)(other.ConsoleLoginApproved(ctx, cl.Secret)))
		if l.User.Openid != "owner-Race" && l.User.Openid != "admin" {
			t.Fatalf("session of %s", l.User.Openid)
		}
	})
}

// TestSweepDeletesExpiredConsoleLogins: expired challenges go, used or not;
// live ones stay.
func TestSweepDeletesExpiredConsoleLogins(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0], func(c *canteen.Config) { c.ConsoleLoginsPerMinute = -1 })
	ctx := context.Background()
	for range 3 {
		must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
	}
	// The live one starts before the three expire (a start deletes those
	// expired by then), and is still live when the sweep runs.
	f.clock.Add(90 * time.Second)
	live := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
	f.clock.Add(time.Minute)
	rep := must[canteen.SweepReport](t)(f.svc.Sweep(ctx))
	if rep.ConsoleLogins != 3 {
		t.Fatalf("sweep deleted %d console logins, want the 3 expired", rep.ConsoleLogins)
	}
	if left := must[[]*ent.ConsoleChallenge](t)(f.db.Client.ConsoleChallenge.Query().All(ctx)); len(left) != 1 || !left[0].ExpiresAt.Equal(live.ExpiresAt) {
		t.Fatalf("left %d challenges, want the live one", len(left))
	}
}

// TestConsoleLoginAuditNamesSessionAndAddress: the audit entry of an
// approval says which session approved it and from which client address
// (by the key the per-address limits count: an IPv6 line by its /64), so
// that a stolen phone's approvals can be traced and its session ended;
// the session's token is nowhere in the audit log.
func TestConsoleLoginAuditNamesSessionAndAddress(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		_, st := f.stall(t, "Audited", "A", 999)
		ctx := context.Background()
		for _, tc := range []struct{ addr, want string }{
			{"203.0.113.7", "203.0.113.7"},
			{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
			{"::ffff:198.51.100.4", "198.51.100.4"},
		} {
			l := must[*canteen.Login](t)(f.svc.Login(ctx, canteen.LoginInput{App: model.AppSeller, Code: "dev:owner-Audited"}))
			phone := f.auth(t, l.Token)
			a := canteen.ActorFrom(phone)
			cl := must[*canteen.ConsoleLogin](t)(f.svc.StartConsoleLogin(ctx, "10.0.0.1"))
			must[bool](t)(f.svc.ApproveConsoleLogin(phone, cl.QRText, tc.addr))
			entry := must[*ent.AuditEntry](t)(f.db.Client.AuditEntry.Query().
				Where(auditentry.Action("approveConsoleLogin"), auditentry.TargetID(st.ID)).
				Order(ent.Desc(auditentry.FieldID)).First(ctx))
			if want := fmt.Sprintf("session %d", a.SessionID); !strings.Contains(entry.Detail, want) {
				t.Errorf("approved from %s: detail %q, want it to name %q", tc.addr, entry.Detail, want)
			}
			if want := "from " + tc.want; !strings.Contains(entry.Detail, want) {
				t.Errorf("approved from %s: detail %q, want %q", tc.addr, entry.Detail, want)
			}
			if entry.ActorID != a.UserID {
				t.Errorf("actor %s, want the approving user %s", entry.ActorID, a.UserID)
			}
			for _, e := range must[[]*ent.AuditEntry](t)(f.db.Client.AuditEntry.Query().All(ctx)) {
				for _, v := range []string{string(e.ActorID), e.Action, string(e.TargetID), e.Detail} {
					if strings.Contains(v, l.Token) {
						t.Fatalf("the approving session's token is in audit entry %d: %q", e.ID, v)
					}
				}
			}
		}
	})
}
