package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMClosesSocketsWith1001 builds the real binary, opens
// subscriptions, commits work, sends SIGTERM and checks that every socket is
// closed with 1001 (so clients reconnect at once), the process exits cleanly,
// and the committed ticket is there after a restart.
func TestSIGTERMClosesSocketsWith1001(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "callme")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := "sqlite:" + filepath.Join(dir, "callme.db")
	start := func() (*exec.Cmd, *testServer) {
		cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", db, "-recall-gap", "0s")
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`url=(http://\S+)/`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				go io.Copy(io.Discard, stdout)
				return cmd, &testServer{URL: m[1]}
			}
		}
		t.Fatal("server never logged its URL")
		return nil, nil
	}
	cmd, s := start()
	seller, stallID := s.openStall(t, "Closing", "C")
	var sockets []*wsClient
	for i := 0; i < 5; i++ {
		ws := s.dialWS(t, "graphql-transport-ws", nil)
		ws.subscribe("calls", `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`, map[string]any{"id": stallID})
		sockets = append(sockets, ws)
	}
	var f struct{ Fetch struct{ ID string } }
	s.ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stallID}, &f)
	s.ok(t, seller, `mutation($id: ID!) { call(ticketId: $id) { id } }`, map[string]any{"id": f.Fetch.ID}, nil)
	for _, ws := range sockets {
		var ev struct{ CalledNumbers struct{ Seq int } }
		ws.next("calls", &ev)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, ws := range sockets {
		if code := closeCode(t, ws.conn); code != 1001 {
			t.Errorf("socket %d closed with %d, want 1001 going away", i, code)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}

	_, s = start()
	var d struct {
		Seller struct{ LastCalled struct{ ID string } }
	}
	s.ok(t, "", `query($id: ID!) { seller(id: $id) { lastCalled { id } } }`, map[string]any{"id": stallID}, &d)
	if d.Seller.LastCalled.ID != f.Fetch.ID {
		t.Fatalf("after restart the last call is %q, want the committed %q", d.Seller.LastCalled.ID, f.Fetch.ID)
	}
}
