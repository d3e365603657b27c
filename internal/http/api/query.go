package api

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// ParseQuery parses Harbor's q= syntax: a comma-separated list of
// conditions k=v (exact), k=~v (fuzzy), k=[min~max] (range, either end may
// be empty), k={v1 v2} (any of) and k=(v1 v2) (all of; treated as any
// of for single-valued fields, which Harbor also does in practice).
// Values are URL-unescaped. Which keys a listing accepts is checked by the
// store.
func ParseQuery(q string) ([]meta.Cond, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	if len(q) > 4096 {
		return nil, errs.New(errs.Invalid, "", "the query string is too long")
	}
	if uq, err := url.QueryUnescape(q); err == nil && (!utf8.ValidString(uq) || strings.ContainsRune(uq, 0)) {
		return nil, errs.New(errs.Invalid, "", "the query string must be valid UTF-8 without NUL characters")
	}
	parts, err := splitTop(q)
	if err != nil {
		return nil, err
	}
	var out []meta.Cond
	for _, part := range parts {
		k, v, found := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !found || k == "" {
			return nil, errs.New(errs.Invalid, "", `the query string must contain "=" for each key value pair: %q`, truncate(part))
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		c := meta.Cond{Key: k}
		switch {
		case strings.HasPrefix(v, "~"):
			c.Op, c.Values = "~", []string{v[1:]}
		case strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"):
			lo, hi, ok := strings.Cut(v[1:len(v)-1], "~")
			if !ok {
				return nil, errs.New(errs.Invalid, "", "a range must look like [min~max]: %q", truncate(v))
			}
			c.Op, c.Values = "range", []string{strings.TrimSpace(lo), strings.TrimSpace(hi)}
		case strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}"),
			strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")"):
			vals := strings.Fields(v[1 : len(v)-1])
			if len(vals) == 0 {
				return nil, errs.New(errs.Invalid, "", "an empty list in the query: %q", truncate(part))
			}
			c.Op, c.Values = "in", vals
		default:
			c.Op, c.Values = "=", []string{v}
		}
		out = append(out, c)
	}
	return out, nil
}

// splitTop splits on commas outside brackets.
func splitTop(q string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '[', '{', '(':
			depth++
		case ']', '}', ')':
			depth--
			if depth < 0 {
				return nil, errs.New(errs.Invalid, "", "unbalanced brackets in the query")
			}
		case ',':
			if depth == 0 {
				parts = append(parts, q[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, errs.New(errs.Invalid, "", "unbalanced brackets in the query")
	}
	parts = append(parts, q[start:])
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// ParseSort reads "field1,-field2".
func ParseSort(s string) []meta.SortKey {
	var out []meta.SortKey
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if d, ok := strings.CutPrefix(f, "-"); ok {
			out = append(out, meta.SortKey{Key: d, Desc: true})
		} else {
			out = append(out, meta.SortKey{Key: f})
		}
	}
	return out
}
