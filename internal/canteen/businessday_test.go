package canteen_test

import (
	"testing"
	"time"

	"callme/internal/canteen"
)

// TestBusinessDayAcrossDST: a business day starts at DayStartHour on the
// local wall clock, also on the days clocks change (defect 11: subtracting
// the hours as a duration put the boundary an hour off there).
func TestBusinessDayAcrossDST(t *testing.T) {
	newYork, berlin := mustLoc("America/New_York"), mustLoc("Europe/Berlin")
	for _, tc := range []struct {
		name     string
		loc      *time.Location
		startHr  int
		at       time.Time // an instant, given in UTC to be unambiguous
		wantDay  int
		wantNext string // when the next business day starts, local
	}{
		// New York springs forward 2026-03-08 02:00 EST -> 03:00 EDT.
		{"NY spring 03:59 EDT", newYork, 4, utc(2026, 3, 8, 7, 59), 20260307, "2026-03-08 04:00 EDT"},
		{"NY spring 04:00 EDT", newYork, 4, utc(2026, 3, 8, 8, 0), 20260308, "2026-03-09 04:00 EDT"},
		{"NY spring 04:59 EDT", newYork, 4, utc(2026, 3, 8, 8, 59), 20260308, "2026-03-09 04:00 EDT"},
		{"NY spring eve", newYork, 4, utc(2026, 3, 7, 17, 0), 20260307, "2026-03-08 04:00 EDT"},
		{"NY spring 01:59 EST, day at 02", newYork, 2, utc(2026, 3, 8, 6, 59), 20260307, "2026-03-08 03:00 EDT"},
		{"NY spring 03:00 EDT, day at 02", newYork, 2, utc(2026, 3, 8, 7, 0), 20260308, "2026-03-09 02:00 EDT"},
		// New York falls back 2026-11-01 02:00 EDT -> 01:00 EST.
		{"NY fall 03:30 EST", newYork, 4, utc(2026, 11, 1, 8, 30), 20261031, "2026-11-01 04:00 EST"},
		{"NY fall 04:00 EST", newYork, 4, utc(2026, 11, 1, 9, 0), 20261101, "2026-11-02 04:00 EST"},
		{"NY fall eve", newYork, 4, utc(2026, 10, 31, 23, 0), 20261031, "2026-11-01 04:00 EST"},
		{"NY fall 00:30 EDT, day at 01", newYork, 1, utc(2026, 11, 1, 4, 30), 20261031, "2026-11-01 01:00 EDT"},
		{"NY fall 01:30 EST, day at 01", newYork, 1, utc(2026, 11, 1, 6, 30), 20261101, "2026-11-02 01:00 EST"},
		// Santiago springs forward at midnight: 2026-09-06 00:00 -04 -> 01:00 -03.
		{"Santiago 23:30, day at 00", mustLoc("America/Santiago"), 0, utc(2026, 9, 6, 3, 30), 20260905, "2026-09-06 01:00 -03"},
		// Berlin springs forward 2026-03-29 02:00 CET -> 03:00 CEST.
		{"Berlin spring 03:59 CEST", berlin, 4, utc(2026, 3, 29, 1, 59), 20260328, "2026-03-29 04:00 CEST"},
		{"Berlin spring 04:00 CEST", berlin, 4, utc(2026, 3, 29, 2, 0), 20260329, "2026-03-30 04:00 CEST"},
		{"Berlin spring 04:30 CEST", berlin, 4, utc(2026, 3, 29, 2, 30), 20260329, "2026-03-30 04:00 CEST"},
		// Berlin falls back 2026-10-25 03:00 CEST -> 02:00 CET.
		{"Berlin fall 03:30 CET", berlin, 4, utc(2026, 10, 25, 2, 30), 20261024, "2026-10-25 04:00 CET"},
		{"Berlin fall 04:00 CET", berlin, 4, utc(2026, 10, 25, 3, 0), 20261025, "2026-10-26 04:00 CET"},
		{"Berlin fall 02:30 CEST, day at 03", berlin, 3, utc(2026, 10, 25, 0, 30), 20261024, "2026-10-25 03:00 CET"},
		// No DST: the plain case.
		{"Shanghai 03:59", shanghai, 4, utc(2026, 11, 24, 19, 59), 20261124, "2026-11-25 04:00 CST"},
		{"Shanghai 04:00", shanghai, 4, utc(2026, 11, 24, 20, 0), 20261125, "2026-11-26 04:00 CST"},
		{"Shanghai midnight start", shanghai, 0, utc(2026, 11, 24, 16, 0), 20261125, "2026-11-26 00:00 CST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := canteen.New(nil, "", nil, nil, canteen.Config{
				Location: tc.loc, DayStartHour: tc.startHr, Now: func() time.Time { return tc.at },
			}, nil)
			if got := svc.BusinessDay(tc.at); got != tc.wantDay {
				t.Errorf("BusinessDay(%s) = %d, want %d", tc.at.In(tc.loc), got, tc.wantDay)
			}
			next := svc.NextDayStart()
			if got := next.In(tc.loc).Format("2006-01-02 15:04 MST"); got != tc.wantNext {
				t.Errorf("next day starts %s, want %s", got, tc.wantNext)
			}
			// The day changes exactly there.
			if before, at := svc.BusinessDay(next.Add(-time.Nanosecond)), svc.BusinessDay(next); before != tc.wantDay || at == before {
				t.Errorf("around the next start: %d then %d, want %d then the next day", before, at, tc.wantDay)
			}
		})
	}
}

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}
