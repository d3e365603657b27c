package gc

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Cron is a parsed cron expression, evaluated in UTC. It takes the
// classic five fields (minute hour day-of-month month day-of-week) or
// Harbor's six, which start with seconds. Each field is "*", "?", a
// number or name, a range "a-b", a step "*/n", "a/n" or "a-b/n", or a
// comma-separated list of those; months and weekdays take English
// three-letter names, and weekday 7 is Sunday like 0. The macros
// @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly
// stand for their usual expressions. When both day fields are
// restricted a day matching either one matches, as in Vixie cron.
type Cron struct {
	sec, min, hour, dom, month, dow uint64
	domAny, dowAny                  bool
}

type cronField struct {
	name     string
	lo, hi   int
	names    []string // names[i] is value lo+i
	sundayIs bool     // 7 is accepted as 0
}

var (
	fieldSec   = cronField{name: "second", lo: 0, hi: 59}
	fieldMin   = cronField{name: "minute", lo: 0, hi: 59}
	fieldHour  = cronField{name: "hour", lo: 0, hi: 23}
	fieldDom   = cronField{name: "day of month", lo: 1, hi: 31}
	fieldMonth = cronField{name: "month", lo: 1, hi: 12,
		names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	fieldDow = cronField{name: "day of week", lo: 0, hi: 6,
		names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, sundayIs: true}
)

var cronMacros = map[string]string{
	"@yearly":   "0 0 0 1 1 *",
	"@annually": "0 0 0 1 1 *",
	"@monthly":  "0 0 0 1 * *",
	"@weekly":   "0 0 0 * * 0",
	"@daily":    "0 0 0 * * *",
	"@midnight": "0 0 0 * * *",
	"@hourly":   "0 0 * * * *",
}

// ParseCron parses a cron expression; errors are Invalid and say which
// field is wrong.
func ParseCron(expr string) (*Cron, error) {
	s := strings.TrimSpace(expr)
	if m, ok := cronMacros[strings.ToLower(s)]; ok {
		s = m
	}
	f := strings.Fields(s)
	switch len(f) {
	case 5:
		f = append([]string{"0"}, f...)
	case 6:
	default:
		return nil, errs.Invalidf("cron %q: want 5 fields (minute hour day month weekday) or 6 (with seconds first), got %d", expr, len(f))
	}
	c := &Cron{}
	var err error
	parse := func(dst *uint64, text string, fd cronField) {
		if err == nil {
			*dst, err = fd.parse(text)
			if err != nil {
				err = errs.Invalidf("cron %q: %v", expr, err)
			}
		}
	}
	parse(&c.sec, f[0], fieldSec)
	parse(&c.min, f[1], fieldMin)
	parse(&c.hour, f[2], fieldHour)
	parse(&c.dom, f[3], fieldDom)
	parse(&c.month, f[4], fieldMonth)
	parse(&c.dow, f[5], fieldDow)
	if err != nil {
		return nil, err
	}
	c.domAny = f[3] == "*" || f[3] == "?"
	c.dowAny = f[5] == "*" || f[5] == "?"
	return c, nil
}

// parse turns one field into a bit set of the values it allows.
func (fd cronField) parse(text string) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(text, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > fd.hi-fd.lo+1 {
				return 0, fmt.Errorf("%s: bad step %q", fd.name, stepText)
			}
			step = n
		}
		var lo, hi int
		switch {
		case rng == "*" || rng == "?":
			lo, hi = fd.lo, fd.hi
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = fd.value(a); err != nil {
				return 0, err
			}
			if hi, err = fd.value(b); err != nil {
				return 0, err
			}
			if fd.sundayIs && hi == 0 && b != "0" {
				hi = 7 // "fri-sun" or "5-7": up to Sunday
			}
			if lo > hi {
				return 0, fmt.Errorf("%s: range %q runs backwards", fd.name, rng)
			}
		default:
			v, err := fd.value(rng)
			if err != nil {
				return 0, err
			}
			lo, hi = v, v
			if hasStep {
				hi = fd.hi
			}
		}
		for v := lo; v <= hi; v += step {
			if fd.sundayIs && v == 7 {
				set |= 1
				continue
			}
			set |= 1 << uint(v)
		}
	}
	if set == 0 {
		return 0, fmt.Errorf("%s: %q allows no value", fd.name, text)
	}
	return set, nil
}

// value reads a number or a name of the field.
func (fd cronField) value(s string) (int, error) {
	ls := strings.ToLower(s)
	for i, n := range fd.names {
		if ls == n {
			return fd.lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	hi := fd.hi
	if fd.sundayIs {
		hi = 7
	}
	if err != nil || v < fd.lo || v > hi {
		return 0, fmt.Errorf("%s: %q is not a value from %d to %d", fd.name, s, fd.lo, hi)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

// Next returns the first time after t that the expression matches, in
// UTC, or the zero time if there is none within five years (such as
// "0 0 30 2 *").
func (c *Cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case !has(c.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case !has(c.hour, t.Hour()):
			t = t.Truncate(time.Hour).Add(time.Hour)
		case !has(c.min, t.Minute()):
			t = t.Truncate(time.Minute).Add(time.Minute)
		case !has(c.sec, t.Second()):
			// Jump to the next allowed second of this minute, if any.
			rest := c.sec >> uint(t.Second()+1)
			if rest == 0 {
				t = t.Truncate(time.Minute).Add(time.Minute)
			} else {
				t = t.Add(time.Duration(bits.TrailingZeros64(rest)+1) * time.Second)
			}
		default:
			return t
		}
	}
	return time.Time{}
}

func (c *Cron) dayMatches(t time.Time) bool {
	dom, dow := has(c.dom, t.Day()), has(c.dow, int(t.Weekday()))
	if c.domAny || c.dowAny {
		return dom && dow
	}
	return dom || dow
}
