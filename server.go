// Command callme serves canteen "take a number" pickup calling over GraphQL.
//
//	go run .            # SQLite in ./callme.db, dev login, playground at http://localhost:8080/
//	go run . --help     # every setting, with its environment variable
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve on machines without tzdata

	"callme/graph"
	"callme/graph/persisted"
	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/media"
	"callme/internal/model"
	"callme/internal/store"
	"callme/internal/wechat"
	"callme/internal/wxpush"
	"callme/web"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/formatter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		code := exitCode(err)
		if msg := err.Error(); code != 0 && msg != "" {
			fmt.Fprintln(os.Stderr, "callme:", msg)
		}
		os.Exit(code)
	}
}

// defaultMetricsAddr serves /metrics in production: loopback, for a
// Prometheus or agent on the same host; elsewhere set an internal address.
const defaultMetricsAddr = "127.0.0.1:9090"

// config is every setting, from flags with environment fallbacks.
type config struct {
	Addr             string
	DB               string
	DBMaxConns       int
	GCPercent        int
	Production       bool
	Admins           string
	TimeZone         string
	DayStartHour     int
	SessionIdle      time.Duration
	SessionCache     time.Duration
	PublicCache      time.Duration
	QueryPlans       bool
	MaxActiveTickets int
	AllowedOrigins   string
	WeChatBaseURL    string
	CustomerAppID    string
	CustomerSecret   string
	SellerAppID      string
	SellerSecret     string
	LogLevel         string
	ShutdownTimeout  time.Duration
	WSKeepAlive      time.Duration
	RecallGap        time.Duration
	Redis            string
	NotifyTemplate   string
	NotifyPage       string
	NotifyFields     string
	NotifyState      string
	PhotoDir         string
	PhotoMaxBytes    int
	PublicURL        string
	QRPage           string
	MaxBodyBytes     int
	Limits           graph.Limits
	SocketLimits     graph.SocketLimits
	HTTPTimeouts     httpTimeouts
	MetricsAddr      string
	TrustProxy       bool
	Documents        persisted.Mode
	// Content security (issue 17): msg_sec_check / media_check_async.
	CsecWait        time.Duration
	CsecTextPerMin  int
	CsecImagePerMin int
	PushPath        string
	PushToken       string
	PushAESKey      string

	// The data lifecycle (README "What callme keeps").
	RetentionDays, PersonalDataDays int
	SweepEvery, SweepPause          time.Duration
	SweepBatch                      int

	// ConsoleLoginsPerMinute bounds scan-to-log-in starts per client
	// address (0: no limit).
	ConsoleLoginsPerMinute int

	// Not flags: set by tests.
	now      func() time.Time
	sqlHook  func(query string)
	sqlFault func(query string) error
	// sessionCheck is how often running subscriptions re-check their
	// session (default a minute).
	sessionCheck time.Duration
	// consoleLoginTTL shortens scan-to-log-in challenges (default 2 minutes).
	consoleLoginTTL time.Duration
}

// parseConfig reads flags; each flag's default comes from its environment
// variable, so `CALLME_DB=… go run .` and `go run . -db …` are the same.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ($"+env+")")
	}
	var errs []error
	num := func(p *int, name, env string, def int, usage string) {
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not a number", env, v))
			}
			def = n
		}
		fs.IntVar(p, name, def, usage+" ($"+env+")")
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not a duration like 30m", env, v))
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" ($"+env+")")
	}
	prod := getenv("CALLME_PRODUCTION")
	fs.BoolVar(&c.Production, "production", prod == "1" || strings.EqualFold(prod, "true"),
		"production mode: no playground, no introspection, no dev login ($CALLME_PRODUCTION)")
	var documents string
	str(&documents, "documents", "CALLME_DOCUMENTS", "", "which documents run: trusted (only the shipped ones, except for admins) or any (default: trusted with -production, else any)")
	str(&c.Addr, "addr", "CALLME_ADDR", ":8080", "listen address")
	str(&c.MetricsAddr, "metrics-addr", "CALLME_METRICS_ADDR", "", "address serving /metrics alone (default "+defaultMetricsAddr+" with -production; otherwise /metrics is on -addr)")
	str(&c.DB, "db", "CALLME_DB", "sqlite:callme.db", "database: sqlite:PATH or mysql://user:pass@tcp(host:3306)/callme")
	str(&c.Redis, "redis", "CALLME_REDIS", "", "Redis URL (redis://host:6379/0) to fan events out across instances, or Sentinels (redis://sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379); empty: in-process")
	num(&c.GCPercent, "gc-percent", "CALLME_GC_PERCENT", 400, "how far the heap grows, in percent of live memory, before the garbage collector runs (Go's default is 100; callme's answers are short-lived garbage, so more room costs memory and saves CPU); $GOGC, when set, wins")
	num(&c.DBMaxConns, "db-max-conns", "CALLME_DB_MAX_CONNS", 16, "database pool size (MySQL: two pools of this size, transactions and plain statements; SQLite: readers, writes use one connection)")
	str(&c.Admins, "admins", "CALLME_ADMINS", "", "comma-separated admin openids (default \"admin\" unless -production)")
	str(&c.TimeZone, "timezone", "CALLME_TIMEZONE", "Asia/Shanghai", "time zone of business days")
	num(&c.DayStartHour, "day-start-hour", "CALLME_DAY_START_HOUR", 4, "local hour (0-23) at which a business day and its numbering start")
	dur(&c.SessionIdle, "session-idle", "CALLME_SESSION_IDLE", 30*time.Minute, "sessions expire after this long without requests")
	dur(&c.SessionCache, "session-cache", "CALLME_SESSION_CACHE", 5*time.Minute, "how long an instance reuses a session it looked up (logouts clear it on every instance through the broker; 0: look up every request)")
	dur(&c.PublicCache, "public-cache", "CALLME_PUBLIC_CACHE", time.Second, "how long an instance may answer a repeated public read of stalls, menus and queue lengths (anonymous callers and customers) from memory; a write to a stall, menu, ticket or call drops what it affects on every instance through the broker (0: off)")
	num(&c.RetentionDays, "retention-days", "CALLME_RETENTION_DAYS", 90, "days call history, notifications and their grants are kept (at least 2)")
	num(&c.PersonalDataDays, "personal-data-days", "CALLME_PERSONAL_DATA_DAYS", 180, "days tickets keep their note and owner (at least 2)")
	dur(&c.SweepEvery, "sweep-every", "CALLME_SWEEP_EVERY", time.Hour, "how often an instance tries to delete what is past retention (0: never)")
	num(&c.SweepBatch, "sweep-batch", "CALLME_SWEEP_BATCH", 500, "rows per statement of the retention sweep")
	dur(&c.SweepPause, "sweep-pause", "CALLME_SWEEP_PAUSE", 100*time.Millisecond, "pause between two batches of the retention sweep")
	num(&c.MaxActiveTickets, "max-active-tickets", "CALLME_MAX_ACTIVE_TICKETS", 3, "active tickets a customer may hold per day")
	str(&c.AllowedOrigins, "allowed-origins", "CALLME_ALLOWED_ORIGINS", "", "comma-separated extra browser origins (host patterns) allowed to open WebSockets")
	str(&c.WeChatBaseURL, "wechat-base-url", "CALLME_WECHAT_BASE_URL", "https://api.weixin.qq.com", "WeChat server API base URL")
	str(&c.CustomerAppID, "customer-appid", "CALLME_CUSTOMER_APPID", "", "customer mini-program appid")
	str(&c.CustomerSecret, "customer-secret", "CALLME_CUSTOMER_SECRET", "", "customer mini-program appsecret")
	str(&c.SellerAppID, "seller-appid", "CALLME_SELLER_APPID", "", "seller mini-program appid")
	str(&c.SellerSecret, "seller-secret", "CALLME_SELLER_SECRET", "", "seller mini-program appsecret")
	str(&c.NotifyTemplate, "notify-template", "CALLME_NOTIFY_TEMPLATE", "", "subscribe-message template id of the pickup notification; empty: none sent")
	str(&c.NotifyPage, "notify-page", "CALLME_NOTIFY_PAGE", "pages/ticket/index", "mini-program page a notification opens")
	str(&c.NotifyFields, "notify-fields", "CALLME_NOTIFY_FIELDS", "thing1=stall,character_string2=code,thing3=pickupNote", "template data keys = stall|code|number|note|pickupNote")
	str(&c.NotifyState, "notify-state", "CALLME_NOTIFY_STATE", "formal", "miniprogram_state of notifications: formal, trial or developer")
	str(&c.PhotoDir, "photo-dir", "CALLME_PHOTO_DIR", "", "where stall photos are stored (default: photos/ beside the SQLite file, else ./photos)")
	num(&c.PhotoMaxBytes, "photo-max-bytes", "CALLME_PHOTO_MAX_BYTES", 512<<10, "largest stall photo upload")
	str(&c.PublicURL, "public-url", "CALLME_PUBLIC_URL", "http://localhost:8080", "the URL people reach this server at (QR codes without WeChat)")
	str(&c.QRPage, "qr-page", "CALLME_QR_PAGE", "pages/stall/index", "customer mini-program page a stall's code opens")
	str(&c.LogLevel, "log-level", "CALLME_LOG_LEVEL", "info", "debug, info, warn or error")
	dur(&c.WSKeepAlive, "ws-keepalive", "CALLME_WS_KEEPALIVE", 15*time.Second, "WebSocket keep-alive ping interval (keeps NATs from dropping idle phones)")
	dur(&c.RecallGap, "recall-gap", "CALLME_RECALL_GAP", 5*time.Second, "minimum time between two calls of the same ticket")
	num(&c.MaxBodyBytes, "max-body-bytes", "CALLME_MAX_BODY_BYTES", 1<<20, "largest request body (413 beyond)")
	num(&c.Limits.MaxDepth, "max-depth", "CALLME_MAX_DEPTH", 12, "deepest query nesting")
	num(&c.Limits.MaxComplexity, "max-complexity", "CALLME_MAX_COMPLEXITY", 40000, "points of work one operation may cost (lists cost their page size or stated maximum)")
	num(&c.Limits.MaxTokens, "max-tokens", "CALLME_MAX_TOKENS", 15000, "parser token limit per query document")
	num(&c.Limits.MaxFields, "max-fields", "CALLME_MAX_FIELDS", 2000, "fields of one operation with its fragments expanded")
	num(&c.Limits.MaxRootFields, "max-root-fields", "CALLME_MAX_ROOT_FIELDS", 20, "root fields (aliases included) of one operation")
	num(&c.Limits.MaxFragmentSpreads, "max-fragment-spreads", "CALLME_MAX_FRAGMENT_SPREADS", 100, "fragment spreads in one document")
	num(&c.Limits.MaxSubsPerSocket, "max-subscriptions-per-socket", "CALLME_MAX_SUBSCRIPTIONS_PER_SOCKET", 20, "subscriptions one WebSocket may hold")
	num(&c.SocketLimits.MaxSockets, "max-sockets", "CALLME_MAX_SOCKETS", 10000, "open WebSockets in all (429 beyond)")
	num(&c.SocketLimits.MaxSocketsPerAddress, "max-sockets-per-address", "CALLME_MAX_SOCKETS_PER_ADDRESS", 4000, "open WebSockets per client address (a campus may share one NAT address)")
	num(&c.SocketLimits.MaxSubscriptions, "max-subscriptions", "CALLME_MAX_SUBSCRIPTIONS", 20000, "active subscriptions in all")
	num(&c.SocketLimits.MaxSubsPerAddress, "max-subscriptions-per-address", "CALLME_MAX_SUBSCRIPTIONS_PER_ADDRESS", 8000, "active subscriptions per client address")
	dur(&c.HTTPTimeouts.ReadHeader, "read-header-timeout", "CALLME_READ_HEADER_TIMEOUT", 10*time.Second, "time to read a request's headers")
	dur(&c.HTTPTimeouts.Read, "read-timeout", "CALLME_READ_TIMEOUT", 30*time.Second, "time to read a whole request, body included (WebSockets are exempt)")
	dur(&c.HTTPTimeouts.Write, "write-timeout", "CALLME_WRITE_TIMEOUT", 30*time.Second, "time from a request's headers to the end of its answer; longer than -request-timeout (WebSockets are exempt)")
	dur(&c.HTTPTimeouts.Idle, "idle-timeout", "CALLME_IDLE_TIMEOUT", 30*time.Second, "how long an idle keep-alive connection stays open")
	wsMsg := 64 << 10
	num(&wsMsg, "max-ws-message-bytes", "CALLME_MAX_WS_MESSAGE_BYTES", wsMsg, "largest WebSocket message from a client")
	dur(&c.Limits.RequestTimeout, "request-timeout", "CALLME_REQUEST_TIMEOUT", 15*time.Second, "deadline of one HTTP request")
	var ipLogins, ipMuts, sessMuts int
	num(&ipLogins, "rate-ip-logins", "CALLME_RATE_IP_LOGINS", 20, "logins per second per client address (a campus may share one NAT address)")
	num(&ipMuts, "rate-ip-mutations", "CALLME_RATE_IP_MUTATIONS", 50, "mutations per second per client address")
	num(&c.Limits.IPBurst, "rate-ip-burst", "CALLME_RATE_IP_BURST", 200, "burst allowance per client address")
	num(&sessMuts, "rate-session-mutations", "CALLME_RATE_SESSION_MUTATIONS", 5, "mutations per second per session")
	num(&c.Limits.SessionBurst, "rate-session-burst", "CALLME_RATE_SESSION_BURST", 30, "burst allowance per session")
	num(&c.ConsoleLoginsPerMinute, "rate-ip-console-logins", "CALLME_RATE_IP_CONSOLE_LOGINS", 10, "staff console scan-to-log-in starts per minute per client address (0: no limit)")
	var ipPoints, userPoints, sockPoints int
	num(&ipPoints, "budget-ip", "CALLME_BUDGET_IP", graph.DefaultIPPointsPerSec, "points of work per second per client address (a campus may share one NAT address)")
	num(&c.Limits.IPPointsBurst, "budget-ip-burst", "CALLME_BUDGET_IP_BURST", graph.DefaultIPPointsBurst, "points of burst per client address")
	num(&userPoints, "budget-user", "CALLME_BUDGET_USER", graph.DefaultUserPointsPerSec, "points of work per second per user (all their sessions)")
	num(&c.Limits.UserPointsBurst, "budget-user-burst", "CALLME_BUDGET_USER_BURST", graph.DefaultUserPointsBurst, "points of burst per user")
	num(&sockPoints, "budget-socket", "CALLME_BUDGET_SOCKET", graph.DefaultSocketPointsPerSec, "points of work per second per WebSocket")
	num(&c.Limits.SocketPointsBurst, "budget-socket-burst", "CALLME_BUDGET_SOCKET_BURST", graph.DefaultSocketPointsBurst, "points of burst per WebSocket")
	plans := getenv("CALLME_QUERY_PLANS")
	fs.BoolVar(&c.QueryPlans, "query-plans", plans == "" || plans == "1" || strings.EqualFold(plans, "true"),
		"run each query document by a plan compiled once, falling back to gqlgen's executor on any error (false: gqlgen only) ($CALLME_QUERY_PLANS)")
	trust := getenv("CALLME_TRUST_PROXY")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", trust == "1" || strings.EqualFold(trust, "true"),
		"take client addresses from X-Forwarded-For (only behind a proxy that sets it) ($CALLME_TRUST_PROXY)")
	dur(&c.CsecWait, "csec-wait", "CALLME_CSEC_WAIT", 300*time.Millisecond, "longest a mutation waits for WeChat's content check before storing the text and checking it later")
	num(&c.CsecTextPerMin, "csec-text-per-minute", "CALLME_CSEC_TEXT_PER_MINUTE", 4000, "text checks per app and minute (WeChat allows 4000), across instances when -redis is set")
	num(&c.CsecImagePerMin, "csec-image-per-minute", "CALLME_CSEC_IMAGE_PER_MINUTE", 2000, "image checks per app and minute (WeChat allows 2000), across instances when -redis is set")
	str(&c.PushPath, "wechat-push-path", "CALLME_WECHAT_PUSH_PATH", "/wechat/push", "path of the WeChat message-push endpoint (image check verdicts)")
	str(&c.PushToken, "wechat-push-token", "CALLME_WECHAT_PUSH_TOKEN", "", "message-push token of the mini-program console; empty: no push endpoint, photos publish unchecked")
	str(&c.PushAESKey, "wechat-push-aes-key", "CALLME_WECHAT_PUSH_AES_KEY", "", "EncodingAESKey (43 characters) for safe-mode pushes; empty: plaintext pushes")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "CALLME_SHUTDOWN_TIMEOUT", 10*time.Second, "how long to finish requests on shutdown")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError("%v", err)
	}
	if fs.NArg() > 0 { // `callme backup x` must not start a server
		return c, usageError("unknown command or stray argument %q", fs.Arg(0))
	}
	c.Limits.MaxWSMessageBytes = int64(wsMsg)
	c.Limits.IPLoginsPerSec, c.Limits.IPMutationsPerSec = float64(ipLogins), float64(ipMuts)
	c.Limits.SessionMutsPerSec = float64(sessMuts)
	c.Limits.IPPointsPerSec, c.Limits.UserPointsPerSec = float64(ipPoints), float64(userPoints)
	c.Limits.SocketPointsPerSec = float64(sockPoints)
	c.Limits.TrustForwardedFor = c.TrustProxy
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.MetricsAddr == "" && c.Production {
		c.MetricsAddr = defaultMetricsAddr
	}
	if c.Admins == "" && !c.Production {
		c.Admins = "admin"
	}
	if documents == "" {
		documents = string(persisted.Any)
		if c.Production {
			documents = string(persisted.Trusted)
		}
	}
	var err error
	if c.Documents, err = persisted.ParseMode(documents); err != nil {
		return c, fmt.Errorf("-documents: %w", err)
	}
	if c.HTTPTimeouts.Write <= c.Limits.RequestTimeout {
		return c, fmt.Errorf("-write-timeout (%s) must be longer than -request-timeout (%s), or a late answer is cut off", c.HTTPTimeouts.Write, c.Limits.RequestTimeout)
	}
	if c.DayStartHour < 0 || c.DayStartHour > 23 {
		return c, fmt.Errorf("-day-start-hour must be 0..23, got %d", c.DayStartHour)
	}
	if c.GCPercent < 1 {
		return c, fmt.Errorf("-gc-percent must be at least 1, got %d", c.GCPercent)
	}
	// $GOGC wins over -gc-percent, and the runtime silently takes 100 for
	// one it cannot read: say so rather than run at a target nobody set.
	if v := getenv("GOGC"); v != "" && v != "off" {
		if _, err := strconv.Atoi(v); err != nil {
			return c, fmt.Errorf("$GOGC must be a whole number or off (it overrides -gc-percent), got %q; unset it to use -gc-percent", v)
		}
	}
	if c.RetentionDays < 2 || c.PersonalDataDays < 2 {
		return c, fmt.Errorf("-retention-days and -personal-data-days must be at least 2 (today's and yesterday's calls are always kept), got %d and %d", c.RetentionDays, c.PersonalDataDays)
	}
	return c, nil
}

// limits are the request limits, on the test clock when one is set.
func (c config) limits() graph.Limits {
	l := c.Limits
	if l.Now == nil {
		l.Now = c.now
	}
	return l
}

func (c config) wechatApps() map[model.App]wechat.AppCredentials {
	apps := map[model.App]wechat.AppCredentials{}
	if c.CustomerAppID != "" && c.CustomerSecret != "" {
		apps[model.AppCustomer] = wechat.AppCredentials{AppID: c.CustomerAppID, Secret: c.CustomerSecret}
	}
	if c.SellerAppID != "" && c.SellerSecret != "" {
		apps[model.AppSeller] = wechat.AppCredentials{AppID: c.SellerAppID, Secret: c.SellerSecret}
	}
	return apps
}

// notify is the pickup notification's configuration; it needs the customer
// app's credentials to send.
func (c config) notify() canteen.NotifyConfig {
	if c.NotifyTemplate == "" || c.wechatApps()[model.AppCustomer].AppID == "" {
		return canteen.NotifyConfig{}
	}
	fields := map[string]string{}
	for _, kv := range splitList(c.NotifyFields) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return canteen.NotifyConfig{TemplateID: c.NotifyTemplate, Page: c.NotifyPage, State: c.NotifyState, Fields: fields}
}

// retention is the data lifecycle's configuration.
func (c config) retention() canteen.Retention {
	r := canteen.Retention{
		Records:      time.Duration(c.RetentionDays) * 24 * time.Hour,
		PersonalData: time.Duration(c.PersonalDataDays) * 24 * time.Hour,
		Every:        c.SweepEvery,
		Batch:        c.SweepBatch,
		Pause:        c.SweepPause,
	}
	if r.Every <= 0 {
		r.Every = -1 // off
	}
	if r.Pause <= 0 {
		r.Pause = -1 // none
	}
	return r
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// contentSecurity configures WeChat's content checks: on with WeChat
// credentials, photos too with a push token (their verdicts come by push).
// Without credentials (dev login) it says once that checks are off.
func (c config) contentSecurity(wx *wechat.Client, log *slog.Logger) (canteen.ContentConfig, *wxpush.Handler, error) {
	if wx == nil {
		log.Warn("content security is off: without WeChat credentials nothing users write or upload is checked")
		return canteen.ContentConfig{}, nil, nil
	}
	cc := canteen.ContentConfig{Checker: wx, Wait: c.CsecWait}
	if c.PushToken == "" {
		log.Warn("photo content checks are off: set -wechat-push-token (and the push URL in the console) to check stall photos")
		return cc, nil, nil
	}
	var appIDs []string
	for _, cred := range c.wechatApps() {
		appIDs = append(appIDs, cred.AppID)
	}
	h, err := wxpush.New(wxpush.Options{Token: c.PushToken, EncodingAESKey: c.PushAESKey, AppIDs: appIDs, Now: c.now, Logger: log})
	if err != nil {
		return cc, nil, fmt.Errorf("-wechat-push-token/-wechat-push-aes-key: %w", err)
	}
	if !strings.HasPrefix(c.PushPath, "/") {
		return cc, nil, fmt.Errorf("-wechat-push-path must start with /, got %q", c.PushPath)
	}
	cc.Photos = true
	return cc, h, nil
}

// app is a wired callme: the database, the domain and the HTTP routes.
type app struct {
	handler http.Handler
	metrics http.Handler // Prometheus; also on handler without a metrics address
	db      *store.DB
	svc     *canteen.Service
	broker  events.Broker
	closers []func() error
	// background runs until the server stops (the notification sender).
	background []func(context.Context)
	// shutting is set when the server starts shutting down.
	shutting atomic.Bool
	sockets  graph.Sockets
}

func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(append(errs, a.db.Close())...)
}

// newApp wires callme from cfg.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: %w", cfg.TimeZone, err)
	}
	apps := cfg.wechatApps()
	devLogin := len(apps) == 0 && !cfg.Production
	if len(apps) == 0 && cfg.Production {
		return nil, errors.New("production mode needs WeChat credentials (-customer-appid/-customer-secret, -seller-appid/-seller-secret): dev login is off")
	}
	db, err := store.Open(ctx, cfg.DB, store.Options{MaxOpenConns: cfg.DBMaxConns, Hook: cfg.sqlHook, Fault: cfg.sqlFault, Logger: log})
	if err != nil {
		return nil, err
	}
	var wx canteen.WeChat
	var wxClient *wechat.Client
	if len(apps) > 0 {
		wxClient = wechat.New(wechat.Config{BaseURL: cfg.WeChatBaseURL, Apps: apps, Logger: log,
			TextChecksPerMinute: cfg.CsecTextPerMin, ImageChecksPerMinute: cfg.CsecImagePerMin})
		wx = wxClient
	}
	content, pushHandler, err := cfg.contentSecurity(wxClient, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &app{db: db}
	photoDir := cfg.PhotoDir
	if photoDir == "" {
		photoDir = "photos"
		if !strings.HasPrefix(cfg.DB, "mysql://") {
			photoDir = filepath.Join(filepath.Dir(store.SQLitePath(cfg.DB)), "photos")
		}
	}
	photos, err := media.NewDiskStore(photoDir)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("photo directory: %w", err)
	}
	mediaCfg := canteen.MediaConfig{Photos: photos, PhotoMaxBytes: int64(cfg.PhotoMaxBytes), PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"), QRPage: cfg.QRPage}
	if wxClient != nil && wxClient.Configured(model.AppCustomer) {
		mediaCfg.Coder = wxClient
	}
	var (
		broker  events.Broker
		local   *events.Local
		rdb     *events.Redis
		hydrate func(context.Context, events.Event) (events.Event, error)
	)
	if cfg.Redis != "" {
		client, err := redisClient(cfg.Redis)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("-redis: %w", err)
		}
		rdb = events.NewRedis(client, events.RedisOptions{
			Hydrate: func(ctx context.Context, ev events.Event) (events.Event, error) { return hydrate(ctx, ev) },
			Logger:  log,
		})
		broker = rdb
		a.closers = append(a.closers, client.Close, rdb.Close)
		if wxClient != nil {
			// Instances share one content-check quota per app.
			wxClient.ShareQuotas(redisCounter{client})
		}
	} else {
		local = events.NewLocal(64)
		broker = local
	}
	a.broker = broker
	delivery := newDeliveryHistogram()
	svc := canteen.New(db.Client, db.Dialect, broker, wx, canteen.Config{
		Admins:           splitList(cfg.Admins),
		Location:         loc,
		DayStartHour:     cfg.DayStartHour,
		SessionIdle:      cfg.SessionIdle,
		SessionCacheTTL:  cfg.SessionCache,
		SessionCheck:     cfg.sessionCheck,
		MaxActiveTickets: cfg.MaxActiveTickets,
		DevLogin:         devLogin,
		RecallGap:        cfg.RecallGap,
		Notify:           cfg.notify(),
		Media:            mediaCfg,
		Content:          content,
		Retention:        cfg.retention(),
		Now:              cfg.now,
		CallDelivered:    func(d time.Duration) { delivery.Observe(d.Seconds()) },
		ConsoleLoginTTL:  cfg.consoleLoginTTL,
		ConsoleLoginsPerMinute: func() int {
			if cfg.ConsoleLoginsPerMinute <= 0 {
				return -1 // no limit
			}
			return cfg.ConsoleLoginsPerMinute
		}(),
	}, log)
	hydrate = svc.Hydrate
	a.svc = svc
	// Every instance runs the sweep; a lease in the database lets one work at a time.
	a.background = append(a.background, svc.RunLifecycle, svc.RunPublicChanges)
	if len(svc.NotificationTemplates()) > 0 {
		a.background = append(a.background, func(ctx context.Context) { svc.RunNotifier(ctx, wxClient, 5*time.Second) })
	}
	if content.Checker != nil {
		a.background = append(a.background, func(ctx context.Context) { svc.RunContentChecks(ctx, 5*time.Second) })
	}
	if devLogin {
		log.Warn("dev login is on: the code dev:<name> logs in as openid <name>; configure WeChat credentials or -production for real use")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.SQL(), db.Dialect),
	)
	if tx := db.TxSQL(); tx != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(tx, db.Dialect+"_tx"))
	}
	registerDomainMetrics(reg, svc, local, rdb)
	registerHealthMetrics(reg, svc, db, rdb, delivery)

	mux := http.NewServeMux()
	mux.Handle("/query", graph.NewHandler(svc, graph.Options{
		Introspection:  !cfg.Production,
		AllowedOrigins: splitList(cfg.AllowedOrigins),
		KeepAlive:      cfg.WSKeepAlive,
		MaxBodyBytes:   int64(cfg.MaxBodyBytes),
		Production:     cfg.Production,
		Limits:         cfg.limits(),
		SocketLimits:   cfg.SocketLimits,
		Metrics:        graph.NewMetrics(reg),
		ShuttingDown:   a.shutting.Load,
		Sockets:        &a.sockets,
		Logger:         log,
		Documents:      cfg.Documents,
		PublicCacheTTL: cfg.PublicCache,
		NoQueryPlans:   !cfg.QueryPlans,
	}))
	if !cfg.Production {
		mux.Handle("GET /{$}", web.Playground("/query"))
	}
	if pushHandler != nil {
		pushHandler.SetVerdicts(svc.MediaVerdict)
		mux.Handle(cfg.PushPath, pushHandler)
	}
	mux.Handle("GET /board/", web.Board())
	console := web.Console(devLogin)
	mux.Handle("GET /console", console)
	mux.Handle("GET /console/", console)
	mux.Handle("GET /t/", web.Ticket())
	mux.Handle("GET /photos/", media.ServePhotos(photos))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if a.shutting.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if err := db.Ping(ctx); err != nil {
			log.WarnContext(ctx, "not ready", "err", err)
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		if rdb != nil {
			if err := rdb.Ping(ctx); err != nil {
				log.WarnContext(ctx, "not ready", "err", err)
				http.Error(w, "redis unreachable", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	// The metrics tell anyone the Go version, memory, pool use, refusals per
	// operation and tickets issued: in production they are served only on
	// the internal metrics address (see run).
	a.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", a.metrics)
	}
	a.handler = mux
	return a, nil
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// run starts callme and serves until ctx ends, or runs one of the commands
// in usage. Anything it does not understand is a usage error (exit 2).
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		switch args[1] {
		case "schema":
			return printSchema(args[1:], stdout)
		case "healthcheck":
			if len(args) > 2 {
				return usageError("callme healthcheck takes no arguments")
			}
			return healthcheck(ctx, getenv, stdout)
		case "backup":
			return backup(ctx, args[2:], getenv, stdout)
		case "migrate":
			return migrate(ctx, args[2:], getenv, stdout)
		}
		return usageError("unknown command %q", args[1])
	}
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, stdout)
	if err != nil {
		return err
	}
	gcPercent := cfg.GCPercent
	if getenv("GOGC") == "" { // else the runtime took $GOGC, as Go programs do
		debug.SetGCPercent(cfg.GCPercent)
	} else {
		gcPercent = debug.SetGCPercent(-1)
		debug.SetGCPercent(gcPercent)
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("-metrics-addr: %w", err)
		}
	}
	// Subscriptions outlive Shutdown (hijacked connections); cancelling the
	// base context ends them.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := cfg.HTTPTimeouts.server(a.handler)
	srv.BaseContext = func(net.Listener) context.Context { return base }
	log.Info("callme listening", "url", "http://"+ln.Addr().String()+"/", "db", dbKind(cfg.DB), "production", cfg.Production, "gc_percent", gcPercent)
	// Background work (the notification sender) ends with base and is
	// joined before the deferred Close closes the database under it.
	var background sync.WaitGroup
	for _, bg := range a.background {
		background.Go(func() { bg(base) })
	}
	stopped, join := make(chan struct{}), true
	go func() { background.Wait(); close(stopped) }()
	defer func() {
		cancelBase()
		if join {
			<-stopped
		}
	}()
	errc := make(chan error, 2)
	if mln != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics)
		msrv := cfg.HTTPTimeouts.server(mux)
		defer msrv.Close()
		log.Info("metrics listening", "url", "http://"+mln.Addr().String()+"/metrics")
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop taking connections, finish requests in flight, then end the
	// subscriptions: their sockets close with 1001 so clients reconnect at
	// once (to another instance) and resume with `after`.
	log.Info("shutting down")
	a.shutting.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	cancelBase()
	a.waitSockets(sctx)
	// A message being sent is finished and recorded (it may already have
	// reached the user), within the shutdown timeout.
	select {
	case <-stopped:
	case <-sctx.Done():
		log.Warn("background work still running at the shutdown timeout; closing the database anyway")
		join = false
	}
	return err
}

// httpTimeouts bound each phase of an HTTP connection, so a client that
// sends its request or reads its answer slowly, or idles, lets go of its
// connection (and file descriptor). A WebSocket is exempt: net/http clears
// the deadlines when the upgrade hijacks the connection, and keep-alive pings
// find dead phones instead.
type httpTimeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

func (t httpTimeouts) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
	}
}

// healthcheck asks a callme on this machine (at $CALLME_ADDR) whether it is
// ready, for container health checks where no curl exists.
func healthcheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	addr := getenv("CALLME_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", res.Status)
	}
	_, err = io.WriteString(stdout, "ready\n")
	return err
}

// printSchema writes the full SDL that clients generate types from.
func printSchema(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	out := fs.String("o", "", "write to this file instead of stdout")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("callme schema: unexpected %q", fs.Arg(0))
	}
	var buf strings.Builder
	buf.WriteString("# Generated by `go run . schema -o schema.graphql` (go generate); do not edit.\n")
	buf.WriteString("# The source is graph/*.graphqls.\n\n")
	formatter.NewFormatter(&buf, formatter.WithIndent("  ")).FormatSchema(graph.NewExecutableSchema(graph.Config{}).Schema())
	if *out == "" {
		_, err := io.WriteString(stdout, buf.String())
		return err
	}
	return os.WriteFile(*out, []byte(buf.String()), 0o644)
}

func dbKind(dsn string) string {
	if strings.HasPrefix(dsn, "mysql://") {
		return "mysql"
	}
	return "sqlite:" + store.SQLitePath(dsn)
}

// redisClient connects to one Redis server, or, when the URL names a
// master_name, to whichever server the Sentinels say is that master now, so
// a Redis failover needs no restart and no change of configuration.
func redisClient(u string) (*redis.Client, error) {
	if pu, err := url.Parse(u); err == nil && pu.Query().Get("master_name") != "" {
		opt, err := redis.ParseFailoverURL(u)
		if err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(opt), nil
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// redisCounter counts across instances in Redis: INCR and, on a new key,
// its expiry, in one round trip.
type redisCounter struct{ c *redis.Client }

func (r redisCounter) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var n *redis.IntCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, "callme:"+key)
		p.ExpireNX(ctx, "callme:"+key, ttl)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n.Val(), nil
}
