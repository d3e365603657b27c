package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method: the smallest value with at least p % of the values
// at or below it. It sorts ds in place; an empty ds gives 0.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(ds, func(i, j int) bool { return ds[i] < ds[j] }) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	}
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(ds) {
		rank = len(ds)
	}
	return ds[rank-1]
}

// peer is a registry named on the command line with --peer.
type peer struct {
	Name, URL, User, Pass string
}

// parsePeer parses NAME=URL[,user:pass].
func parsePeer(s string) (peer, error) {
	name, rest, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || rest == "" {
		return peer{}, fmt.Errorf("--peer %q: want NAME=URL[,user:pass]", s)
	}
	if strings.ContainsAny(name, " \t|") {
		return peer{}, fmt.Errorf("--peer %q: the name may not hold spaces or '|'", s)
	}
	p := peer{Name: name}
	u, cred, hasCred := strings.Cut(rest, ",")
	if hasCred {
		user, pass, ok := strings.Cut(cred, ":")
		if !ok || user == "" {
			return peer{}, fmt.Errorf("--peer %q: credentials must be user:pass", s)
		}
		p.User, p.Pass = user, pass
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return peer{}, fmt.Errorf("--peer %q: URL must be http(s)://host[:port]", s)
	}
	p.URL = strings.TrimRight(pu.Scheme+"://"+pu.Host+pu.Path, "/")
	return p, nil
}

// peerFlags collects repeated --peer flags.
type peerFlags []peer

func (f *peerFlags) String() string {
	var names []string
	for _, p := range *f {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

func (f *peerFlags) Set(s string) error {
	p, err := parsePeer(s)
	if err != nil {
		return err
	}
	for _, q := range *f {
		if q.Name == p.Name {
			return fmt.Errorf("--peer %q: name used twice", p.Name)
		}
	}
	*f = append(*f, p)
	return nil
}

// parseSize parses a byte count such as 256MiB, 64MB, 1GiB, 16KiB or 4096.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size " + s + ": too large")
	}
	return n * mult, nil
}

// sizeFlag is a flag.Value holding a byte count.
type sizeFlag int64

func (f *sizeFlag) String() string { return strconv.FormatInt(int64(*f), 10) }
func (f *sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	*f = sizeFlag(n)
	return err
}

// mbps is bytes over d in MB/s (10^6 bytes).
func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
