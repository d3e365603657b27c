package meta

import (
	"context"
	"errors"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
)

// Harbor's role ids, as the access package will pass them.
const (
	roleAdmin     = 1
	roleDeveloper = 2
	roleGuest     = 3
	roleMaint     = 4
)

func mkProject(t testing.TB, q *Q, name string, owner User, public bool) Project {
	t.Helper()
	return must1[Project](t)(q.CreateProject(context.Background(), Project{
		Name: name, OwnerID: owner.ID, Public: public, StorageLimit: -1,
	}, roleAdmin))
}

func addMember(t testing.TB, q *Q, p Project, u User, role int) Member {
	t.Helper()
	return must1[Member](t)(q.AddMember(context.Background(), Member{
		ProjectID: p.ID, EntityType: MemberUser, EntityID: u.ID, RoleID: role,
	}))
}

func projectNames(ps []Project) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestProjectsCRUD(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "Owner")

		before := now()
		p := must1[Project](t)(q.CreateProject(ctx, Project{
			Name: "library", OwnerID: owner.ID, Public: true, StorageLimit: 1 << 30,
			Metadata: map[string]string{"auto_scan": "true", "severity": "high"},
		}, roleAdmin))
		if p.ID <= 0 || p.CreatedAt.Before(before) || !p.UpdatedAt.Equal(p.CreatedAt) {
			t.Fatalf("CreateProject returned id %d, times %v/%v", p.ID, p.CreatedAt, p.UpdatedAt)
		}
		diff(t, "created project", Project{
			ID: p.ID, Name: "library", OwnerID: owner.ID, Public: true, StorageLimit: 1 << 30,
			Metadata:  map[string]string{"auto_scan": "true", "severity": "high"},
			CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt,
		}, p)
		diff(t, "GetProject", p, must1[Project](t)(q.GetProject(ctx, p.ID)))
		diff(t, "GetProjectByName", p, must1[Project](t)(q.GetProjectByName(ctx, "library")))
		_, err := q.GetProjectByName(ctx, "LIBRARY")
		wantKind(t, err, errs.NotFound)
		_, err = q.GetProject(ctx, 9999)
		wantKind(t, err, errs.NotFound)

		// The owner became a Project Admin member in the same step.
		members, n := must2(q.ListMembers(ctx, p.ID, "", ListOptions{}))(t)
		diff(t, "owner membership", []Member{{
			ID: members[0].ID, ProjectID: p.ID, EntityType: MemberUser, EntityID: owner.ID, EntityName: "Owner",
			RoleID: roleAdmin, CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt,
		}}, members)
		diff(t, "member total", 1, n)
		diff(t, "owner role", roleAdmin, must1[int](t)(q.MemberRole(ctx, p.ID, owner.ID)))

		// Refusals leave nothing behind.
		_, err = q.CreateProject(ctx, Project{Name: "library", OwnerID: owner.ID}, roleAdmin)
		wantKind(t, err, errs.Conflict)
		_, err = q.CreateProject(ctx, Project{Name: "orphan", OwnerID: 9999}, roleAdmin)
		wantKind(t, err, errs.NotFound)
		_, err = q.CreateProject(ctx, Project{Name: "norole", OwnerID: owner.ID}, 0)
		wantKind(t, err, errs.Invalid)
		_, err = q.CreateProject(ctx, Project{OwnerID: owner.ID}, roleAdmin)
		wantKind(t, err, errs.Invalid)
		diff(t, "projects", 1, count(t, db, `SELECT count(*) FROM projects`))
		diff(t, "members", 1, count(t, db, `SELECT count(*) FROM project_members`))

		// Update: public flag, limit and metadata; nil metadata is empty.
		upd := p
		upd.Name, upd.OwnerID = "ignored", 9999
		upd.Public, upd.StorageLimit, upd.Metadata = false, -1, nil
		must(t, q.UpdateProject(ctx, upd))
		got := must1[Project](t)(q.GetProject(ctx, p.ID))
		if got.UpdatedAt.Before(p.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %v -> %v", p.UpdatedAt, got.UpdatedAt)
		}
		diff(t, "updated project", Project{
			ID: p.ID, Name: "library", OwnerID: owner.ID, StorageLimit: -1, Metadata: map[string]string{},
			CreatedAt: p.CreatedAt, UpdatedAt: got.UpdatedAt,
		}, got)
		wantKind(t, q.UpdateProject(ctx, Project{ID: 9999}), errs.NotFound)
	})
}

func TestCreateProjectInTx(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		owner := mkUser(t, db.Q(), "owner")
		mkProject(t, db.Q(), "taken", owner, false)

		// A conflict does not spoil the caller's transaction, and a
		// rollback takes the project and its owner membership with it.
		rollback := errors.New("roll back")
		err := db.Tx(ctx, func(q *Q) error {
			_, err := q.CreateProject(ctx, Project{Name: "taken", OwnerID: owner.ID}, roleAdmin)
			wantKind(t, err, errs.Conflict)
			p, err := q.CreateProject(ctx, Project{Name: "fresh", OwnerID: owner.ID}, roleAdmin)
			if err != nil {
				return err
			}
			diff(t, "role inside the transaction", roleAdmin, must1[int](t)(q.MemberRole(ctx, p.ID, owner.ID)))
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Tx = %v, want the function's error", err)
		}
		diff(t, "projects", 1, count(t, db, `SELECT count(*) FROM projects`))
		diff(t, "members", 1, count(t, db, `SELECT count(*) FROM project_members`))
	})
}

func TestDeleteProjectCascades(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		dev := mkUser(t, q, "dev")
		gone := mkProject(t, q, "gone", owner, false)
		kept := mkProject(t, q, "kept", owner, false)
		addMember(t, q, gone, dev, roleDeveloper)
		addMember(t, q, kept, dev, roleGuest)
		for _, r := range []Robot{
			{Name: "gone+ci", Level: RobotProject, ProjectID: gone.ID},
			{Name: "kept+ci", Level: RobotProject, ProjectID: kept.ID},
			{Name: "sys", Level: RobotSystem},
		} {
			r.Duration, r.ExpiresAt = -1, -1
			must1[Robot](t)(q.CreateRobot(ctx, r))
		}

		must(t, q.DeleteProject(ctx, gone.ID))
		_, err := q.GetProject(ctx, gone.ID)
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.DeleteProject(ctx, gone.ID), errs.NotFound)
		diff(t, "dev's roles", map[int64]int{kept.ID: roleGuest}, must1[map[int64]int](t)(q.UserRoles(ctx, dev.ID)))
		diff(t, "members of gone", 0, count(t, db, `SELECT count(*) FROM project_members WHERE project_id = ?`, gone.ID))
		robots, _ := must2(q.ListRobots(ctx, ListOptions{}))(t)
		diff(t, "robots left", []string{"kept+ci", "sys"}, robotNames(robots))
		_, err = q.GetRobotByName(ctx, "gone+ci")
		wantKind(t, err, errs.NotFound)
	})
}

func TestListProjectsVisibility(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		admin := mkUser(t, q, "admin")
		alice := mkUser(t, q, "alice")
		bob := mkUser(t, q, "bob")
		pub := mkProject(t, q, "pub", admin, true)
		priv := mkProject(t, q, "priv", admin, false)
		mine := mkProject(t, q, "mine", alice, false)
		shared := mkProject(t, q, "shared", admin, false)
		robotNS := mkProject(t, q, "robotns", admin, false)
		pub2 := mkProject(t, q, "pub2", alice, true)
		addMember(t, q, shared, alice, roleGuest)
		addMember(t, q, pub, alice, roleDeveloper)
		_ = priv

		cases := []struct {
			name  string
			f     ProjectFilter
			o     ListOptions
			names []string
		}{
			{"all", ProjectFilter{All: true}, ListOptions{}, []string{"mine", "priv", "pub", "pub2", "robotns", "shared"}},
			{"anonymous", ProjectFilter{}, ListOptions{}, []string{"pub", "pub2"}},
			{"member", ProjectFilter{UserID: alice.ID}, ListOptions{}, []string{"mine", "pub", "pub2", "shared"}},
			{"no memberships", ProjectFilter{UserID: bob.ID}, ListOptions{}, []string{"pub", "pub2"}},
			{"extra ids", ProjectFilter{UserID: bob.ID, ExtraIDs: []int64{robotNS.ID, robotNS.ID, pub.ID}}, ListOptions{},
				[]string{"pub", "pub2", "robotns"}},
			{"member and extra", ProjectFilter{UserID: alice.ID, ExtraIDs: []int64{robotNS.ID}}, ListOptions{},
				[]string{"mine", "pub", "pub2", "robotns", "shared"}},
			{"public only", ProjectFilter{UserID: alice.ID, PublicOnly: true}, ListOptions{}, []string{"pub", "pub2"}},
			{"all public only", ProjectFilter{All: true, PublicOnly: true}, ListOptions{}, []string{"pub", "pub2"}},
			{"q public=false", ProjectFilter{UserID: alice.ID},
				ListOptions{Query: []Cond{{Key: "public", Op: "=", Values: []string{"false"}}}}, []string{"mine", "shared"}},
			{"q owner_id", ProjectFilter{All: true},
				ListOptions{Query: []Cond{{Key: "owner_id", Op: "=", Values: []string{itoa(alice.ID)}}}}, []string{"mine", "pub2"}},
			{"q project_id in", ProjectFilter{UserID: alice.ID},
				ListOptions{Query: []Cond{{Key: "project_id", Op: "in", Values: []string{itoa(priv.ID), itoa(mine.ID), itoa(pub2.ID)}}}},
				[]string{"mine", "pub2"}},
			{"q name fuzzy", ProjectFilter{All: true},
				ListOptions{Query: []Cond{{Key: "name", Op: "~", Values: []string{"PUB"}}}}, []string{"pub", "pub2"}},
			{"q name exact", ProjectFilter{All: true},
				ListOptions{Query: []Cond{{Key: "name", Op: "=", Values: []string{"pub"}}}}, []string{"pub"}},
			{"sort -project_id", ProjectFilter{UserID: alice.ID},
				ListOptions{Sort: []SortKey{{Key: "project_id", Desc: true}}}, []string{"pub2", "shared", "mine", "pub"}},
			{"page 2 of 2", ProjectFilter{All: true}, ListOptions{Page: 2, PageSize: 4}, []string{"robotns", "shared"}},
		}
		for _, c := range cases {
			ps, total := must2(q.ListProjects(ctx, c.o, c.f))(t)
			diff(t, c.name, c.names, projectNames(ps))
			if c.o.Page == 0 {
				diff(t, c.name+" total", len(c.names), total)
			}
		}
		ps, total := must2(q.ListProjects(ctx, ListOptions{Page: 2, PageSize: 4}, ProjectFilter{All: true}))(t)
		diff(t, "paged total", 6, total)
		diff(t, "paged rows are whole", must1[Project](t)(q.GetProject(ctx, shared.ID)), ps[1])
	})
}

func TestCountReposInProject(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		for _, name := range []string{"proj/a", "proj/x/y", "proj2/x", "proj", "projx/a", "pro/j",
			"my_proj/a", "myxproj/a", "PROJ/upper"} {
			must1[Repo](t)(q.EnsureRepo(ctx, name))
		}
		for name, want := range map[string]int{
			"proj": 2, "proj2": 1, "pro": 1, "my_proj": 1, "myxproj": 1, "my%": 0, "p": 0, "nothing": 0,
		} {
			diff(t, "repositories in "+name, want, must1[int](t)(q.CountReposInProject(ctx, name)))
		}
		_, err := q.CountReposInProject(ctx, "")
		wantKind(t, err, errs.Invalid)
	})
}

func TestMembers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		dev := mkUser(t, q, "Dev_One")
		devx := mkUser(t, q, "devxone")
		guest := mkUser(t, q, "guest")
		p := mkProject(t, q, "p", owner, false)
		other := mkProject(t, q, "other", owner, false)

		m := addMember(t, q, p, dev, roleDeveloper)
		diff(t, "added member", Member{
			ID: m.ID, ProjectID: p.ID, EntityType: MemberUser, EntityID: dev.ID, EntityName: "Dev_One",
			RoleID: roleDeveloper, CreatedAt: m.CreatedAt, UpdatedAt: m.CreatedAt,
		}, m)
		diff(t, "GetMember", m, must1[Member](t)(q.GetMember(ctx, p.ID, m.ID)))
		_, err := q.GetMember(ctx, other.ID, m.ID)
		wantKind(t, err, errs.NotFound)
		mx := addMember(t, q, p, devx, roleMaint)
		mg := addMember(t, q, p, guest, roleGuest)
		addMember(t, q, other, dev, roleGuest)

		// Refusals.
		_, err = q.AddMember(ctx, Member{ProjectID: p.ID, EntityType: MemberUser, EntityID: dev.ID, RoleID: roleGuest})
		wantKind(t, err, errs.Conflict)
		_, err = q.AddMember(ctx, Member{ProjectID: p.ID, EntityType: MemberUser, EntityID: 9999, RoleID: roleGuest})
		wantKind(t, err, errs.NotFound)
		_, err = q.AddMember(ctx, Member{ProjectID: 9999, EntityType: MemberUser, EntityID: dev.ID, RoleID: roleGuest})
		wantKind(t, err, errs.NotFound)
		_, err = q.AddMember(ctx, Member{ProjectID: p.ID, EntityType: MemberGroup, EntityID: 1, RoleID: roleGuest})
		wantKind(t, err, errs.NotFound) // no such group (groups_test.go adds real ones)
		_, err = q.AddMember(ctx, Member{ProjectID: p.ID, EntityType: "x", EntityID: dev.ID, RoleID: roleGuest})
		wantKind(t, err, errs.Invalid)
		_, err = q.AddMember(ctx, Member{ProjectID: p.ID, EntityType: MemberUser, EntityID: guest.ID, RoleID: 0})
		wantKind(t, err, errs.Invalid)

		// Roles.
		diff(t, "MemberRole", roleDeveloper, must1[int](t)(q.MemberRole(ctx, p.ID, dev.ID)))
		_, err = q.MemberRole(ctx, other.ID, devx.ID)
		wantKind(t, err, errs.NotFound)
		diff(t, "UserRoles", map[int64]int{p.ID: roleDeveloper, other.ID: roleGuest},
			must1[map[int64]int](t)(q.UserRoles(ctx, dev.ID)))
		diff(t, "CountMembersByRole", map[int]int{roleAdmin: 1, roleDeveloper: 1, roleMaint: 1, roleGuest: 1},
			must1[map[int]int](t)(q.CountMembersByRole(ctx, p.ID)))
		diff(t, "CountMembersByRole of nothing", map[int]int{}, must1[map[int]int](t)(q.CountMembersByRole(ctx, 9999)))

		must(t, q.UpdateMemberRole(ctx, p.ID, mg.ID, roleMaint))
		got := must1[Member](t)(q.GetMember(ctx, p.ID, mg.ID))
		diff(t, "updated role", roleMaint, got.RoleID)
		if got.UpdatedAt.Before(mg.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %v -> %v", mg.UpdatedAt, got.UpdatedAt)
		}
		wantKind(t, q.UpdateMemberRole(ctx, other.ID, mg.ID, roleGuest), errs.NotFound)

		// Listing: by name, case-insensitive, "_" literal.
		names := func(ms []Member) []string {
			out := []string{}
			for _, m := range ms {
				out = append(out, m.EntityName)
			}
			return out
		}
		ms, n := must2(q.ListMembers(ctx, p.ID, "", ListOptions{}))(t)
		diff(t, "all members", []string{"Dev_One", "devxone", "guest", "owner"}, names(ms))
		diff(t, "all members total", 4, n)
		ms, n = must2(q.ListMembers(ctx, p.ID, "V_o", ListOptions{}))(t)
		diff(t, "members matching V_o", []string{"Dev_One"}, names(ms))
		diff(t, "matching total", 1, n)
		ms, n = must2(q.ListMembers(ctx, p.ID, "", ListOptions{PageSize: 1, Page: 2,
			Sort: []SortKey{{Key: "role_id", Desc: true}}}))(t)
		diff(t, "second by role desc", []string{"guest"}, names(ms)) // roles 4 (devxone, guest by id), 2, 1
		diff(t, "paged total", 4, n)
		ms, _ = must2(q.ListMembers(ctx, p.ID, "", ListOptions{
			Query: []Cond{{Key: "role_id", Op: "=", Values: []string{"4"}}}}))(t)
		diff(t, "maintainers", []Member{mx, must1[Member](t)(q.GetMember(ctx, p.ID, mg.ID))}, ms)

		must(t, q.DeleteMember(ctx, p.ID, m.ID))
		_, err = q.GetMember(ctx, p.ID, m.ID)
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.DeleteMember(ctx, p.ID, m.ID), errs.NotFound)
		wantKind(t, q.DeleteMember(ctx, other.ID, mx.ID), errs.NotFound)
		diff(t, "dev's roles after removal", map[int64]int{other.ID: roleGuest},
			must1[map[int64]int](t)(q.UserRoles(ctx, dev.ID)))
	})
}
