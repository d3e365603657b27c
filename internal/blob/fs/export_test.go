package fs

// SetDirectFrom lowers where uploads start to bypass the page cache, so
// that a test of tens of MiB crosses it.
func SetDirectFrom(s *Store, n int64) { s.directFrom = n }
