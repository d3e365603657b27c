package oci

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"0-0", 0, 0, true},
		{"0-99", 0, 99, true},
		{"100-199", 100, 199, true},
		{"bytes 0-99", 0, 99, true},
		{"bytes 0-99/100", 0, 99, true},
		{"bytes 0-99/*", 0, 99, true},
		{"bytes=5-10", 5, 10, true},
		{" 7-8 ", 7, 8, true},
		{"0-9223372036854775807", 0, math.MaxInt64, true},

		{"", 0, 0, false},
		{"-", 0, 0, false},
		{"5", 0, 0, false},
		{"5-", 0, 0, false},
		{"-5", 0, 0, false},
		{"10-5", 0, 0, false},
		{"-1-5", 0, 0, false},
		{"a-b", 0, 0, false},
		{"0x1-0x2", 0, 0, false},
		{"+1-2", 0, 0, false},
		{"1 - 2", 0, 0, false},
		{"1-2-3", 0, 0, false},
		{"0-9223372036854775808", 0, 0, false}, // overflows int64
		{"0-99999999999999999999", 0, 0, false},
		{"bytes */100", 0, 0, false},
		{"items 0-5", 0, 0, false},
	}
	for _, tt := range tests {
		start, end, err := ParseContentRange(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseContentRange(%q) = %v, want ok = %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (start != tt.start || end != tt.end) {
			t.Errorf("ParseContentRange(%q) = %d-%d, want %d-%d", tt.in, start, end, tt.start, tt.end)
		}
	}
}

func TestParseRange(t *testing.T) {
	const size = 1000
	unsat := ErrRangeNotSatisfiable
	tests := []struct {
		h    string
		size int64
		want ByteRange
		ok   bool
		err  error
	}{
		{"bytes=0-0", size, ByteRange{0, 0}, true, nil},
		{"bytes=0-499", size, ByteRange{0, 499}, true, nil},
		{"bytes=500-999", size, ByteRange{500, 999}, true, nil},
		{"bytes=500-", size, ByteRange{500, 999}, true, nil},
		{"bytes=0-", size, ByteRange{0, 999}, true, nil},
		{"bytes=999-", size, ByteRange{999, 999}, true, nil},
		{"bytes=500-5000", size, ByteRange{500, 999}, true, nil}, // end cut to the blob
		{"bytes=-1", size, ByteRange{999, 999}, true, nil},
		{"bytes=-500", size, ByteRange{500, 999}, true, nil},
		{"bytes=-1000", size, ByteRange{0, 999}, true, nil},
		{"bytes=-5000", size, ByteRange{0, 999}, true, nil}, // suffix longer than the blob
		{" bytes=1-2 ", size, ByteRange{1, 2}, true, nil},
		{"bytes= 1-2", size, ByteRange{1, 2}, true, nil},
		{"bytes=0-9223372036854775807", size, ByteRange{0, 999}, true, nil},

		// Not satisfiable: no byte of the range is in the blob.
		{"bytes=1000-", size, ByteRange{}, false, unsat},
		{"bytes=1000-2000", size, ByteRange{}, false, unsat},
		{"bytes=5000-", size, ByteRange{}, false, unsat},
		{"bytes=-0", size, ByteRange{}, false, unsat},
		{"bytes=0-", 0, ByteRange{}, false, unsat},
		{"bytes=-5", 0, ByteRange{}, false, unsat},
		// Invalid by RFC 9110, but the distribution conformance suite wants 416.
		{"bytes=5-1", size, ByteRange{}, false, unsat},
		{"bytes=5-4", size, ByteRange{}, false, unsat},

		// Malformed: ignored, so the whole blob is served.
		{"", size, ByteRange{}, false, nil},
		{"bytes", size, ByteRange{}, false, nil},
		{"bytes=", size, ByteRange{}, false, nil},
		{"bytes=-", size, ByteRange{}, false, nil},
		{"bytes=5", size, ByteRange{}, false, nil},
		{"bytes=a-b", size, ByteRange{}, false, nil},
		{"bytes=-1-2", size, ByteRange{}, false, nil},
		{"bytes=1--2", size, ByteRange{}, false, nil},
		{"bytes=+1-2", size, ByteRange{}, false, nil},
		{"bytes=0-1,5-6", size, ByteRange{}, false, nil}, // several ranges
		{"bytes=0-99999999999999999999", size, ByteRange{}, false, nil},
		{"items=0-5", size, ByteRange{}, false, nil},
		{"0-5", size, ByteRange{}, false, nil},
		{"bytes 0-5", size, ByteRange{}, false, nil},
	}
	for _, tt := range tests {
		got, ok, err := ParseRange(tt.h, tt.size)
		if got != tt.want || ok != tt.ok || !errors.Is(err, tt.err) {
			t.Errorf("ParseRange(%q, %d) = %+v, %v, %v; want %+v, %v, %v", tt.h, tt.size, got, ok, err, tt.want, tt.ok, tt.err)
		}
		if ok && got.Length() != got.End-got.Start+1 {
			t.Errorf("ParseRange(%q): length %d", tt.h, got.Length())
		}
	}
}

func TestByteRangeLength(t *testing.T) {
	if n := (ByteRange{Start: 10, End: 10}).Length(); n != 1 {
		t.Errorf("length of 10-10 is %d", n)
	}
	if n := (ByteRange{Start: 0, End: 999}).Length(); n != 1000 {
		t.Errorf("length of 0-999 is %d", n)
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"0-0", "0-99", "bytes 0-99/100", "bytes 0-99/*", "bytes=5-10", "", "-", "5-", "-5",
		"10-5", "0-9223372036854775807", "0-9223372036854775808", "1-2-3", "bytes */100",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseContentRange(s)
		if err != nil {
			return
		}
		if start < 0 || end < start {
			t.Fatalf("ParseContentRange(%q) = %d-%d", s, start, end)
		}
		s2, e2, err := ParseContentRange(fmt.Sprintf("%d-%d", start, end))
		if err != nil || s2 != start || e2 != end {
			t.Fatalf("%d-%d does not parse back: %d-%d, %v", start, end, s2, e2, err)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-0", "bytes=500-5000", "bytes=1000-",
		"bytes=", "bytes=-", "bytes=5-1", "bytes=0-1,5-6", "bytes=0-9223372036854775807",
		"bytes=-9223372036854775807", " bytes= 1-2", "items=0-5",
	} {
		for _, size := range []int64{0, 1, 1000, math.MaxInt64} {
			f.Add(s, size)
		}
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return // sizes come from the store and are never negative
		}
		r, ok, err := ParseRange(h, size)
		if err != nil {
			if ok || !errors.Is(err, ErrRangeNotSatisfiable) {
				t.Fatalf("ParseRange(%q, %d) = %+v, %v, %v", h, size, r, ok, err)
			}
			return
		}
		if !ok {
			return
		}
		if r.Start < 0 || r.Start > r.End || r.End >= size || r.Length() <= 0 || r.Length() > size {
			t.Fatalf("ParseRange(%q, %d) = %+v", h, size, r)
		}
	})
}
