package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

func stdin() io.Reader { return os.Stdin }

// helper is a subprocess of this binary in one of its hidden modes: a
// baseline server or the WebSocket load generator. It ends when its stdin
// closes, so it never outlives the bench.
type helper struct {
	cmd   *exec.Cmd
	pid   int
	url   string
	in    io.WriteCloser
	out   *bufio.Reader
	done  chan struct{}
	once  sync.Once
	stder *strings.Builder
}

// startHelper runs `self mode args…`; servers print "listening URL" first.
func (e *env) startHelper(ctx context.Context, mode string, args ...string) (*helper, error) {
	h, err := e.spawn(mode, args...)
	if err != nil {
		return nil, err
	}
	line, err := h.readLine(ctx, 30*time.Second)
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("%s: %w", mode, err)
	}
	if !strings.HasPrefix(line, "listening ") {
		h.stop()
		return nil, fmt.Errorf("%s: unexpected first line %q", mode, line)
	}
	h.url = strings.TrimPrefix(line, "listening ")
	return h, nil
}

func (e *env) spawn(mode string, args ...string) (*helper, error) {
	cmd := exec.Command(e.self, append([]string{mode}, args...)...)
	cmd.Env = os.Environ()
	if os.Getenv("GOGC") == "" && (mode == "_fanout-client" || mode == "_query-baseline" || mode == "_ws-baseline") {
		// The load generator: less GC, as it shares the CPU with the server.
		// The baselines: the same GC target as callme's default
		// (-gc-percent 400), so a ratio compares the code, not the setting.
		cmd.Env = append(cmd.Env, "GOGC=400")
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	h := &helper{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), done: make(chan struct{}), stder: &strings.Builder{}}
	cmd.Stderr = &lockedWriter{w: io.MultiWriter(os.Stderr, h.stder)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h.pid = cmd.Process.Pid
	go func() { cmd.Wait(); close(h.done) }()
	return h, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// readLine reads the helper's next stdout line within d.
func (h *helper) readLine(ctx context.Context, d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := h.out.ReadString('\n')
		ch <- res{strings.TrimRight(s, "\n"), err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		h.stop()
		return "", ctx.Err()
	case <-time.After(d):
		h.stop()
		return "", fmt.Errorf("no answer within %s", d)
	}
}

func (h *helper) send(line string) error {
	_, err := io.WriteString(h.in, line+"\n")
	return err
}

// stop closes stdin and waits for the helper to exit (SIGKILL after 20 s).
func (h *helper) stop() {
	h.once.Do(func() {
		h.in.Close()
		select {
		case <-h.done:
		case <-time.After(20 * time.Second):
			_ = h.cmd.Process.Kill()
			<-h.done
		}
	})
}
