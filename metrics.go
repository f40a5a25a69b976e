package main

import (
	"context"
	"time"

	"callme/internal/canteen"
	"callme/internal/events"

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
