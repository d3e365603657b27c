package access

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

func TestCheckProjectName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		msg  string
	}{
		{"library", true, ""},
		{"a", true, ""},
		{"team-a.b_c9", true, ""},
		{"123", true, ""},
		{strings.Repeat("a", 255), true, ""},
		{"", false, "empty"},
		{"Team", false, "lower case"},
		{"TEAM-A", false, "lower case"},
		{"a__b", false, "invalid project name"},
		{"a.-b", false, "invalid project name"},
		{"-a", false, "invalid project name"},
		{"a-", false, "invalid project name"},
		{"a/b", false, "invalid project name"},
		{"a+b", false, "invalid project name"},
		{"a b", false, "invalid project name"},
		{"ä", false, "invalid project name"},
		{"Ä$", false, "invalid project name"},
		{strings.Repeat("a", 256), false, "longer than 255"},
	} {
		err := CheckProjectName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckProjectName(%.20q) = %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil && (!errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("CheckProjectName(%.20q) = %v, want invalid mentioning %q", tc.name, err, tc.msg)
		}
	}
}

func TestCheckMetadata(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
		ok               bool
	}{
		{"public", "true", "true", true},
		{"public", "false", "false", true},
		{"public", "TRUE", "", false},
		{"public", "1", "", false},
		{"auto_scan", "false", "false", true},
		{"enable_content_trust_cosign", "true", "true", true},
		{"reuse_sys_cve_allowlist", "yes", "", false},
		{"severity", "High", "high", true},
		{"severity", "none", "", false},
		{"retention_id", "7", "7", true},
		{"retention_id", "-7", "", false},
		{"proxy_speed_kb", "100", "", false},
		{"colour", "red", "", false},
	} {
		got, err := checkMetadata(tc.key, tc.value)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("checkMetadata(%s, %s) = %q, %v; want %q ok=%v", tc.key, tc.value, got, err, tc.want, tc.ok)
		}
		if err != nil && !errs.Is(err, errs.Invalid) {
			t.Errorf("checkMetadata(%s, %s): kind %v", tc.key, tc.value, errs.KindOf(err))
		}
	}
}

func TestCheckUsernameAndProfile(t *testing.T) {
	s := &Service{robotPrefix: "robot$"}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"Alice.Smith@corp", true},
		{"名前", true},
		{strings.Repeat("u", 255), true},
		{"", false},
		{strings.Repeat("u", 256), false},
		{"a,b", false},
		{"a~b", false},
		{"a#b", false},
		{"a%b", false},
		{"a\tb", false},
		{"a\x00b", false},
		{" alice", false},
		{"robot$ci", false},
		{"ROBOT$ci", false},
	} {
		if err := s.CheckUsername(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckUsername(%.20q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	// Another prefix makes "robot$" merely illegal, and the new prefix reserved.
	s = &Service{robotPrefix: "bot-"}
	if err := s.CheckUsername("bot-ci"); err == nil || !strings.Contains(err.Error(), "robot prefix") {
		t.Errorf("CheckUsername(bot-ci) with prefix bot- = %v", err)
	}
	for _, tc := range []struct {
		email, realname, comment string
		ok                       bool
	}{
		{"a@example.com", "Alice", "", true},
		{"", "", "", true},
		{"a.b+c@sub.example.org", "Ann O'Neil", "anything, even #", true},
		{"a@localhost", "", "", false},
		{"not-an-email", "", "", false},
		{"Alice <a@example.com>", "", "", false},
		{"a@example.com", "A#B", "", false},
		{"a@example.com", strings.Repeat("r", 256), "", false},
		{"a@example.com", "", "a\x00b", false},
		{"a@example.com", "", strings.Repeat("c", 1025), false},
	} {
		if err := checkProfile(tc.email, tc.realname, tc.comment); (err == nil) != tc.ok {
			t.Errorf("checkProfile(%q, %.20q, %.20q) = %v, want ok=%v", tc.email, tc.realname, tc.comment, err, tc.ok)
		}
	}
}

// TestEvaluatorAgreesWithCan checks that the one-lookup evaluator used for
// permission lists and summaries answers exactly as Can, for every role,
// anonymous callers, administrators and robots, on a private and a public
// project.
func TestEvaluatorAgreesWithCan(t *testing.T) {
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := New(ctx, db, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	q := db.Q()
	principals := map[string]Principal{"anonymous": {}}
	var users []meta.User
	for _, name := range []string{"owner", "maintainer", "developer", "guest", "limited", "outsider", "root"} {
		u, err := q.CreateUser(ctx, meta.User{Username: name, SysAdmin: name == "root"})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
		principals[name] = UserPrincipal(u)
	}
	var projects []meta.Project
	for _, public := range []bool{false, true} {
		name := map[bool]string{false: "private", true: "public"}[public]
		pr, err := q.CreateProject(ctx, meta.Project{Name: name, OwnerID: users[0].ID, Public: public, StorageLimit: -1}, RoleProjectAdmin)
		if err != nil {
			t.Fatal(err)
		}
		for i, role := range []int{RoleMaintainer, RoleDeveloper, RoleGuest, RoleLimitedGuest} {
			if _, err := q.AddMember(ctx, meta.Member{ProjectID: pr.ID, EntityType: meta.MemberUser, EntityID: users[i+1].ID, RoleID: role}); err != nil {
				t.Fatal(err)
			}
		}
		projects = append(projects, pr)
	}
	principals["robot"] = Principal{Kind: RobotKind, Username: "robot$ci", Robot: &RobotInfo{Permissions: []RobotPermission{
		{Kind: "project", Namespace: "private", Access: []RobotAccess{{Resource: ResRepository, Action: ActPush}, {Resource: ResMember, Action: ActAll}}},
	}}}
	for who, p := range principals {
		for _, pr := range projects {
			can, err := s.evaluator(ctx, p, pr)
			if err != nil {
				t.Fatal(err)
			}
			for _, perm := range ProjectPerms() {
				want, err := s.Can(ctx, p, pr, perm.Resource, perm.Action)
				if err != nil {
					t.Fatal(err)
				}
				if got := can(perm.Resource, perm.Action); got != want {
					t.Errorf("%s in %s, %s: evaluator %v, Can %v", who, pr.Name, perm, got, want)
				}
			}
		}
	}
}
