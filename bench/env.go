package main

import (
	"bufio"
	"callme/internal/procstat"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// env is what every scenario shares: the repository, a scratch directory,
// the callme binary, and a connection to the database server.
type env struct {
	o       options
	root    string // repository root (go.mod of module callme)
	tmp     string
	bin     string // callme, built once
	self    string // this binary, for the subprocess modes
	admin   *sql.DB
	cmdline string

	mu       sync.Mutex
	dbs      map[string]bool // databases to drop at the end
	servers  []*server
	nextDB   int
	pprofBin string
	loadAt   string // /proc/loadavg when the running scenario began

	dbPIDOnce sync.Once
	dbPIDv    int
}

// loadavg is the 1, 5 and 15-minute load averages: other work on the
// machine shows in every figure.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func newEnv(ctx context.Context, o options, scenario string) (*env, error) {
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "callme-bench.")
	if err != nil {
		return nil, err
	}
	e := &env{o: o, root: root, tmp: tmp, self: self, dbs: map[string]bool{}}
	e.cmdline = "go run ./bench " + strings.Join(os.Args[1:], " ")
	raiseNoFile()

	cfg, err := mysql.ParseDSN(o.mysql)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("-mysql: %w", err)
	}
	cfg.DBName = ""
	e.admin, err = sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		e.close()
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.admin.PingContext(pctx); err != nil {
		e.close()
		return nil, fmt.Errorf("MariaDB at %s: %w", cfg.Addr, err)
	}

	fmt.Printf("building callme (%s) ...\n", root)
	t0 := time.Now()
	e.bin = filepath.Join(tmp, "callme")
	if err := e.goBuild(ctx, e.bin, ""); err != nil {
		e.close()
		return nil, err
	}
	if o.pprof {
		e.pprofBin = filepath.Join(tmp, "callme-pprof")
		if err := e.buildPprof(ctx); err != nil {
			e.close()
			return nil, err
		}
	}
	fmt.Printf("built in %s\n", time.Since(t0).Round(100*time.Millisecond))
	return e, nil
}

func (e *env) goBuild(ctx context.Context, out, overlay string) error {
	args := []string{"build", "-o", out}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, ".")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = e.root
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build callme: %v\n%s", err, b)
	}
	return nil
}

// pprofSource is added to callme's main package at build time through
// `go build -overlay` (the repository is not touched): with
// CALLME_BENCH_PPROF=127.0.0.1:0 the server also serves net/http/pprof on a
// second loopback listener and logs its address on stderr.
const pprofSource = `package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("CALLME_BENCH_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench pprof:", err)
		return
	}
	fmt.Fprintf(os.Stderr, "bench pprof on http://%s/\n", ln.Addr())
	go http.Serve(ln, nil)
}
`

func (e *env) buildPprof(ctx context.Context) error {
	src := filepath.Join(e.tmp, "zz_bench_pprof.go")
	if err := os.WriteFile(src, []byte(pprofSource), 0o644); err != nil {
		return err
	}
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(e.root, "zz_bench_pprof.go"): src}})
	ovPath := filepath.Join(e.tmp, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		return err
	}
	return e.goBuild(ctx, e.pprofBin, ovPath)
}

func (e *env) close() {
	e.mu.Lock()
	servers := e.servers
	e.servers = nil
	e.mu.Unlock()
	for _, s := range servers {
		s.stop()
	}
	if e.admin != nil {
		for db := range e.dbs {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
				fmt.Fprintf(os.Stderr, "bench: dropping %s: %v\n", db, err)
			}
			cancel()
		}
		e.admin.Close()
	}
	if e.tmp != "" {
		if os.Getenv("BENCH_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "bench: kept %s (BENCH_KEEP)\n", e.tmp)
		} else {
			os.RemoveAll(e.tmp)
		}
	}
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && regexp.MustCompile(`(?m)^module callme\s*$`).Match(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the callme repository (no go.mod of module callme above the working directory)")
		}
		dir = parent
	}
}

// raiseNoFile lifts the soft open-files limit to the hard one: thousands of
// sockets per process.
func raiseNoFile() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	return r.Cur
}

// freshDB creates an empty database and returns its DSN for the server
// (mysql://…) and for database/sql.
func (e *env) freshDB(ctx context.Context) (name, serverDSN, sqlDSN string, err error) {
	e.mu.Lock()
	e.nextDB++
	name = fmt.Sprintf("%s_%d_%d", e.o.dbName, os.Getpid(), e.nextDB)
	e.dbs[name] = true
	e.mu.Unlock()
	if _, err = e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return
	}
	if _, err = e.admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return
	}
	cfg, _ := mysql.ParseDSN(e.o.mysql)
	cfg.DBName = name
	dsn := cfg.FormatDSN()
	if e.o.dsnParams != "" {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + e.o.dsnParams
	}
	return name, "mysql://" + dsn, dsn, nil
}

// dropDB drops a database now (a scenario is done with it).
func (e *env) dropDB(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err == nil {
		e.mu.Lock()
		delete(e.dbs, name)
		e.mu.Unlock()
	}
}

// sqlDB opens a pool like callme's own: the same driver settings, the same
// pool size.
func sqlDB(dsn string, conns int) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	cfg.Params["time_zone"] = "'+00:00'"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

// server is a callme process.
type server struct {
	cmd     *exec.Cmd
	pid     int
	url     string // http://127.0.0.1:PORT
	pprof   string // http://127.0.0.1:PORT of the pprof listener, if any
	logPath string
	done    chan struct{}
	once    sync.Once
}

// startServer runs callme against serverDSN with the rate limits and the
// recall gap off, and waits until /healthz answers.
func (e *env) startServer(ctx context.Context, serverDSN string, profile bool, extra ...string) (*server, error) {
	bin := e.bin
	if profile && e.pprofBin != "" {
		bin = e.pprofBin
	}
	args := []string{"-addr", "127.0.0.1:0", "-db", serverDSN,
		"-rate-ip-mutations", "0", "-rate-session-mutations", "0", "-rate-ip-logins", "0",
		"-budget-ip", "0", "-budget-user", "0", "-budget-socket", "0",
		// One load generator on one address stands for a campus of phones.
		"-max-sockets", "100000", "-max-sockets-per-address", "100000",
		"-max-subscriptions", "400000", "-max-subscriptions-per-address", "400000",
		"-recall-gap", "0s",
		// info, not warn: the listening URL is logged at info (and little else is).
		"-log-level", envOr("BENCH_SERVER_LOG_LEVEL", "info")}
	if e.o.redis != "" {
		args = append(args, "-redis", e.o.redis)
	}
	args = append(args, extra...)
	e.mu.Lock()
	logPath := filepath.Join(e.tmp, fmt.Sprintf("server-%d.log", len(e.servers)+1))
	e.mu.Unlock()
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.tmp
	cmd.Env = os.Environ()
	if profile && e.pprofBin != "" {
		cmd.Env = append(cmd.Env, "CALLME_BENCH_PPROF=127.0.0.1:0")
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(s.done) }()
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()

	urlRe := regexp.MustCompile(`msg="callme listening" url=(http://[^ /]+)/`)
	pprofRe := regexp.MustCompile(`bench pprof on (http://[^ /]+)/`)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if s.url == "" || (profile && e.pprofBin != "" && s.pprof == "") {
			b, _ := os.ReadFile(logPath)
			if m := urlRe.FindSubmatch(b); m != nil {
				s.url = string(m[1])
			}
			if m := pprofRe.FindSubmatch(b); m != nil {
				s.pprof = string(m[1])
			}
		}
		if s.url != "" {
			if resp, err := http.Get(s.url + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return s, nil
				}
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("callme exited before it was healthy:\n%s", s.logTail(30))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("callme not healthy after 90s:\n%s", s.logTail(30))
		}
	}
}

func (s *server) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop ends the server with SIGTERM (then SIGKILL after 15 s).
func (s *server) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		// Surface the server's errors: a failed request says little by itself.
		b, _ := os.ReadFile(s.logPath)
		var errs []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "level=ERROR") && len(errs) < 10 {
				errs = append(errs, line)
			}
		}
		if len(errs) > 0 {
			fmt.Fprintf(os.Stderr, "callme (pid %d) logged errors:\n%s\n", s.pid, strings.Join(errs, "\n"))
		}
	})
}

// metrics reads the server's Prometheus metrics, summed by name.
func (s *server) metrics(ctx context.Context) (map[string]float64, error) {
	return scrapeMetrics(ctx, s.url+"/metrics")
}

func scrapeMetrics(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// procStat is a process's resident memory and CPU time from /proc.
type procStat struct {
	RSSKB int64
	CPU   float64 // user+system seconds
}

func readProc(pid int) (procStat, error) {
	p, err := procstat.Read(pid)
	return procStat{RSSKB: p.RSSKB, CPU: p.CPU.Seconds()}, err
}

// machine describes where the figures come from.
func (e *env) machine(ctx context.Context) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if i := strings.IndexByte(line, ':'); i >= 0 {
					model = strings.TrimSpace(line[i+1:])
				}
				break
			}
		}
	}
	nproc := strconv.Itoa(runtime.NumCPU())
	if b, err := exec.Command("nproc").Output(); err == nil {
		nproc = strings.TrimSpace(string(b))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GB RAM", float64(kb)/1024/1024)
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	var version string
	_ = e.admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version)
	return fmt.Sprintf("%s cores (nproc) %s%s, Linux %s, %s, MariaDB %s",
		nproc, model, mem, strings.TrimSpace(string(kernel)), runtime.Version(), version)
}

// startProfile takes a CPU profile of srv for d after delay, in the
// background; nil without -pprof.
func (e *env) startProfile(ctx context.Context, srv *server, delay, d time.Duration, name string) <-chan string {
	if !e.o.pprof || srv == nil || srv.pprof == "" {
		return nil
	}
	ch := make(chan string, 1)
	go func() {
		time.Sleep(delay)
		top, err := e.pprofCPU(ctx, srv, max(1, int(d.Seconds())), name)
		if err != nil {
			top = "profile " + name + ": " + err.Error()
		}
		ch <- top
	}()
	return ch
}

// pprofCPU saves a CPU profile of a pprof-enabled server for secs seconds and
// returns its top functions (go tool pprof -top).
func (e *env) pprofCPU(ctx context.Context, s *server, secs int, name string) (string, error) {
	if s.pprof == "" {
		return "", errors.New("server has no pprof listener")
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.pprof, secs), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	dir := filepath.Join(e.root, "bench", "profiles")
	_ = os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", e.pprofBin, path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %v\n%s", err, out)
	}
	cum, _ := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", e.pprofBin, path).CombinedOutput()
	res := fmt.Sprintf("profile saved to %s\n%s\n--- by cumulative ---\n%s", path, out, cum)
	_ = os.WriteFile(filepath.Join(dir, name+".top.txt"), []byte(res), 0o644)
	return res, nil
}

// pprofMemory saves the heap and goroutine profiles of a pprof-enabled
// server and returns a summary: where the memory per subscriber goes.
func (e *env) pprofMemory(ctx context.Context, s *server, name string) string {
	if s == nil || s.pprof == "" {
		return ""
	}
	dir := filepath.Join(e.root, "bench", "profiles")
	_ = os.MkdirAll(dir, 0o755)
	var out strings.Builder
	for _, p := range []struct{ path, file string }{
		{"/debug/pprof/heap?gc=1", name + "-heap.pprof"},
		{"/debug/pprof/goroutine?debug=1", name + "-goroutines.txt"},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.pprof+p.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = os.WriteFile(filepath.Join(dir, p.file), b, 0o644)
	}
	heap := filepath.Join(dir, name+"-heap.pprof")
	top, _ := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=20", e.pprofBin, heap).CombinedOutput()
	out.WriteString("--- heap in use ---\n")
	out.Write(top)
	// The goroutine profile's first lines per stack: "N @ 0x…" then frames.
	b, _ := os.ReadFile(filepath.Join(dir, name+"-goroutines.txt"))
	out.WriteString("--- goroutines by stack (count, top frame) ---\n")
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if strings.Contains(line, " @ 0x") {
			n := strings.Fields(line)[0]
			frame := ""
			for _, l := range lines[i+1:] {
				if strings.HasPrefix(l, "#") {
					f := strings.Fields(l)
					if len(f) >= 3 && !strings.HasPrefix(f[2], "runtime.") && !strings.HasPrefix(f[2], "internal/") {
						frame = f[2]
						break
					}
				} else {
					break
				}
			}
			if c, _ := strconv.Atoi(n); c >= 50 {
				fmt.Fprintf(&out, "%6s  %s\n", n, frame)
			}
		}
	}
	res := out.String()
	_ = os.WriteFile(filepath.Join(dir, name+"-memory.txt"), []byte(res), 0o644)
	return res
}
