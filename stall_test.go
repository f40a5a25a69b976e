package main

import (
	"strings"
	"testing"

	"callme/internal/store/storetest"
)

// TestSellersDay runs a stall's day through the GraphQL API, the way the
// seller app and the admin would (README "Running a stall").
func TestSellersDay(t *testing.T) {
	forEngine(t, func(t *testing.T, e storetest.Engine) {
		s := startServer(t, e, noRateLimits, func(c *config) { c.RecallGap = 0 })
		seller, id := s.openStall(t, "Day", "D")
		admin := s.login(t, "SELLER", "admin")
		alice := s.login(t, "CUSTOMER", "alice")
		v := map[string]any{"id": id}

		s.ok(t, seller, `mutation($id: ID!) { setMenu(sellerId: $id, items: [{name: "Beef noodles", priceCents: 1800}, {name: "Tea", available: false}]) { id } }`, v, nil)
		var up struct{ UpdateSeller struct{ Notice *string } }
		s.ok(t, seller, `mutation($id: ID!) { updateSeller(input: {sellerId: $id, pickupNote: "window 3", prefix: "E", noShowAfterCalls: 2}) { notice } }`, v, &up)
		if up.UpdateSeller.Notice == nil || !strings.Contains(*up.UpdateSeller.Notice, "apply now") {
			t.Fatalf("updateSeller before the day's first number: notice %v, want it to apply now", up.UpdateSeller.Notice)
		}
		var list struct {
			Sellers struct {
				Edges []struct {
					Node struct {
						Name, PickupNote string
						Menu             []struct {
							Name      string
							Available bool
						}
					}
				}
			}
		}
		s.ok(t, "", `{ sellers(openOnly: true) { edges { node { name pickupNote menu { name available } } } } }`, nil, &list)
		if n := list.Sellers.Edges[0].Node; len(n.Menu) != 2 || n.Menu[1].Available || n.PickupNote != "window 3" {
			t.Fatalf("public listing: %+v", n)
		}

		fetch := `mutation($id: ID!) { fetch(input: {sellerId: $id}) { id code etaSeconds } }`
		var mine struct{ Fetch struct{ ID, Code string } }
		s.ok(t, alice, fetch, v, &mine)
		s.ok(t, seller, fetch, v, nil) // handed out, never claimed
		if mine.Fetch.Code != "E001" {
			t.Fatalf("today's first code %s, want E001", mine.Fetch.Code)
		}
		s.ok(t, seller, `mutation($id: ID!) { updateSeller(input: {sellerId: $id, prefix: "F"}) { notice } }`, v, &up)
		if !strings.Contains(*up.UpdateSeller.Notice, "next business day") {
			t.Fatalf("updateSeller after the day's first number: notice %q", *up.UpdateSeller.Notice)
		}
		call := `mutation($id: ID!) { call(ticketId: $id) { status callCount } }`
		tv := map[string]any{"id": mine.Fetch.ID}
		s.ok(t, seller, call, tv, nil)
		s.ok(t, seller, call, tv, nil)
		var third struct{ Call struct{ Status string } }
		s.ok(t, seller, call, tv, &third)
		if third.Call.Status != "NO_SHOW" {
			t.Fatalf("a call after noShowAfterCalls=2: %s, want NO_SHOW", third.Call.Status)
		}
		var back struct{ Reopen struct{ Status, Code string } }
		s.ok(t, seller, `mutation($id: ID!) { reopen(ticketId: $id) { status code } }`, tv, &back)
		if back.Reopen.Status != "WAITING" || back.Reopen.Code != "E001" {
			t.Fatalf("reopen: %+v", back.Reopen)
		}
		var cleared struct{ ClearUnclaimed int }
		s.ok(t, seller, `mutation($id: ID!) { clearUnclaimed(sellerId: $id) }`, v, &cleared)
		if cleared.ClearUnclaimed != 1 {
			t.Fatalf("cleared %d, want the 1 unclaimed number", cleared.ClearUnclaimed)
		}
		var day struct {
			SellerTickets []struct{ Code, Status, BusinessDay string }
		}
		s.ok(t, seller, `query($id: ID!) { sellerTickets(sellerId: $id, day: "`+todayFor(t, s)+`") { code status businessDay } }`, v, &day)
		if len(day.SellerTickets) != 2 || day.SellerTickets[1].Status != "CANCELLED" {
			t.Fatalf("history: %+v", day.SellerTickets)
		}
		var stats struct {
			SellerStats []struct{ Issued, Calls, Cancelled int }
		}
		d := day.SellerTickets[0].BusinessDay
		s.ok(t, seller, `query($id: ID!, $d: String!) { sellerStats(sellerId: $id, from: $d, to: $d) { issued calls cancelled } }`, map[string]any{"id": id, "d": d}, &stats)
		if len(stats.SellerStats) != 1 || stats.SellerStats[0].Issued != 2 || stats.SellerStats[0].Calls != 2 || stats.SellerStats[0].Cancelled != 1 {
			t.Fatalf("stats: %+v", stats.SellerStats)
		}
		s.ok(t, admin, `mutation($id: ID!) { renewSeller(sellerId: $id, months: 3) { paidUntil } }`, v, nil)
		var audit struct {
			AuditLog []struct{ Action, TargetID string }
		}
		s.ok(t, admin, `{ auditLog { action targetId } }`, nil, &audit)
		if len(audit.AuditLog) == 0 || audit.AuditLog[0].Action != "renewSeller" || audit.AuditLog[0].TargetID != id {
			t.Fatalf("audit log: %+v", audit.AuditLog)
		}
	})
}

// todayFor asks the server for today's business day through a fresh ticket.
func todayFor(t *testing.T, s *testServer) string {
	t.Helper()
	var d struct {
		MyTickets []struct{ BusinessDay string }
	}
	s.ok(t, s.login(t, "CUSTOMER", "alice"), `{ myTickets { businessDay } }`, nil, &d)
	if len(d.MyTickets) == 0 {
		t.Fatal("alice has no ticket to read the business day from")
	}
	return d.MyTickets[0].BusinessDay
}
