package canteen

import "time"

// NextDayStart exposes nextDayStart to the package's external tests.
func (s *Service) NextDayStart() time.Time { return s.nextDayStart() }
