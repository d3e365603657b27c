package main

import (
	"fmt"
	"strings"
)

// storedPerRound estimates the bytes one registry keeps after one round
// of the workloads o selects: every push stores new content, and nothing
// is deleted until the run ends. (Mixed CI's pushes, bounded by
// --duration, are a few MB and left out.)
func storedPerRound(o options) int64 {
	large := o.largeSize
	mixed := int64(0)
	for i := range o.mixedCount {
		mixed += int64(mixedSize(i))
	}
	layers := int64(0)
	for _, s := range imageLayerSizes(o) {
		layers += int64(s)
	}
	type part struct {
		workload string
		bytes    int64
	}
	parts := []part{
		{"large push monolithic", large * int64(o.repeat)},
		{"large push chunked", large * int64(o.repeat)},
		{"large pull", large},
		{firstPull, large},
		{fmt.Sprintf("large push ×%d concurrent", o.concurrentLarge), large * int64(o.concurrentLarge)},
		{"small push", int64(o.smallCount) * int64(o.smallSize)},
		{"mixed blobs push", mixed},
	}
	if o.coldPull {
		parts = append(parts, part{coldPull, large})
	}
	for _, n := range o.imageClients {
		parts = append(parts, part{fmt.Sprintf("image push ×%d", n), int64(max(48, 2*n)) * layers})
	}
	var total int64
	for _, p := range parts {
		if o.only == nil || o.only.MatchString(p.workload) {
			total += p.bytes
		}
	}
	return total
}

// checkSpace refuses a run whose registries would fill the work dir's
// filesystem: managed registries store there, o.rounds times what one
// round stores each. --peer registries are assumed to store on it too,
// as they do when run beside bench; a run that fails half-way with
// ENOSPC measures nothing.
func checkSpace(o options, work string, managed int) error {
	free, err := freeBytes(work)
	if err != nil {
		return nil
	}
	per := storedPerRound(o) * int64(o.rounds)
	need := per * int64(managed+len(o.peers))
	// Leave a tenth of the free space (and the limit probes' files) spare.
	if need+2*o.largeSize > free*9/10 {
		var hints []string
		if o.rounds > 1 {
			hints = append(hints, "fewer --rounds")
		}
		if o.repeat > 1 {
			hints = append(hints, "--repeat 1")
		}
		hints = append(hints, "a smaller --large-size", "--no-distribution", "--only")
		return fmt.Errorf("the registries would store about %s (%s each, %d registries) and %s has %s free: use %s",
			gib(need), gib(per), managed+len(o.peers), work, gib(free), strings.Join(hints, ", "))
	}
	return nil
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
