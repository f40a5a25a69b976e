package canteen

import "time"

// NextDayStart exposes nextDayStart to the package's external tests.
func (s *Service) NextDayStart() time.Time { return s.nextDayStart() }

// OnCatchUpPass sets the hook that hears each catch-up pass of a call feed
// member; set it before the first CallFeed.
func (s *Service) OnCatchUpPass(f func(live bool)) { s.catchUpPass = f }
