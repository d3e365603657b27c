package access

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/errs"
)

func TestCheckRobotName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ci", true},
		{"a", true},
		{"build-bot.v2_x", true},
		{"0day", true},
		{"", false},
		{"CI", false},
		{"ci+bot", false},
		{"-ci", false},
		{"ci-", false},
		{"c..i", false},
		{"c i", false},
		{"robot$ci", false},
		{strings.Repeat("a", 256), false},
	} {
		err := checkRobotName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkRobotName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errs.Is(err, errs.Invalid) {
			t.Errorf("checkRobotName(%q): kind %v, want invalid", tc.name, errs.KindOf(err))
		}
	}
}

func TestRobotDurationAndExpiry(t *testing.T) {
	for _, d := range []int64{-1, 1, 30, maxRobotDays} {
		if err := checkDuration(d); err != nil {
			t.Errorf("checkDuration(%d) = %v, want nil", d, err)
		}
	}
	for _, d := range []int64{0, -2, maxRobotDays + 1} {
		if err := checkDuration(d); !errs.Is(err, errs.Invalid) {
			t.Errorf("checkDuration(%d) = %v, want invalid", d, err)
		}
	}
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if got := robotExpiry(from, -1); got != -1 {
		t.Errorf("robotExpiry(-1) = %d, want -1", got)
	}
	if got, want := robotExpiry(from, 30), from.AddDate(0, 0, 30).Unix(); got != want {
		t.Errorf("robotExpiry(30) = %d, want %d", got, want)
	}
}

func TestCheckRobotPermissions(t *testing.T) {
	acc := func(pairs ...string) []RobotAccess {
		var out []RobotAccess
		for _, p := range pairs {
			res, act, _ := strings.Cut(p, ":")
			out = append(out, RobotAccess{Resource: res, Action: act})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		level   string
		perms   []RobotPermission
		want    []RobotPermission // nil: same as perms
		wantErr string            // substring of the error; "" for success
	}{
		{
			name:  "project robot",
			level: "project",
			perms: []RobotPermission{{Kind: "project", Namespace: "alpha", Access: acc("repository:pull", "repository:push", "artifact:delete")}},
		},
		{
			name:  "system robot spanning projects",
			level: "system",
			perms: []RobotPermission{
				{Kind: "system", Namespace: "/", Access: acc("robot:create", "project:list")},
				{Kind: "project", Namespace: "alpha", Access: acc("repository:pull")},
				{Kind: "project", Namespace: "*", Access: acc("repository:pull")},
			},
		},
		{
			name:  "system namespace defaults to /",
			level: "system",
			perms: []RobotPermission{{Kind: "system", Access: acc("catalog:read")}},
			want:  []RobotPermission{{Kind: "system", Namespace: "/", Access: acc("catalog:read")}},
		},
		{
			name:  "explicit effects",
			level: "project",
			perms: []RobotPermission{{Kind: "project", Namespace: "alpha", Access: []RobotAccess{
				{Resource: "repository", Action: "pull", Effect: "allow"},
				{Resource: "repository", Action: "push", Effect: "deny"},
			}}},
		},
		{name: "bad level", level: "global", perms: []RobotPermission{{Kind: "system", Namespace: "/"}}, wantErr: `level must be`},
		{name: "no permissions", level: "system", wantErr: "at least one permission"},
		{
			name:  "project robot with two permissions",
			level: "project",
			perms: []RobotPermission{
				{Kind: "project", Namespace: "alpha", Access: acc("repository:pull")},
				{Kind: "project", Namespace: "beta", Access: acc("repository:pull")},
			},
			wantErr: "exactly one permission",
		},
		{
			name:    "project robot with a system permission",
			level:   "project",
			perms:   []RobotPermission{{Kind: "system", Namespace: "/", Access: acc("robot:create")}},
			wantErr: "cannot hold system permissions",
		},
		{
			name:    "project robot on every project",
			level:   "project",
			perms:   []RobotPermission{{Kind: "project", Namespace: "*", Access: acc("repository:pull")}},
			wantErr: "must name its project",
		},
		{
			name:    "unknown action",
			level:   "project",
			perms:   []RobotPermission{{Kind: "project", Namespace: "alpha", Access: acc("repository:fly")}},
			wantErr: "repository:fly",
		},
		{
			name:    "wildcard action is not a permission",
			level:   "project",
			perms:   []RobotPermission{{Kind: "project", Namespace: "alpha", Access: acc("repository:*")}},
			wantErr: "repository:*",
		},
		{
			name:    "system permission in a project",
			level:   "system",
			perms:   []RobotPermission{{Kind: "project", Namespace: "alpha", Access: acc("user:create")}},
			wantErr: "user:create is not a project permission",
		},
		{
			name:    "project permission at system level",
			level:   "system",
			perms:   []RobotPermission{{Kind: "system", Namespace: "/", Access: acc("repository:pull")}},
			wantErr: "repository:pull is not a system permission",
		},
		{
			name:    "system namespace other than /",
			level:   "system",
			perms:   []RobotPermission{{Kind: "system", Namespace: "alpha", Access: acc("catalog:read")}},
			wantErr: `namespace "/"`,
		},
		{
			name:    "bad kind",
			level:   "system",
			perms:   []RobotPermission{{Kind: "cluster", Namespace: "/", Access: acc("catalog:read")}},
			wantErr: "permission kind",
		},
		{
			name:    "bad project name",
			level:   "system",
			perms:   []RobotPermission{{Kind: "project", Namespace: "../x", Access: acc("repository:pull")}},
			wantErr: "invalid project name",
		},
		{
			name:    "bad effect",
			level:   "project",
			perms:   []RobotPermission{{Kind: "project", Namespace: "alpha", Access: []RobotAccess{{Resource: "repository", Action: "pull", Effect: "maybe"}}}},
			wantErr: "effect",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkRobotPermissions(tc.level, tc.perms)
			if tc.wantErr != "" {
				if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want invalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			want := tc.want
			if want == nil {
				want = tc.perms
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("permissions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRobotCovers(t *testing.T) {
	holder := &RobotInfo{Permissions: []RobotPermission{
		{Kind: "system", Namespace: "/", Access: []RobotAccess{{Resource: "robot", Action: "create"}, {Resource: "robot", Action: "list"}}},
		{Kind: "project", Namespace: "alpha", Access: []RobotAccess{{Resource: "repository", Action: "pull"}, {Resource: "repository", Action: "push"}}},
		{Kind: "project", Namespace: "*", Access: []RobotAccess{{Resource: "artifact", Action: "read"}}},
		{Kind: "project", Namespace: "beta", Access: []RobotAccess{{Resource: "tag", Action: "delete", Effect: "deny"}}},
	}}
	perm := func(kind, ns, res, act, effect string) []RobotPermission {
		return []RobotPermission{{Kind: kind, Namespace: ns, Access: []RobotAccess{{Resource: res, Action: act, Effect: effect}}}}
	}
	for _, tc := range []struct {
		name string
		ask  []RobotPermission
		ok   bool
	}{
		{"own system permission", perm("system", "/", "robot", "list", ""), true},
		{"own project permission", perm("project", "alpha", "repository", "push", ""), true},
		{"wildcard grant covers a named project", perm("project", "gamma", "artifact", "read", ""), true},
		{"wildcard grant covers the wildcard", perm("project", "*", "artifact", "read", ""), true},
		{"named grant does not cover the wildcard", perm("project", "*", "repository", "pull", ""), false},
		{"other project", perm("project", "beta", "repository", "pull", ""), false},
		{"system permission not held", perm("system", "/", "user", "create", ""), false},
		{"project action not held", perm("project", "alpha", "repository", "delete", ""), false},
		{"a denial never escalates", perm("project", "alpha", "repository", "delete", "deny"), true},
		{"a held denial is no grant", perm("project", "beta", "tag", "delete", ""), false},
		{"nothing asked", nil, true},
	} {
		missing, ok := holder.covers(tc.ask)
		if ok != tc.ok {
			t.Errorf("%s: covers = %v (missing %q), want %v", tc.name, ok, missing, tc.ok)
		}
		if !ok && missing == "" {
			t.Errorf("%s: refused without naming the missing grant", tc.name)
		}
	}
}
