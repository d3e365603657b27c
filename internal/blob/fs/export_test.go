package fs

// SetDirectFrom lowers where uploads start to bypass the page cache, alone
// and beside other large uploads, so that a test of tens of MiB crosses it.
func SetDirectFrom(s *Store, alone, busy int64) { s.direct.alone, s.direct.busy = alone, busy }
