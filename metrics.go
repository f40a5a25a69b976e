package main

import (
	"context"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"
	"callme/internal/store"

	"github.com/prometheus/client_golang/prometheus"
)

// registerDomainMetrics exposes the domain's and the broker's counters.
// local or rdb is nil, depending on the broker in use.
func registerDomainMetrics(reg prometheus.Registerer, svc *canteen.Service, local *events.Local, rdb *events.Redis) {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		counter("callme_tickets_issued_total", "Tickets issued by fetch.", func() float64 { return float64(svc.Stats().TicketsIssued) }),
		counter("callme_calls_total", "Calls and recalls.", func() float64 { return float64(svc.Stats().Calls) }),
		// Their ratio is what shared execution saves: one execution per view
		// of a call (public, owner, staff), one delivery per subscriber.
		counter("callme_call_executions_total", "Executions of calledNumbers results by the shared call feeds.", func() float64 { return float64(svc.Stats().CallRuns) }),
		counter("callme_call_deliveries_total", "calledNumbers results the shared call feeds wrote to subscribers.", func() float64 { return float64(svc.Stats().CallDeliveries) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callme_sweep_last_success_timestamp_seconds",
			Help: "When this instance last finished the data lifecycle sweep, or found another instance sweeping (its start time until then).",
		}, func() float64 { return float64(svc.Stats().LastSweep.Unix()) }),
	)
	switch {
	case local != nil:
		reg.MustRegister(
			counter("callme_events_published_total", "Events published to the broker.", func() float64 { return float64(local.Stats().Published) }),
			counter("callme_events_delivered_total", "Event copies handed to subscribers.", func() float64 { return float64(local.Stats().Delivered) }),
			counter("callme_events_dropped_total", "Event copies dropped for lagging subscribers (they catch up from the database).", func() float64 { return float64(local.Stats().Dropped) }),
		)
	case rdb != nil:
		reg.MustRegister(
			counter("callme_events_published_total", "Events published to the broker.", func() float64 { return float64(rdb.Stats().Published) }),
			counter("callme_events_publish_dropped_total", "Events not sent to Redis (queue full or Redis down).", func() float64 { return float64(rdb.Stats().PublishDropped) }),
			counter("callme_events_delivered_total", "Event copies handed to local subscribers.", func() float64 { return float64(rdb.Stats().Delivered) }),
			counter("callme_events_dropped_total", "Event copies dropped for lagging subscribers.", func() float64 { return float64(rdb.Stats().DeliveryDropped) }),
			counter("callme_broker_reconnects_total", "Times the Redis subscription came back after an outage.", func() float64 { return float64(rdb.Stats().Reconnects) }),
		)
	}
}

// newDeliveryHistogram times calls from commit to a subscriber's stream.
func newDeliveryHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "callme_call_delivery_seconds",
		Help:    "Time from a call's commit to its live event reaching a subscriber's stream (replays after a reconnect are not counted).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
}

// registerHealthMetrics exposes what the alerts in deploy/prometheus watch
// besides traffic: whether the database and Redis answer, the outbox
// backlog, and call delivery latency. The dependency gauges ping on scrape,
// bounded by a second, so a hung database reads 0 rather than hanging the
// scrape.
func registerHealthMetrics(reg prometheus.Registerer, svc *canteen.Service, db *store.DB, rdb *events.Redis, delivery prometheus.Histogram) {
	up := func(dep string, ping func(context.Context) error) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "callme_dependency_up",
			Help:        "1 when the dependency answered a ping at scrape time, else 0.",
			ConstLabels: prometheus.Labels{"dependency": dep},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if ping(ctx) != nil {
				return 0
			}
			return 1
		})
	}
	reg.MustRegister(delivery, up("database", db.Ping), newOutboxCollector(svc))
	if rdb != nil {
		reg.MustRegister(up("redis", rdb.Ping))
	}
}

// outboxCollector reports the outbox backlog: both gauges from one read per
// scrape.
type outboxCollector struct {
	svc             *canteen.Service
	pending, oldest *prometheus.Desc
}

func newOutboxCollector(svc *canteen.Service) outboxCollector {
	return outboxCollector{svc: svc,
		pending: prometheus.NewDesc("callme_notifications_pending",
			"Pickup notifications waiting to be sent (-1: unknown).", nil, nil),
		oldest: prometheus.NewDesc("callme_notifications_oldest_pending_seconds",
			"Age of the oldest notification waiting to be sent (0: none, -1: unknown).", nil, nil),
	}
}

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.pending; ch <- c.oldest }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, age, err := c.svc.OutboxBacklog(ctx)
	if err != nil {
		n, age = -1, -time.Second // the dependency alert tells why
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age.Seconds())
}

// waitSockets waits, until ctx ends, for the WebSockets to send their close
// frames after the base context ended, so clients see 1001 and reconnect
// rather than wait for a timeout.
func (a *app) waitSockets(ctx context.Context) {
	for a.sockets.Open() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}
