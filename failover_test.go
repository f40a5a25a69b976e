package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"callme/internal/store/storetest"

	"github.com/redis/go-redis/v9"
)

// TestRedisSentinelFailover: two instances reach Redis through Sentinel; the
// master is killed while calls are made. Calls keep committing, and the
// boards on both instances get every call once, in order (what Redis lost
// during the failover they read from the database).
func TestRedisSentinelFailover(t *testing.T) {
	if os.Getenv(storetest.EnvMySQL) == "" {
		t.Skipf("needs MariaDB: set %s", storetest.EnvMySQL)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (Debian package redis-server)")
	}
	if testing.Short() {
		t.Skip("starts Redis servers and a Sentinel")
	}
	dir := t.TempDir()
	// No diskless-sync delay: the replica would wait 5 s for its first sync.
	master := startRedis(t, dir, "master", "--repl-diskless-sync-delay", "0")
	replica := startRedis(t, dir, "replica", "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
	waitReplicated(t, replica.port)
	sentinelPort := freePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor callme 127.0.0.1 %d 1
sentinel down-after-milliseconds callme 500
sentinel failover-timeout callme 5000
`, sentinelPort, dir, master.port)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, "redis-server", conf, "--sentinel")
	waitPing(t, sentinelPort)

	url := fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=callme", sentinelPort)
	s := twoInstances(t, func(int) string { return url })
	seller, stall := s[0].openStall(t, "Failover", "F")
	const calls = 12
	for i := 0; i < calls; i++ {
		s[i%2].ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stall}, nil)
	}
	var boards [2]*wsClient
	for i := range boards {
		boards[i] = s[i].dialWS(t, "graphql-transport-ws", nil)
		boards[i].subscribe("b", `subscription($id: ID!) { calledNumbers(sellerId: $id, after: 0) { seq } }`, map[string]any{"id": stall})
	}
	for i := 0; i < calls; i++ {
		if i == 4 {
			master.kill() // the Sentinel promotes the replica within about a second
		}
		s[i%2].ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stall}, nil)
		time.Sleep(150 * time.Millisecond) // spread the calls over the failover
	}
	for i, b := range boards {
		for want := 1; want <= calls; want++ {
			var ev struct{ CalledNumbers struct{ Seq int } }
			b.next("b", &ev)
			if ev.CalledNumbers.Seq != want {
				t.Fatalf("board on instance %d got seq %d, want %d", i, ev.CalledNumbers.Seq, want)
			}
		}
		expectSilence(t, b)
	}
	// The promoted replica serves the instances now.
	cl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", replica.port)})
	defer cl.Close()
	role, err := cl.Do(context.Background(), "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		t.Errorf("replica's role after the failover: %v %v, want master", role, err)
	}
}

type redisProc struct {
	port int
	cmd  *exec.Cmd
}

func (r *redisProc) kill() { _ = r.cmd.Process.Kill() }

func startRedis(t *testing.T, dir, name string, args ...string) *redisProc {
	t.Helper()
	port := freePort(t)
	cmd := startProcess(t, "redis-server", append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", name + ".rdb"}, args...)...)
	waitPing(t, port)
	return &redisProc{port: port, cmd: cmd}
}

func startProcess(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPing(t *testing.T, port int) {
	t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer cl.Close()
	for i := 0; i < 100; i++ {
		if cl.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis on port %d never answered", port)
}

func waitReplicated(t *testing.T, port int) {
	t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer cl.Close()
	for i := 0; i < 400; i++ {
		role, err := cl.Do(context.Background(), "ROLE").Slice()
		if err == nil && len(role) >= 4 && role[0] == "slave" && role[3] == "connected" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica on port %d never connected to its master", port)
}
