package canteen_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"callme/ent"
	"callme/ent/notification"
	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/store/storetest"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

const tmpl = "TMPL-pickup"

func notifyFixture(t *testing.T) (*fixture, *wechattest.Server, *wechat.Client, func() *canteen.Service) {
	creds := map[model.App]wechat.AppCredentials{model.AppCustomer: {AppID: "wxc", Secret: "sec"}}
	fake := wechattest.NewServer(t, creds)
	wx := wechat.New(wechat.Config{BaseURL: fake.URL, Apps: creds, Retries: 1, RetryDelay: time.Millisecond})
	cfgFor := func(c *canteen.Config) {
		c.Notify = canteen.NotifyConfig{TemplateID: tmpl, Page: "pages/ticket/index",
			Fields: map[string]string{"thing1": "stall", "character_string2": "code", "thing3": "pickupNote"}}
	}
	f := newFixture(t, storetest.Engines()[0], cfgFor)
	// another "process" on the same database, as after a restart
	restart := func() *canteen.Service {
		cfg := canteen.Config{Admins: []string{"admin"}, Location: shanghai, DayStartHour: 4, DevLogin: true, Now: f.clock.Now}
		cfgFor(&cfg)
		return canteen.New(f.db.Client, f.db.Dialect, events.NewLocal(8), nil, cfg, nil)
	}
	return f, fake, wx, restart
}

func TestNotificationOnCallOncePerGrant(t *testing.T) {
	f, fake, wx, _ := notifyFixture(t)
	seller, st := f.stall(t, "Notify", "N", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	if n := must[int](t)(f.svc.AcceptNotifications(alice, tk.ID, []string{tmpl, "someone-elses"})); n != 1 {
		t.Fatalf("grants %d, want 1", n)
	}
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // a recall: no grant left
	if sent := f.svc.SendPending(context.Background(), wx); sent != 1 {
		t.Fatalf("sent %d, want 1", sent)
	}
	msgs := fake.SentMessages()
	if len(msgs) != 1 || msgs[0].TemplateID != tmpl || msgs[0].ToUser != "alice" ||
		msgs[0].Data["thing1"] != "Notify" || msgs[0].Data["character_string2"] != "N001" || msgs[0].Page != "pages/ticket/index" {
		t.Fatalf("messages %+v", msgs)
	}
	if sent := f.svc.SendPending(context.Background(), wx); sent != 0 || len(fake.SentMessages()) != 1 {
		t.Fatal("a message was sent twice")
	}

	bob := f.as(t, model.AppCustomer, "bob")
	_, err := f.svc.AcceptNotifications(bob, tk.ID, []string{tmpl})
	wantCode(t, err, canteen.CodeForbidden)
	_, err = f.svc.AcceptNotifications(alice, tk.ID, []string{"unknown"})
	wantCode(t, err, canteen.CodeBadUserInput)
}

func TestNotificationOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*wechattest.Server)
		wantState notification.State
		wantSent  int
		requests  int
	}{
		{"grant gone 43101: no retry", func(s *wechattest.Server) { s.FailSendNext(1, 43101) }, notification.StateGONE, 0, 1},
		{"expired token: one refresh, then sent", func(s *wechattest.Server) { s.ExpireTokens() }, notification.StateSENT, 1, 2},
		{"bad template data 47003: no retry", func(s *wechattest.Server) { s.FailSendNext(1, 47003) }, notification.StateFAILED, 0, 1},
		{"busy twice: retried later, then sent", func(s *wechattest.Server) { s.FailSendNext(2, -1) }, notification.StateSENT, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, fake, wx, _ := notifyFixture(t)
			seller, st := f.stall(t, "Out", "O", 999)
			alice := f.as(t, model.AppCustomer, "alice")
			tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
			must[int](t)(f.svc.AcceptNotifications(alice, tk.ID, []string{tmpl}))
			wx.AccessToken(context.Background(), model.AppCustomer) // a token to expire
			tc.setup(fake)
			must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
			f.svc.SendPending(context.Background(), wx)
			f.clock.Add(time.Minute) // past any backoff
			f.svc.SendPending(context.Background(), wx)
			n := must[*ent.Notification](t)(f.db.Client.Notification.Query().Only(context.Background()))
			if n.State != tc.wantState || len(fake.SentMessages()) != tc.wantSent || fake.SendRequests() != tc.requests {
				t.Fatalf("state %s, sent %d, requests %d (last error %q); want %s, %d, %d",
					n.State, len(fake.SentMessages()), fake.SendRequests(), n.LastError, tc.wantState, tc.wantSent, tc.requests)
			}
		})
	}
}

// TestNotificationSurvivesCrash: the call commits its message; the process
// dies before sending; the next process sends it, exactly once, even with two
// senders racing.
func TestNotificationSurvivesCrash(t *testing.T) {
	f, fake, wx, restart := notifyFixture(t)
	seller, st := f.stall(t, "Crash", "C", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	must[int](t)(f.svc.AcceptNotifications(alice, tk.ID, []string{tmpl}))
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID)) // committed; no sender ran

	a, b := restart(), restart()
	var wg sync.WaitGroup
	for _, svc := range []*canteen.Service{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); svc.SendPending(context.Background(), wx) }()
	}
	wg.Wait()
	if got := len(fake.SentMessages()); got != 1 {
		t.Fatalf("%d messages after the restart, want exactly 1", got)
	}
}

func TestNotifierSendsAfterCommit(t *testing.T) {
	f, fake, wx, _ := notifyFixture(t)
	seller, st := f.stall(t, "Live", "L", 999)
	alice := f.as(t, model.AppCustomer, "alice")
	tk := must[*ent.Ticket](t)(f.svc.Fetch(alice, canteen.FetchInput{SellerID: st.ID}))
	must[int](t)(f.svc.AcceptNotifications(alice, tk.ID, []string{tmpl}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.svc.RunNotifier(ctx, wx, time.Hour); close(done) }() // only the kick can wake it
	must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
	deadline := time.Now().Add(5 * time.Second)
	for len(fake.SentMessages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if len(fake.SentMessages()) != 1 {
		t.Fatal("the notifier did not send after the call committed")
	}
}

// slowSender stands in for a slow WeChat: each send takes `takes` on the
// test clock, and during may act as another instance running meanwhile.
type slowSender struct {
	clock  *clock
	takes  time.Duration
	during func(n int) // called inside the n-th send (1-based)

	mu   sync.Mutex
	sent []wechat.SubscribeMessage
}

func (s *slowSender) SendSubscribeMessage(ctx context.Context, app model.App, msg wechat.SubscribeMessage) error {
	s.mu.Lock()
	s.sent = append(s.sent, msg)
	n := len(s.sent)
	s.mu.Unlock()
	s.clock.Add(s.takes)
	if s.during != nil {
		s.during(n)
	}
	return nil
}

// TestNotificationSlowSenderNotSentTwice: an instance whose WeChat takes 20 s
// per message sends a batch of two; while it is still sending the second, a
// second instance looks for due messages. Every notification goes out
// exactly once (defect 9: the batch's leases all counted from its start).
func TestNotificationSlowSenderNotSentTwice(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e, func(c *canteen.Config) {
			c.Notify = canteen.NotifyConfig{TemplateID: tmpl, Page: "pages/ticket/index",
				Fields: map[string]string{"thing1": "stall", "character_string2": "code"}}
		})
		instance := func() *canteen.Service {
			cfg := canteen.Config{Admins: []string{"admin"}, Location: shanghai, DayStartHour: 4, DevLogin: true, Now: f.clock.Now,
				Notify: canteen.NotifyConfig{TemplateID: tmpl, Fields: map[string]string{"character_string2": "code"}}}
			return canteen.New(f.db.Client, f.db.Dialect, events.NewLocal(8), nil, cfg, nil)
		}
		seller, st := f.stall(t, "Slow", "S", 999)
		for _, who := range []string{"alice", "bob"} {
			c := f.as(t, model.AppCustomer, who)
			tk := must[*ent.Ticket](t)(f.svc.Fetch(c, canteen.FetchInput{SellerID: st.ID}))
			must[int](t)(f.svc.AcceptNotifications(c, tk.ID, []string{tmpl}))
			must[*ent.Ticket](t)(f.svc.Call(seller, tk.ID))
		}
		a, b := instance(), instance()
		other := &slowSender{clock: f.clock}
		slow := &slowSender{clock: f.clock, takes: 20 * time.Second, during: func(n int) {
			if n == 2 {
				// 40 s after the batch began, the other instance runs.
				b.SendPending(context.Background(), other)
			}
		}}
		a.SendPending(context.Background(), slow)
		f.clock.Add(10 * time.Minute) // every lease long over: a retry would be due
		a.SendPending(context.Background(), slow)
		b.SendPending(context.Background(), other)

		per := map[string]int{}
		for _, m := range append(slow.sent, other.sent...) {
			per[m.ToUser]++
		}
		if per["alice"] != 1 || per["bob"] != 1 {
			t.Fatalf("messages per customer %v (slow instance %d, other %d), want exactly one each", per, len(slow.sent), len(other.sent))
		}
		if n := f.db.Client.Notification.Query().Where(notification.StateEQ(notification.StateSENT)).CountX(context.Background()); n != 2 {
			t.Fatalf("%d notifications SENT, want 2", n)
		}
	})
}
