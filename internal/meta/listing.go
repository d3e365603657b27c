package meta

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Management listings (users, projects, members, robots, audit logs) share
// Harbor's paging, q and sort semantics. Each listing names the q keys and
// sort fields it accepts and the columns they stand for; anything else is
// refused as Invalid, and every value reaches the database as a bound
// parameter, never as SQL text.

// Harbor's paging defaults and its swagger's page_size cap.
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// fieldKind says how a q value is parsed and which operators apply.
type fieldKind int

const (
	textField fieldKind = iota // =, in, ~
	intField                   // =, in, range
	boolField                  // =
	timeField                  // =, range
)

// field is a column a q key filters on.
type field struct {
	col  string
	kind fieldKind
	// folded, for text, is a column holding strings.ToLower(col): "=",
	// "in" and "~" then compare lower-cased values against it, so the
	// match is case-insensitive for any script and on every dialect.
	// Without it "=" is exact and "~" folds ASCII letters only.
	folded string
	// fold, when set, is how the folded column was computed; "=" and
	// "in" values go through it instead of strings.ToLower.
	fold func(string) string
}

// listing is one listing's whitelist. Its tables are fixed at compile time.
type listing struct {
	what   string            // for error messages
	fields map[string]field  // q key -> column
	sorts  map[string]string // sort field -> column
	order  []SortKey         // when the caller asks for none
	id     string            // unique column, the last tiebreaker
}

// where collects AND-ed conditions and their arguments, in order.
type where struct {
	parts []string
	args  []any
	// count, when set, counts the same rows as the conditions without
	// visiting each of them; list uses it when no q condition is added.
	count     string
	countArgs []any
}

func (w *where) add(cond string, args ...any) {
	w.parts = append(w.parts, "("+cond+")")
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.parts, " AND ")
}

// list counts the rows of from matching w and o.Query, then selects cols
// of the requested page in the requested order and hands each row to
// scan. It returns the count, which ignores paging.
func (q *Q) list(ctx context.Context, l *listing, o ListOptions, cols, from string, w *where,
	scan func(*sql.Rows) error) (int, error) {
	for _, c := range o.Query {
		if err := q.match(l, c, w); err != nil {
			return 0, err
		}
	}
	order, err := l.orderBy(o.Sort)
	if err != nil {
		return 0, err
	}
	var total int
	countSQL, countArgs := `SELECT count(*) FROM `+from+w.sql(), w.args
	if w.count != "" && len(o.Query) == 0 {
		countSQL, countArgs = w.count, w.countArgs
	}
	if err := q.queryRow(ctx, countSQL, countArgs...).Scan(&total); err != nil {
		return 0, fmt.Errorf("count %s: %w", l.what, err)
	}
	size, offset := page(o)
	if int64(total) <= offset {
		return total, nil
	}
	args := append(w.args[:len(w.args):len(w.args)], size, offset)
	rows, err := q.query(ctx, `SELECT `+cols+` FROM `+from+w.sql()+order+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", l.what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return 0, fmt.Errorf("list %s: %w", l.what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list %s: %w", l.what, err)
	}
	return total, nil
}

// page returns the page size and row offset of o after Harbor's defaults.
func page(o ListOptions) (size int, offset int64) {
	p, size := o.Page, o.PageSize
	if p <= 0 {
		p = 1
	}
	p = min(p, math.MaxInt32) // keeps the offset far from overflowing
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	return size, int64(p-1) * int64(size)
}

// orderBy returns the ORDER BY clause for keys (l.order when empty), with
// l.id appended so that equal keys still come in a stable order.
func (l *listing) orderBy(keys []SortKey) (string, error) {
	if len(keys) == 0 {
		keys = l.order
	}
	parts := make([]string, 0, len(keys)+1)
	tie := true
	for _, k := range keys {
		col, ok := l.sorts[k.Key]
		if !ok {
			return "", errs.New(errs.Invalid, "", "unknown sort field %q for %s", k.Key, l.what)
		}
		if col == l.id {
			tie = false
		}
		if k.Desc {
			col += " DESC"
		}
		parts = append(parts, col)
	}
	if tie {
		parts = append(parts, l.id)
	}
	return " ORDER BY " + strings.Join(parts, ", "), nil
}

// match adds the condition c to w.
func (q *Q) match(l *listing, c Cond, w *where) error {
	f, ok := l.fields[c.Key]
	if !ok {
		return errs.New(errs.Invalid, "", "unknown query key %q for %s", c.Key, l.what)
	}
	bad := func(format string, args ...any) error {
		return errs.New(errs.Invalid, "", "query key %q: "+format, append([]any{c.Key}, args...)...)
	}
	eqCol := f.col
	if f.folded != "" {
		eqCol = f.folded
	}
	switch c.Op {
	case "=":
		if len(c.Values) != 1 {
			return bad("exact match takes one value, got %d", len(c.Values))
		}
		v, err := q.queryValue(f, c.Key, c.Values[0])
		if err != nil {
			return err
		}
		w.add(eqCol+" = ?", v)
	case "in":
		if f.kind != textField && f.kind != intField {
			return bad("does not take a list")
		}
		if len(c.Values) == 0 {
			return bad("the list is empty")
		}
		args := make([]any, len(c.Values))
		for i, s := range c.Values {
			v, err := q.queryValue(f, c.Key, s)
			if err != nil {
				return err
			}
			args[i] = v
		}
		w.add(eqCol+" IN ("+placeholders(len(args))+")", args...)
	case "~":
		if f.kind != textField {
			return bad("does not take a fuzzy match")
		}
		if len(c.Values) != 1 {
			return bad("fuzzy match takes one value, got %d", len(c.Values))
		}
		col, v := "lower("+f.col+")", asciiLower(c.Values[0])
		if f.folded != "" {
			col, v = f.folded, strings.ToLower(c.Values[0])
		}
		w.add(col+` LIKE ? ESCAPE '\'`, "%"+escapeLike(v)+"%")
	case "range":
		if f.kind != intField && f.kind != timeField {
			return bad("does not take a range")
		}
		if len(c.Values) != 2 {
			return bad("a range takes a minimum and a maximum, got %d values", len(c.Values))
		}
		for i, op := range []string{" >= ?", " <= ?"} {
			if c.Values[i] == "" {
				continue // open end
			}
			v, err := q.queryValue(f, c.Key, c.Values[i])
			if err != nil {
				return err
			}
			w.add(f.col+op, v)
		}
	default:
		return bad("unsupported operator %q", c.Op)
	}
	return nil
}

// queryValue parses s as a value of f's kind, ready to bind.
func (q *Q) queryValue(f field, key, s string) (any, error) {
	switch f.kind {
	case intField:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errs.New(errs.Invalid, "", "query key %q: %q is not an integer", key, s)
		}
		return n, nil
	case boolField:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errs.New(errs.Invalid, "", "query key %q: %q is not true or false", key, s)
		}
		return b, nil
	case timeField:
		t, err := parseQueryTime(s)
		if err != nil {
			return nil, errs.New(errs.Invalid, "", "query key %q: %q is not a time like %q or RFC 3339",
				key, s, queryTimeLayout)
		}
		return q.ts(t), nil
	}
	if f.fold != nil {
		return f.fold(s), nil
	}
	if f.folded != "" {
		return strings.ToLower(s), nil
	}
	return s, nil
}

// queryTimeLayout is the time format of Harbor's q ranges, read as UTC.
const queryTimeLayout = "2006-01-02 15:04:05"

func parseQueryTime(s string) (time.Time, error) {
	for _, layout := range []string{queryTimeLayout, time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// escapeLike escapes LIKE's wildcards in s for use with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// asciiLower lower-cases ASCII letters only, as SQLite's lower() and
// PostgreSQL's lower() on COLLATE "C" text do.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
