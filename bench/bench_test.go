package main

import (
	"io"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one value: %v", got)
	}
}

func TestParsePeer(t *testing.T) {
	good := map[string]peer{
		"zot=http://127.0.0.1:5001":             {Name: "zot", URL: "http://127.0.0.1:5001"},
		"zot=http://127.0.0.1:5001/,u:p:w":      {Name: "zot", URL: "http://127.0.0.1:5001", User: "u", Pass: "p:w"},
		"harbor=https://localhost:8443,admin:x": {Name: "harbor", URL: "https://localhost:8443", User: "admin", Pass: "x"},
	}
	for in, want := range good {
		got, err := parsePeer(in)
		if err != nil || got != want {
			t.Errorf("parsePeer(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "zot", "=http://x", "zot=", "zot=127.0.0.1:5000", "zot=ftp://x", "zot=http://x,nopass", "zot=http://x,:p"} {
		if _, err := parsePeer(in); err == nil {
			t.Errorf("parsePeer(%q): no error", in)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--large-size", "64MiB", "--small-count", "200", "--duration", "2s",
		"--peer", "zot=http://127.0.0.1:5001", "--peer", "other=http://127.0.0.1:5002,u:p"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.largeSize != 64<<20 || o.smallCount != 200 || o.duration != 2*time.Second || o.smallSize != 16<<10 || o.clients != 8 {
		t.Errorf("options: %+v", o)
	}
	if len(o.peers) != 2 || o.peers[1].User != "u" || o.peers[1].Pass != "p" {
		t.Errorf("peers: %+v", o.peers)
	}
	for _, args := range [][]string{
		{"--peer", "zot=http://a", "--peer", "zot=http://b"},
		{"--peer", "berth=http://a"},
		{"--large-size", "0"},
		{"--large-size", "12XB"},
		{"--clients", "0"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "16KiB": 16 << 10, "256MiB": 256 << 20, "1GiB": 1 << 30, "64MB": 64e6, "2M": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	s, p := parseChallenge(`Bearer realm="http://127.0.0.1:5000/service/token",service="berth"`)
	if s != "bearer" || p["realm"] != "http://127.0.0.1:5000/service/token" || p["service"] != "berth" {
		t.Errorf("got %q %v", s, p)
	}
}
