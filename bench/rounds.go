package main

import (
	"math"
	"sort"
)

// mergeRounds folds one registry's results of several rounds (rounds[r]
// is round r's, in the order the workloads ran) into one result per
// workload, in the order of their first appearance. Every figure is the
// median over the rounds that ran the workload, each taken on its own,
// so that one disturbed round moves none of them; Rounds keeps each
// round's main figure, and Samples every repeated sample of every round
// (its median sample is no longer the one the figures come from).
// With a single round the results are returned as they are.
func mergeRounds(rounds [][]result) []result {
	if len(rounds) == 1 {
		return rounds[0]
	}
	var order []string
	byName := map[string][]result{}
	for _, rs := range rounds {
		for _, r := range rs {
			if _, ok := byName[r.Workload]; !ok {
				order = append(order, r.Workload)
			}
			byName[r.Workload] = append(byName[r.Workload], r)
		}
	}
	out := make([]result, 0, len(order))
	for _, w := range order {
		rs := byName[w]
		if len(rs) == 1 {
			out = append(out, rs[0])
			continue
		}
		med := func(get func(result) float64) float64 {
			vs := make([]float64, len(rs))
			for i, r := range rs {
				vs[i] = get(r)
			}
			return median(vs)
		}
		m := result{
			Workload:      w,
			Ops:           int(math.Round(med(func(r result) float64 { return float64(r.Ops) }))),
			Bytes:         int64(math.Round(med(func(r result) float64 { return float64(r.Bytes) }))),
			Seconds:       med(func(r result) float64 { return r.Seconds }),
			MBps:          med(rate),
			OpsPerS:       med(ops),
			P50ms:         med(p50),
			P99ms:         med(p99),
			CPUsPerGB:     med(cpuGB),
			CPUs:          med(func(r result) float64 { return r.CPUs }),
			PeakRSSMB:     med(peakMB),
			LimitMBps:     med(func(r result) float64 { return r.LimitMBps }),
			Fraction:      med(func(r result) float64 { return r.Fraction }),
			BoundMBps:     med(func(r result) float64 { return r.BoundMBps }),
			BoundFraction: med(func(r result) float64 { return r.BoundFraction }),
		}
		main := metricsFor(w)[0].get
		for _, r := range rs {
			m.Rounds = append(m.Rounds, main(r))
			m.Samples = append(m.Samples, r.Samples...)
		}
		out = append(out, m)
	}
	return out
}

// median of vs (the mean of the middle two for an even count); vs is
// reordered.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	sort.Float64s(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// spreads computes berth's ratios to each peer in every round
// (rounds[r][i] is registry i's results of round r, berth first) and
// returns, per peer and ratio key, the lowest and the highest.
func spreads(rounds [][]regResult) map[string]map[string][2]float64 {
	out := map[string]map[string][2]float64{}
	for _, regs := range rounds {
		rep := &report{Registries: regs}
		computeRatios(rep)
		for peer, rs := range rep.Ratios {
			if out[peer] == nil {
				out[peer] = map[string][2]float64{}
			}
			for k, v := range rs {
				lohi, seen := out[peer][k]
				if !seen {
					lohi = [2]float64{v, v}
				}
				lohi[0], lohi[1] = min(lohi[0], v), max(lohi[1], v)
				out[peer][k] = lohi
			}
		}
	}
	return out
}
