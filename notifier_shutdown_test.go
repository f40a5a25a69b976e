package main

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"callme/internal/model"
	"callme/internal/wechat"
	"callme/internal/wechat/wechattest"

	_ "modernc.org/sqlite"
)

// TestShutdownJoinsNotifier: a subscribe message in flight when the server
// is told to stop is finished and recorded before run returns and the
// database closes (defect 12a: the notifier goroutine was never joined, so
// its outcome hit a closed database and the message, already delivered,
// stayed PENDING, to go out again after a restart).
func TestShutdownJoinsNotifier(t *testing.T) {
	creds := map[model.App]wechat.AppCredentials{
		model.AppCustomer: {AppID: "wxc", Secret: "csec"},
		model.AppSeller:   {AppID: "wxs", Secret: "ssec"},
	}
	fake := wechattest.NewServer(t, creds)
	dbPath := filepath.Join(t.TempDir(), "callme.db")
	env := map[string]string{
		"CALLME_DB": "sqlite:" + dbPath, "CALLME_PHOTO_DIR": t.TempDir(), "CALLME_ADMINS": "admin",
		"CALLME_CUSTOMER_APPID": "wxc", "CALLME_CUSTOMER_SECRET": "csec",
		"CALLME_SELLER_APPID": "wxs", "CALLME_SELLER_SECRET": "ssec",
		"CALLME_WECHAT_BASE_URL": fake.URL, "CALLME_NOTIFY_TEMPLATE": "TMPL",
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"callme", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	url := ""
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`url=(http://\S+)/`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatal("run never logged its URL")
	}
	s := &testServer{URL: url}
	login := func(app model.App, openid string) string {
		var d struct{ Login struct{ Token string } }
		s.ok(t, "", `mutation($app: App!, $code: String!) { login(input: {app: $app, code: $code}) { token } }`,
			map[string]any{"app": strings.ToUpper(string(app)), "code": fake.IssueCode(app, openid)}, &d)
		return d.Login.Token
	}
	admin := login(model.AppSeller, "admin")
	var created struct {
		CreateSeller struct {
			Seller     struct{ ID string }
			InviteCode string
		}
	}
	s.ok(t, admin, `mutation($in: CreateSellerInput!) { createSeller(input: $in) { seller { id } inviteCode } }`,
		map[string]any{"in": map[string]any{"name": "Bye", "prefix": "B", "paidUntil": time.Now().Add(720 * time.Hour).Format(time.RFC3339)}}, &created)
	id := created.CreateSeller.Seller.ID
	seller := login(model.AppSeller, "owner")
	s.ok(t, seller, `mutation($c: String!) { claimSeller(inviteCode: $c) { id } }`, map[string]any{"c": created.CreateSeller.InviteCode}, nil)
	s.ok(t, seller, `mutation($id: ID!) { setOpen(sellerId: $id, open: true) { id } }`, map[string]any{"id": id}, nil)
	customer := login(model.AppCustomer, "alice")
	var f struct{ Fetch struct{ ID string } }
	s.ok(t, customer, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": id}, &f)
	s.ok(t, customer, `mutation($id: ID!) { acceptNotifications(ticketId: $id, templateIds: ["TMPL"]) }`, map[string]any{"id": f.Fetch.ID}, nil)

	// WeChat answers slowly; the server is told to stop while the message
	// is on its way.
	fake.DelayNext(2, 500*time.Millisecond) // the access token, then the send
	s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for attempts, deadline := 0, time.Now().Add(10*time.Second); attempts == 0; time.Sleep(5 * time.Millisecond) {
		// The sender has claimed the message (a claim counts the attempt).
		_ = db.QueryRow(`SELECT attempts FROM notifications`).Scan(&attempts)
		if time.Now().After(deadline) {
			t.Fatal("the notifier never claimed the message")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return")
	}

	var state string
	if err := db.QueryRow(`SELECT state FROM notifications`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if sent := len(fake.SentMessages()); sent != 1 || state != "SENT" {
		t.Fatalf("when run returned: %d messages at WeChat, notification %s; want 1 and SENT", sent, state)
	}
}
