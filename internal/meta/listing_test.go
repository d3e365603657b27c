package meta

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
)

// must2 unwraps a listing's (rows, total, error): must2(q.ListX(…))(t).
func must2[T any](v []T, n int, err error) func(testing.TB) ([]T, int) {
	return func(t testing.TB) ([]T, int) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v, n
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func userNames(us []User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

func TestPage(t *testing.T) {
	for _, c := range []struct {
		o            ListOptions
		size, offset int
	}{
		{ListOptions{}, 10, 0},
		{ListOptions{Page: -3, PageSize: -1}, 10, 0},
		{ListOptions{Page: 3}, 10, 20},
		{ListOptions{Page: 2, PageSize: 7}, 7, 7},
		{ListOptions{Page: 1, PageSize: 1000}, 100, 0},
		{ListOptions{Page: 4, PageSize: 101}, 100, 300},
	} {
		size, offset := page(c.o)
		diff(t, fmt.Sprintf("page(%+v)", c.o), [2]int64{int64(c.size), int64(c.offset)}, [2]int64{int64(size), offset})
	}
}

func TestEscapeLike(t *testing.T) {
	diff(t, "escapeLike", `a\_b\%c\\d`, escapeLike(`a_b%c\d`))
	diff(t, "asciiLower", "abc-ÄÖ", asciiLower("AbC-ÄÖ"))
}

func TestListUsersQuery(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		for _, u := range []User{
			{Username: "a_b", Email: "A_B@example.com", Realname: "Under Score"},
			{Username: "axb", Email: "axb@example.com", Realname: "Plain"},
			{Username: "Zed", Email: "zed@example.com", Realname: "50% off"},
			{Username: "carol", Email: "carol@example.org", Realname: "Back\\slash"},
			{Username: "Bob", Realname: "Bobby"},
		} {
			must1[User](t)(q.CreateUser(ctx, u))
		}
		eq := func(k, v string) []Cond { return []Cond{{Key: k, Op: "=", Values: []string{v}}} }
		fz := func(k, v string) []Cond { return []Cond{{Key: k, Op: "~", Values: []string{v}}} }
		for _, c := range []struct {
			name  string
			o     ListOptions
			names []string
		}{
			{"default order is case-insensitive username", ListOptions{}, []string{"a_b", "axb", "Bob", "carol", "Zed"}},
			{"-username", ListOptions{Sort: []SortKey{{Key: "username", Desc: true}}},
				[]string{"Zed", "carol", "Bob", "axb", "a_b"}},
			{"email then creation", ListOptions{Sort: []SortKey{{Key: "email"}, {Key: "creation_time"}}},
				[]string{"Bob", "a_b", "axb", "carol", "Zed"}},
			{"-email", ListOptions{Sort: []SortKey{{Key: "email", Desc: true}}},
				[]string{"Zed", "carol", "axb", "a_b", "Bob"}},
			{"username exact, any case", ListOptions{Query: eq("username", "BOB")}, []string{"Bob"}},
			{"username in, any case", ListOptions{Query: []Cond{{Key: "username", Op: "in", Values: []string{"zed", "CAROL", "x"}}}},
				[]string{"carol", "Zed"}},
			{"underscore is literal", ListOptions{Query: fz("username", "a_b")}, []string{"a_b"}},
			{"fuzzy is case-insensitive", ListOptions{Query: fz("username", "O")}, []string{"Bob", "carol"}},
			{"percent is literal", ListOptions{Query: fz("realname", "50%")}, []string{"Zed"}},
			{"percent alone", ListOptions{Query: fz("realname", "%")}, []string{"Zed"}},
			{"backslash is literal", ListOptions{Query: fz("realname", `k\s`)}, []string{"carol"}},
			{"realname fuzzy, ASCII case folded", ListOptions{Query: fz("realname", "SCORE")}, []string{"a_b"}},
			{"realname exact is exact", ListOptions{Query: eq("realname", "plain")}, []string{}},
			{"email exact, any case", ListOptions{Query: eq("email", "a_b@EXAMPLE.COM")}, []string{"a_b"}},
			{"email fuzzy", ListOptions{Query: fz("email", ".ORG")}, []string{"carol"}},
			{"two conditions AND", ListOptions{Query: append(fz("email", "example.com"), fz("username", "b")...)},
				[]string{"a_b", "axb"}},
		} {
			us, total := must2(q.ListUsers(ctx, c.o))(t)
			diff(t, c.name, c.names, userNames(us))
			diff(t, c.name+" total", len(c.names), total)
		}
	})
}

func TestListPaging(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		// 120 users, inserted in one transaction for speed.
		must(t, db.Tx(ctx, func(q *Q) error {
			for i := range 120 {
				if _, err := q.CreateUser(ctx, User{Username: fmt.Sprintf("u%03d", i)}); err != nil {
					return err
				}
			}
			return nil
		}))
		q := db.Q()
		us, total := must2(q.ListUsers(ctx, ListOptions{}))(t)
		diff(t, "default page size", 10, len(us))
		diff(t, "total", 120, total)
		diff(t, "first of default page", "u000", us[0].Username)
		us, total = must2(q.ListUsers(ctx, ListOptions{PageSize: 1000}))(t)
		diff(t, "capped page size", 100, len(us))
		diff(t, "total when capped", 120, total)
		us, _ = must2(q.ListUsers(ctx, ListOptions{Page: 2, PageSize: 100}))(t)
		diff(t, "last page", []string{"u100", "u101", "u102", "u103", "u104", "u105", "u106", "u107", "u108", "u109",
			"u110", "u111", "u112", "u113", "u114", "u115", "u116", "u117", "u118", "u119"}, userNames(us))
		us, total = must2(q.ListUsers(ctx, ListOptions{Page: 99}))(t)
		diff(t, "past the end", []string{}, userNames(us))
		diff(t, "total past the end", 120, total)

		// Equal sort keys (no user has an email): the id tiebreaker makes
		// pages partition the rows, in creation order.
		var seen []string
		for p := 1; p <= 12; p++ {
			us, _ := must2(q.ListUsers(ctx, ListOptions{Page: p, PageSize: 10,
				Sort: []SortKey{{Key: "email"}}}))(t)
			seen = append(seen, userNames(us)...)
		}
		want := []string{}
		for i := range 120 {
			want = append(want, fmt.Sprintf("u%03d", i))
		}
		diff(t, "all pages in id order", want, seen)
	})
}

// TestListRejects checks that every listing refuses keys, sort fields,
// operators and values it does not know, naming them.
func TestListRejects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		c1 := func(k, op string, vs ...string) ListOptions {
			return ListOptions{Query: []Cond{{Key: k, Op: op, Values: vs}}}
		}
		sortBy := func(k string) ListOptions { return ListOptions{Sort: []SortKey{{Key: k}}} }
		list := map[string]func(ListOptions) error{
			"users": func(o ListOptions) error { _, _, err := q.ListUsers(ctx, o); return err },
			"projects": func(o ListOptions) error {
				_, _, err := q.ListProjects(ctx, o, ProjectFilter{All: true})
				return err
			},
			"members": func(o ListOptions) error { _, _, err := q.ListMembers(ctx, 1, "", o); return err },
			"robots":  func(o ListOptions) error { _, _, err := q.ListRobots(ctx, o); return err },
			"audit":   func(o ListOptions) error { _, _, err := q.ListAudit(ctx, o, 0); return err },
		}
		for _, c := range []struct {
			listing string
			o       ListOptions
			names   string // must appear in the message
		}{
			{"users", c1("password_hash", "=", "x"), "password_hash"},
			{"users", c1("username; DROP TABLE users", "=", "x"), "DROP TABLE"},
			{"users", sortBy("password_hash"), "password_hash"},
			{"users", sortBy("username DESC"), "username DESC"},
			{"users", c1("username", "range", "a", "b"), "username"},
			{"users", c1("username", ">", "a"), ">"},
			{"users", c1("username", "=", "a", "b"), "username"},
			{"users", c1("username", "in"), "username"},
			{"projects", c1("owner", "=", "1"), "owner"},
			{"projects", c1("public", "=", "maybe"), "maybe"},
			{"projects", c1("project_id", "=", "1 OR 1=1"), "1 OR 1=1"},
			{"projects", c1("project_id", "~", "1"), "project_id"},
			{"projects", c1("public", "in", "true"), "public"},
			{"projects", sortBy("owner_id"), "owner_id"},
			{"members", c1("username", "=", "x"), "username"},
			{"members", sortBy("username"), "username"},
			{"robots", c1("secret_hash", "=", "x"), "secret_hash"},
			{"robots", c1("level", "range", "a", "b"), "level"},
			{"robots", sortBy("secret_hash"), "secret_hash"},
			{"audit", c1("op_time", "range", "yesterday", ""), "yesterday"},
			{"audit", c1("op_time", "range", "2024-01-01"), "op_time"},
			{"audit", c1("op_time", "~", "2024"), "op_time"},
			{"audit", c1("detail", "=", "x"), "detail"},
			{"audit", sortBy("detail"), "detail"},
		} {
			err := list[c.listing](c.o)
			wantKind(t, err, errs.Invalid)
			if msg := err.Error(); !strings.Contains(msg, c.names) {
				t.Errorf("%s %+v: error %q does not name %q", c.listing, c.o, msg, c.names)
			}
		}
		// Open ranges and date-only bounds are fine.
		must(t, list["audit"](c1("op_time", "range", "", "")))
		must(t, list["audit"](c1("op_time", "range", "2024-01-01", "")))
		diff(t, "users after hostile queries", 0, count(t, db, `SELECT count(*) FROM users`))
	})
}
