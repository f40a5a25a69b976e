package canteen_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/model"
	"callme/internal/store"
	"callme/internal/store/storetest"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"
)

func TestSessionsSlideExpireAndRevoke(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		f := newFixture(t, e)
		l := must[*canteen.Login](t)(f.svc.Login(context.Background(), canteen.LoginInput{App: model.AppCustomer, Code: "dev:alice"}))
		if len(l.Token) < 22 { // 128 bits in base64
			t.Fatalf("token %q is too short", l.Token)
		}
		if want := f.clock.Now().Add(30 * time.Minute); !l.ExpiresAt.Equal(want) {
			t.Fatalf("expiresAt %v, want %v", l.ExpiresAt, want)
		}
		// Used every 20 minutes, the session lives on past its first expiry.
		for i := 0; i < 3; i++ {
			f.clock.Add(20 * time.Minute)
			if a := must[*canteen.Actor](t)(f.svc.Authenticate(context.Background(), l.Token)); a == nil {
				t.Fatalf("session expired after %d idle periods of 20m", i+1)
			}
		}
		f.clock.Add(31 * time.Minute)
		if a := must[*canteen.Actor](t)(f.svc.Authenticate(context.Background(), l.Token)); a != nil {
			t.Fatal("session survived 31 idle minutes")
		}

		l = must[*canteen.Login](t)(f.svc.Login(context.Background(), canteen.LoginInput{App: model.AppCustomer, Code: "dev:alice"}))
		ctx := f.auth(t, l.Token)
		if ok := must[bool](t)(f.svc.Logout(ctx)); !ok {
			t.Fatal("logout returned false")
		}
		if a := must[*canteen.Actor](t)(f.svc.Authenticate(context.Background(), l.Token)); a != nil {
			t.Fatal("token still works after logout")
		}
		_, err := f.svc.Logout(context.Background())
		wantCode(t, err, canteen.CodeUnauthenticated)
	})
}

func TestRolesFollowCurrentState(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0])
	for _, tc := range []struct {
		app  model.App
		name string
		want string
	}{
		{model.AppCustomer, "alice", "CUSTOMER"},
		{model.AppSeller, "bob", ""},
		{model.AppSeller, "admin", "ADMIN"},
		{model.AppCustomer, "admin", "CUSTOMER,ADMIN"},
	} {
		ctx := f.as(t, tc.app, tc.name)
		if got := roleString(canteen.ActorFrom(ctx).Roles()); got != tc.want {
			t.Errorf("%s via %s: roles %q, want %q", tc.name, tc.app, got, tc.want)
		}
	}
	seller, _ := f.stall(t, "Wok", "W", 999)
	if got := roleString(canteen.ActorFrom(seller).Roles()); got != "SELLER" {
		t.Errorf("claimed seller: roles %q, want SELLER", got)
	}
}

func roleString(rs []model.Role) string {
	var s []string
	for _, r := range rs {
		s = append(s, string(r))
	}
	return strings.Join(s, ",")
}

func TestDevLoginRules(t *testing.T) {
	f := newFixture(t, storetest.Engines()[0], func(c *canteen.Config) { c.DevLogin = false })
	for _, tc := range []struct {
		name string
		in   canteen.LoginInput
		want canteen.Code
	}{
		{"dev login off", canteen.LoginInput{App: model.AppCustomer, Code: "dev:alice"}, canteen.CodeUnauthenticated},
		{"no wechat configured", canteen.LoginInput{App: model.AppCustomer, Code: "071abc"}, canteen.CodeUnauthenticated},
		{"empty code", canteen.LoginInput{App: model.AppCustomer, Code: " "}, canteen.CodeBadUserInput},
		{"bad app", canteen.LoginInput{App: "WEB", Code: "x"}, canteen.CodeBadUserInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Login(context.Background(), tc.in)
			wantCode(t, err, tc.want)
		})
	}
	on := newFixture(t, storetest.Engines()[0])
	_, err := on.svc.Login(context.Background(), canteen.LoginInput{App: model.AppCustomer, Code: "dev:bad name!"})
	wantCode(t, err, canteen.CodeBadUserInput)
}

// TestWeChatLogin drives the real WeChat client against the local fake
// server and checks each errcode's mapping, and that no secret is logged.
func TestWeChatLogin(t *testing.T) {
	creds := map[model.App]wechat.AppCredentials{
		model.AppCustomer: {AppID: "wxcustomer", Secret: "customer-secret-123"},
		model.AppSeller:   {AppID: "wxseller", Secret: "seller-secret-456"},
	}
	fake := wechattest.NewServer(t, creds)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wx := wechat.New(wechat.Config{BaseURL: fake.URL, Apps: creds, Retries: 2, RetryDelay: time.Millisecond, Logger: log})
	db := storetest.Open(t, storetest.Engines()[0], store.Options{})
	svc := canteen.New(db.Client, db.Dialect, events.NewLocal(8), wx, canteen.Config{Admins: []string{"admin"}}, log)

	code := fake.IssueCode(model.AppCustomer, "o-alice")
	l, err := svc.Login(context.Background(), canteen.LoginInput{App: model.AppCustomer, Code: code})
	if err != nil {
		t.Fatalf("login with a valid code: %v", err)
	}
	sessionKey := fake.SessionKey(code)
	a := must[*canteen.Actor](t)(svc.Authenticate(context.Background(), l.Token))
	if a == nil || a.OpenID != "o-alice" || a.App != model.AppCustomer {
		t.Fatalf("logged in as %+v, want o-alice in CUSTOMER", a)
	}
	// The same openid through the same app is the same user.
	again := must[*canteen.Login](t)(svc.Login(context.Background(), canteen.LoginInput{App: model.AppCustomer, Code: fake.IssueCode(model.AppCustomer, "o-alice")}))
	if again.User.ID != l.User.ID {
		t.Fatalf("second login made a new user %s, want %s", again.User.ID, l.User.ID)
	}

	for _, tc := range []struct {
		name  string
		setup func() string
		want  canteen.Code
	}{
		{"unknown code 40029", func() string { return "no-such-code" }, canteen.CodeUnauthenticated},
		{"used code 40163", func() string { return code }, canteen.CodeUnauthenticated},
		{"too frequent 45011", func() string { fake.FailNext(1, 45011); return fake.IssueCode(model.AppCustomer, "x") }, canteen.CodeRateLimited},
		{"high risk 40226", func() string { fake.FailNext(1, 40226); return fake.IssueCode(model.AppCustomer, "x") }, canteen.CodeForbidden},
		{"busy -1 every time", func() string { fake.FailNext(3, -1); return fake.IssueCode(model.AppCustomer, "x") }, canteen.CodeWeChatUnavailable},
		{"dev code refused", func() string { return "dev:admin" }, canteen.CodeUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Login(context.Background(), canteen.LoginInput{App: model.AppCustomer, Code: tc.setup()})
			wantCode(t, err, tc.want)
		})
	}
	t.Run("busy once then retried", func(t *testing.T) {
		fake.FailNext(1, -1)
		if _, err := svc.Login(context.Background(), canteen.LoginInput{App: model.AppSeller, Code: fake.IssueCode(model.AppSeller, "o-bob")}); err != nil {
			t.Fatalf("login after one busy answer: %v", err)
		}
	})
	for _, secret := range []string{"customer-secret-123", "seller-secret-456", code, sessionKey, l.Token} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log contains a secret %q:\n%s", secret, logs.String())
		}
	}
	n := must[int](t)(db.Client.Session.Query().Where().Count(context.Background()))
	keys := must[[]string](t)(db.Client.Session.Query().Select("session_key").Strings(context.Background()))
	if n == 0 || keys[0] != sessionKey {
		t.Fatalf("session_key not kept server-side: %d sessions, keys %v", n, keys)
	}
}
