package main

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"callme/internal/store/storetest"
)

// TestAlertsNameRealMetrics: every callme_* metric an alert or the dashboard
// reads is one callme exports, so a renamed metric cannot silence an alert.
// (promtool test rules, in CI, checks what the rules do with them.)
func TestAlertsNameRealMetrics(t *testing.T) {
	var mods []func(*config)
	redisOn := os.Getenv(envRedis) != "" && os.Getenv(storetest.EnvMySQL) != "" // as redisURL needs
	if redisOn {
		mods = append(mods, func(c *config) { c.Redis = redisURL(t) })
	}
	s := startServer(t, storetest.Engines()[0], mods...)
	// Labelled series appear once used: one query, one mutation.
	s.ok(t, s.login(t, "CUSTOMER", "probe"), `{ me { id } }`, nil, nil)
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (callme_\w+) `).FindAllStringSubmatch(string(body), -1) {
		exported[m[1]] = true
	}
	if len(exported) == 0 {
		t.Fatalf("no callme_ metrics exported:\n%.500s", body)
	}
	for _, file := range []string{"deploy/prometheus/alerts.yml", "deploy/grafana/callme.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		named := regexp.MustCompile(`callme_\w+`).FindAllString(string(b), -1)
		if len(named) == 0 {
			t.Fatalf("%s names no callme_ metric", file)
		}
		for _, n := range named {
			base := n
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				base = strings.TrimSuffix(base, suf)
			}
			if exported[base] {
				continue
			}
			if !redisOn && (strings.HasPrefix(base, "callme_events_publish") || base == "callme_broker_reconnects_total") {
				t.Logf("%s: %s is exported only with Redis (set %s to check it)", file, n, envRedis)
				continue
			}
			t.Errorf("%s names %s, which callme does not export", file, n)
		}
	}
}

// TestHealthMetricsReport: a call heard by a board is timed and counted, and
// the database reads up.
func TestHealthMetricsReport(t *testing.T) {
	s := startServer(t, storetest.Engines()[0])
	seller, stall := s.openStall(t, "Metered", "M")
	board := s.dialWS(t, "graphql-transport-ws", nil)
	board.subscribe("b", `subscription($id: ID!) { calledNumbers(sellerId: $id) { seq } }`, map[string]any{"id": stall})
	// The subscription is set up once the server answers a later message.
	board.subscribe("probe", `subscription { ticketUpdated(ticketId: "TK0000000000000000000000000") { id } }`, nil)
	if code := board.errorCode("probe"); code != "UNAUTHENTICATED" {
		t.Fatalf("probe: %s", code)
	}
	s.ok(t, seller, `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id } }`, map[string]any{"id": stall}, nil)
	s.ok(t, seller, `mutation($id: ID!) { callNext(sellerId: $id) { id } }`, map[string]any{"id": stall}, nil)
	var ev struct{ CalledNumbers struct{ Seq int } }
	board.next("b", &ev)

	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		"callme_call_delivery_seconds_count 1",
		"callme_call_executions_total 1", // one board, one view
		"callme_call_deliveries_total 1",
		`callme_dependency_up{dependency="database"} 1`,
		"callme_notifications_pending 0",
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
