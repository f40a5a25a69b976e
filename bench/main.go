// Command bench measures callme against same-run baselines (issue 8):
//
//	go run ./bench issue    # fetch through GraphQL vs the raw SQL transaction
//	go run ./bench issue-sqlite  # the same on the embedded SQLite default
//	go run ./bench query    # sellers+menus and queue vs a plain net/http handler
//	go run ./bench fanout   # calledNumbers to 1k/5k(/10k) sockets vs a plain WebSocket hub
//	go run ./bench storm    # 5k subscribers reconnect within 10 s and resume with `after`
//	go run ./bench all      # all four (about 8 minutes on 2 cores)
//	go run ./bench purge    # fetch latency while the retention sweep deletes 1M old rows
//	go run ./bench fanout -smoke   # CI: 1k subscribers, 10 s, no baseline, no BENCHMARKS.md
//
// Each scenario builds callme once, starts it as a separate process on
// loopback against a fresh MariaDB database (dropped at the end), drives it,
// runs its baseline in the same command, prints a table (ratio to the
// baseline plus absolute figures) and replaces its section of BENCHMARKS.md.
// Every phase is bounded in time and count. The WebSocket load generator and
// the baselines run as subprocesses of this binary (hidden modes below), so
// the server's RSS and CPU figures are its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // business days are in Asia/Shanghai, as in the server
)

const usage = `usage: go run ./bench <scenario> [flags]

scenarios:
  issue    fetch through GraphQL with 1/8/32/128 clients (1 hot seller, 20 sellers)
           vs the same transaction run by a plain database/sql client
  issue-sqlite
           issue on callme's embedded default, a SQLite file, vs the same
           transaction and the minimal one from a plain database/sql client
  query    sellers(with menus) and queue(with tickets+sellers) vs a plain net/http
           handler running the same SQL; SQL statements per request by page size
  fanout   calledNumbers to K subscribers over 20 sellers, one call per second per
           seller, vs a minimal WebSocket broadcast server (same library)
  storm    5k subscribers drop and reconnect within 10 s, resuming with after
  all      issue, query, fanout, storm
  purge    fetch p50/p99 while the retention sweep deletes 1M old call events,
           vs the same load with the sweep off (not part of all)

flags (all scenarios):
`

// Errors that make the exit status non-zero after the table is printed:
// duplicates, lost or duplicated events, failed requests.
var errCheckFailed = errors.New("a correctness check failed (see above)")

func main() {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		// Hidden modes: subprocesses started by the scenarios.
		case "_fanout-client":
			fatal(fanoutClientMain())
			return
		case "_ws-baseline":
			fatal(wsBaselineMain(os.Args[2:]))
			return
		case "_query-baseline":
			fatal(queryBaselineMain(os.Args[2:]))
			return
		}
	}
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprint(os.Stderr, usage)
		newFlags(&options{}).PrintDefaults()
		os.Exit(2)
	}
	scenario := os.Args[1]
	var o options
	fs := newFlags(&o)
	if err := fs.Parse(os.Args[2:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	run := map[string]func(context.Context, *env) error{
		"issue":        runIssue,
		"issue-sqlite": func(ctx context.Context, e *env) error { return runIssueOn(ctx, e, true) },
		"query":        runQuery,
		"fanout":       runFanout,
		"storm":        runStorm,
		"purge":        runPurge,
	}
	var todo []string
	switch scenario {
	case "all":
		todo = []string{"issue", "query", "fanout", "storm"}
	case "issue", "issue-sqlite", "query", "fanout", "storm", "purge":
		todo = []string{scenario}
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown scenario %q\n\n%s", scenario, usage)
		os.Exit(2)
	}
	if o.smoke && scenario != "fanout" {
		fmt.Fprintln(os.Stderr, "bench: -smoke applies to fanout only")
		os.Exit(2)
	}

	// A closed stdout (| head) must not skip the clean-up of servers and databases.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A hard bound on the whole command, whatever happens.
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	e, err := newEnv(ctx, o, scenario)
	if err != nil {
		fatal(err)
	}
	started := time.Now()
	var failed []string
	for _, name := range todo {
		if ctx.Err() != nil {
			break
		}
		fmt.Printf("\n=== %s\n", name)
		t0 := time.Now()
		e.loadAt = loadavg()
		if err := run[name](ctx, e); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
			failed = append(failed, name)
		}
		fmt.Printf("(%s: %s)\n", name, time.Since(t0).Round(time.Second))
	}
	e.close()
	fmt.Printf("\ntotal: %s\n", time.Since(started).Round(time.Second))
	if ctx.Err() != nil && len(failed) == 0 {
		fmt.Fprintln(os.Stderr, "bench: stopped:", context.Cause(ctx))
		os.Exit(1)
	}
	if len(failed) > 0 {
		fmt.Fprintf(os.Stderr, "bench: failed: %s\n", strings.Join(failed, ", "))
		os.Exit(1)
	}
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command-line flags shared by every scenario.
type options struct {
	mysql       string
	dbName      string
	duration    time.Duration
	subscribers string
	stormSubs   int
	clients     string
	sellers     int
	purgeRows   int
	noWrite     bool
	smoke       bool
	redis       string
	pprof       bool
	rounds      int
	out         string
	timeout     time.Duration
	verbose     bool
	dsnParams   string
}

func newFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.mysql, "mysql", envOr("BENCH_MYSQL", "root@tcp(127.0.0.1:3306)/"), "MariaDB/MySQL server DSN without a database ($BENCH_MYSQL)")
	fs.StringVar(&o.dbName, "db", "callme_bench", "database name prefix; each server gets <db>_<pid>, dropped at the end")
	fs.DurationVar(&o.duration, "duration", 0, "measuring time of each point (default: issue 8s, query 8s, fanout 20s of calls, storm 10s storm window)")
	fs.StringVar(&o.subscribers, "subscribers", "", "fanout: comma-separated subscriber counts, e.g. 1000,5000,10000 (default 1000,5000; -smoke 1000)")
	fs.IntVar(&o.stormSubs, "storm-subscribers", 5000, "storm: subscribers")
	fs.StringVar(&o.clients, "clients", "1,8,32,128", "issue: comma-separated concurrent clients")
	fs.IntVar(&o.rounds, "rounds", 4, "issue, query: alternating rounds per point; each side runs -duration/rounds per round, so a change in the box's speed reaches every side alike")
	fs.IntVar(&o.sellers, "sellers", 20, "sellers (stalls) the load spreads over")
	fs.IntVar(&o.purgeRows, "purge-rows", 1_000_000, "purge: old call events the sweep deletes")
	fs.BoolVar(&o.noWrite, "no-write", false, "print only; do not update BENCHMARKS.md")
	fs.BoolVar(&o.smoke, "smoke", false, "fanout: CI smoke (1k subscribers, 10 s, no baseline, no thresholds, never writes BENCHMARKS.md)")
	fs.StringVar(&o.redis, "redis", "", "fanout/storm: run callme with this Redis broker URL (e.g. redis://127.0.0.1:6379/0)")
	fs.BoolVar(&o.pprof, "pprof", false, "fanout/issue: build callme with net/http/pprof (via -overlay, no repo change) and save a CPU profile of the server")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown file (relative to the repository root) whose sections are replaced")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "hard bound on the whole command")
	fs.BoolVar(&o.verbose, "v", false, "print the SQL statements of one request of each kind")
	// callme always interpolates parameters (internal/store); the baselines
	// get the same setting by default so the comparison stays fair.
	fs.StringVar(&o.dsnParams, "dsn-params", "interpolateParams=true", "extra go-sql-driver DSN parameters for callme and the baselines alike")
	return fs
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
