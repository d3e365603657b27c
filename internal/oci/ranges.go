package oci

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseContentRange parses the Content-Range of an upload PATCH. The
// distribution spec writes it "<start>-<end>" (inclusive); the "bytes "
// prefix of RFC 9110 and a trailing "/<size>" or "/*" are accepted too.
func ParseContentRange(s string) (start, end int64, err error) {
	v := strings.TrimSpace(s)
	v = strings.TrimPrefix(v, "bytes ")
	v = strings.TrimPrefix(v, "bytes=")
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, fmt.Errorf("content range %q: want <start>-<end>", trunc(s))
	}
	start, err1 := parseOffset(a)
	end, err2 := parseOffset(b)
	if err1 != nil || err2 != nil || end < start {
		return 0, 0, fmt.Errorf("content range %q: want <start>-<end> with start <= end", trunc(s))
	}
	return start, end, nil
}

// ByteRange is a resolved, inclusive byte range of a blob.
type ByteRange struct{ Start, End int64 }

// Length is the number of bytes in the range.
func (r ByteRange) Length() int64 { return r.End - r.Start + 1 }

// ErrRangeNotSatisfiable is returned when no requested byte is in the blob.
var ErrRangeNotSatisfiable = fmt.Errorf("range not satisfiable")

// ParseRange parses a single-range Range header ("bytes=a-b", "bytes=a-",
// "bytes=-n") against a blob of size bytes. A syntactically bad header
// returns ok=false so that the caller serves the whole blob, as RFC 9110
// says; a range outside the blob returns ErrRangeNotSatisfiable.
// Multiple ranges are not supported and are served whole.
func ParseRange(h string, size int64) (r ByteRange, ok bool, err error) {
	v, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(v, ",") {
		return ByteRange{}, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(v), "-")
	if !found {
		return ByteRange{}, false, nil
	}
	switch {
	case a == "":
		n, err := parseOffset(b)
		if err != nil {
			return ByteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return ByteRange{}, false, ErrRangeNotSatisfiable
		}
		if n > size {
			n = size
		}
		return ByteRange{Start: size - n, End: size - 1}, true, nil
	default:
		s, err := parseOffset(a)
		if err != nil {
			return ByteRange{}, false, nil
		}
		e := size - 1
		if b != "" {
			if e, err = parseOffset(b); err != nil {
				return ByteRange{}, false, nil
			}
			if e < s {
				// RFC 9110 calls this invalid; the distribution spec
				// conformance suite expects 416 rather than the whole blob.
				return ByteRange{}, false, ErrRangeNotSatisfiable
			}
		}
		if s >= size {
			return ByteRange{}, false, ErrRangeNotSatisfiable
		}
		if e >= size {
			e = size - 1
		}
		return ByteRange{Start: s, End: e}, true, nil
	}
}

func parseOffset(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("bad offset")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("bad offset")
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
