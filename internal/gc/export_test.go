package gc

import "context"

// Tick runs one scheduler check on c (tests).
func Tick(c *Collector, ctx context.Context) (int64, error) { return c.tick(ctx) }
