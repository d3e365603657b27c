package meta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

func robotNames(rs []Robot) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func TestRobotsCRUD(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		lib := mkProject(t, q, "library", owner, false)

		perms := []byte(`[{"kind":"project","namespace":"library","access":[{"resource":"repository","action":"pull"}]}]`)
		before := now()
		r := must1[Robot](t)(q.CreateRobot(ctx, Robot{
			Name: "library+ci", Description: "CI", Level: RobotProject, ProjectID: lib.ID,
			SecretHash: "$hash", Duration: 30, ExpiresAt: 1_900_000_000, Permissions: perms,
			CreatorType: "local", CreatorRef: owner.ID,
		}))
		if r.ID <= 0 || r.CreatedAt.Before(before) || !r.UpdatedAt.Equal(r.CreatedAt) {
			t.Fatalf("CreateRobot returned id %d, times %v/%v", r.ID, r.CreatedAt, r.UpdatedAt)
		}
		want := Robot{
			ID: r.ID, Name: "library+ci", Description: "CI", Level: RobotProject, ProjectID: lib.ID,
			SecretHash: "$hash", Duration: 30, ExpiresAt: 1_900_000_000, Permissions: perms,
			CreatorType: "local", CreatorRef: owner.ID, CreatedAt: r.CreatedAt, UpdatedAt: r.CreatedAt,
		}
		diff(t, "created robot", want, r)
		diff(t, "GetRobot", want, must1[Robot](t)(q.GetRobot(ctx, r.ID)))
		diff(t, "GetRobotByName", want, must1[Robot](t)(q.GetRobotByName(ctx, "library+ci")))

		// A system robot without permissions gets "[]" and no project.
		sys := must1[Robot](t)(q.CreateRobot(ctx, Robot{Name: "sys", Level: RobotSystem, Duration: -1, ExpiresAt: -1}))
		diff(t, "system robot", Robot{
			ID: sys.ID, Name: "sys", Level: RobotSystem, Duration: -1, ExpiresAt: -1, Permissions: []byte("[]"),
			CreatedAt: sys.CreatedAt, UpdatedAt: sys.CreatedAt,
		}, must1[Robot](t)(q.GetRobot(ctx, sys.ID)))

		// Refusals.
		for _, c := range []struct {
			r    Robot
			kind errs.Kind
		}{
			{Robot{Name: "sys", Level: RobotSystem}, errs.Conflict},
			{Robot{Name: "x", Level: RobotProject, ProjectID: 9999}, errs.NotFound},
			{Robot{Name: "x", Level: RobotProject}, errs.Invalid},
			{Robot{Name: "x", Level: RobotSystem, ProjectID: lib.ID}, errs.Invalid},
			{Robot{Name: "x", Level: "global"}, errs.Invalid},
			{Robot{Level: RobotSystem}, errs.Invalid},
			{Robot{Name: "x", Level: RobotSystem, Permissions: []byte("{nope")}, errs.Invalid},
		} {
			_, err := q.CreateRobot(ctx, c.r)
			wantKind(t, err, c.kind)
		}
		_, err := q.GetRobot(ctx, 9999)
		wantKind(t, err, errs.NotFound)
		_, err = q.GetRobotByName(ctx, "library+nope")
		wantKind(t, err, errs.NotFound)

		// Update changes the mutable fields only.
		upd := r
		upd.Name, upd.Level, upd.ProjectID, upd.CreatorRef = "renamed", RobotSystem, 0, 42
		upd.Description, upd.Disabled, upd.Duration, upd.ExpiresAt = "", true, -1, -1
		upd.Permissions, upd.SecretHash = []byte(`[]`), "$new"
		must(t, q.UpdateRobot(ctx, upd))
		got := must1[Robot](t)(q.GetRobot(ctx, r.ID))
		if got.UpdatedAt.Before(r.UpdatedAt) {
			t.Errorf("UpdatedAt went back: %v -> %v", r.UpdatedAt, got.UpdatedAt)
		}
		want.Description, want.Disabled, want.Duration, want.ExpiresAt = "", true, -1, -1
		want.Permissions, want.SecretHash, want.UpdatedAt = []byte(`[]`), "$new", got.UpdatedAt
		diff(t, "updated robot", want, got)
		wantKind(t, q.UpdateRobot(ctx, Robot{ID: 9999}), errs.NotFound)
		wantKind(t, q.UpdateRobot(ctx, Robot{ID: r.ID, Permissions: []byte("nope")}), errs.Invalid)

		must(t, q.DeleteRobot(ctx, r.ID))
		_, err = q.GetRobot(ctx, r.ID)
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.DeleteRobot(ctx, r.ID), errs.NotFound)
		diff(t, "robots", 1, count(t, db, `SELECT count(*) FROM robots`))
	})
}

func TestListRobots(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		a := mkProject(t, q, "a", owner, false)
		b := mkProject(t, q, "b", owner, false)
		for _, r := range []Robot{
			{Name: "b+push", Level: RobotProject, ProjectID: b.ID},
			{Name: "ci", Level: RobotSystem},
			{Name: "a+ci", Level: RobotProject, ProjectID: a.ID},
			{Name: "a+pull", Level: RobotProject, ProjectID: a.ID},
			{Name: "backup", Level: RobotSystem},
		} {
			r.Duration, r.ExpiresAt = -1, -1
			must1[Robot](t)(q.CreateRobot(ctx, r))
		}
		pid := fmt.Sprint(a.ID)
		for _, c := range []struct {
			name  string
			o     ListOptions
			names []string
		}{
			{"all by name", ListOptions{}, []string{"a+ci", "a+pull", "b+push", "backup", "ci"}},
			{"by id", ListOptions{Sort: []SortKey{{Key: "id"}}}, []string{"b+push", "ci", "a+ci", "a+pull", "backup"}},
			{"newest first", ListOptions{Sort: []SortKey{{Key: "creation_time", Desc: true}, {Key: "id", Desc: true}}},
				[]string{"backup", "a+pull", "a+ci", "ci", "b+push"}},
			{"Harbor's project robots", ListOptions{Query: []Cond{
				{Key: "Level", Op: "=", Values: []string{"project"}}, {Key: "ProjectID", Op: "=", Values: []string{pid}}}},
				[]string{"a+ci", "a+pull"}},
			{"system robots", ListOptions{Query: []Cond{{Key: "level", Op: "=", Values: []string{"system"}}}},
				[]string{"backup", "ci"}},
			{"project_id 0", ListOptions{Query: []Cond{{Key: "project_id", Op: "=", Values: []string{"0"}}}},
				[]string{"backup", "ci"}},
			{"name fuzzy", ListOptions{Query: []Cond{{Key: "name", Op: "~", Values: []string{"CI"}}}},
				[]string{"a+ci", "ci"}},
			{"name exact", ListOptions{Query: []Cond{{Key: "name", Op: "=", Values: []string{"ci"}}}},
				[]string{"ci"}},
			{"name in", ListOptions{Query: []Cond{{Key: "name", Op: "in", Values: []string{"ci", "b+push", "zz"}}}},
				[]string{"b+push", "ci"}},
		} {
			rs, total := must2(q.ListRobots(ctx, c.o))(t)
			diff(t, c.name, c.names, robotNames(rs))
			diff(t, c.name+" total", len(c.names), total)
		}
	})
}

func TestAudit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		base := time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
		logs := []AuditLog{
			{ProjectID: 1, Username: "alice", Resource: "lib/nginx:1", ResourceType: "artifact", Operation: "push",
				SourceIP: "10.0.0.1", Detail: "d", OpTime: base.Add(0 * time.Hour)},
			{ProjectID: 1, Username: "bob", Resource: "lib/nginx:1", ResourceType: "artifact", Operation: "pull",
				OpTime: base.Add(24 * time.Hour)},
			{ProjectID: 2, Username: "alice", Resource: "other", ResourceType: "project", Operation: "create",
				OpTime: base.Add(48 * time.Hour)},
			{Username: "mallory", Resource: "mallory", ResourceType: "login", Operation: "login_failed",
				OpTime: base.Add(48 * time.Hour)},
			{ProjectID: 1, Username: "alice", Resource: "lib/nginx", ResourceType: "repository", Operation: "delete",
				OpTime: base.Add(72*time.Hour + 123456789)},
		}
		for i := range logs {
			logs[i].ID = must1[int64](t)(q.InsertAudit(ctx, logs[i]))
			logs[i].OpTime = normTime(logs[i].OpTime)
		}
		// A zero time means now.
		before := now()
		nowID := must1[int64](t)(q.InsertAudit(ctx, AuditLog{Username: "x", Operation: "pull"}))
		rows, _ := must2(q.ListAudit(ctx, ListOptions{PageSize: 1}, 0))(t)
		if rows[0].ID != nowID || rows[0].OpTime.Before(before) {
			t.Errorf("newest record = %+v, want id %d at about now", rows[0], nowID)
		}
		diff(t, "purge of nothing", int64(0), must1[int64](t)(q.PurgeAuditBefore(ctx, base.Add(-time.Hour))))
		_, err := db.Q().exec(ctx, `DELETE FROM audit_logs WHERE id = ?`, nowID)
		must(t, err)

		pick := func(idx ...int) []AuditLog {
			out := []AuditLog{}
			for _, i := range idx {
				out = append(out, logs[i])
			}
			return out
		}
		rng := func(lo, hi string) []Cond { return []Cond{{Key: "op_time", Op: "range", Values: []string{lo, hi}}} }
		for _, c := range []struct {
			name    string
			project int64
			o       ListOptions
			want    []AuditLog
		}{
			{"all, newest first", 0, ListOptions{}, pick(4, 3, 2, 1, 0)},
			{"project 1", 1, ListOptions{}, pick(4, 1, 0)},
			{"oldest first", 0, ListOptions{Sort: []SortKey{{Key: "op_time"}}}, pick(0, 1, 2, 3, 4)},
			{"closed range", 0, ListOptions{Query: rng("2024-01-11 08:00:00", "2024-01-12 08:00:00")}, pick(3, 2, 1)},
			{"open start", 0, ListOptions{Query: rng("", "2024-01-11T08:00:00Z")}, pick(1, 0)},
			{"open end, RFC 3339 with zone", 0, ListOptions{Query: rng("2024-01-12T09:00:00+01:00", "")}, pick(4, 3, 2)},
			{"range to the microsecond", 0, ListOptions{Query: rng("2024-01-13T08:00:00.123456Z", "")}, pick(4)},
			{"exact time", 0, ListOptions{Query: []Cond{{Key: "op_time", Op: "=", Values: []string{"2024-01-11 08:00:00"}}}}, pick(1)},
			{"operation in", 0, ListOptions{Query: []Cond{{Key: "operation", Op: "in", Values: []string{"push", "pull"}}}},
				pick(1, 0)},
			{"username and resource fuzzy", 1, ListOptions{Query: []Cond{
				{Key: "username", Op: "=", Values: []string{"alice"}}, {Key: "resource", Op: "~", Values: []string{"NGINX"}}}},
				pick(4, 0)},
			{"resource_type", 0, ListOptions{Query: []Cond{{Key: "resource_type", Op: "=", Values: []string{"login"}}}}, pick(3)},
			{"page 2", 0, ListOptions{Page: 2, PageSize: 2}, pick(2, 1)},
		} {
			got, total := must2(q.ListAudit(ctx, c.o, c.project))(t)
			diff(t, c.name, c.want, got)
			if c.o.Page == 0 {
				diff(t, c.name+" total", len(c.want), total)
			}
		}

		// Purge deletes strictly older records.
		diff(t, "purged", int64(2), must1[int64](t)(q.PurgeAuditBefore(ctx, base.Add(48*time.Hour))))
		got, total := must2(q.ListAudit(ctx, ListOptions{}, 0))(t)
		diff(t, "after purge", pick(4, 3, 2), got)
		diff(t, "total after purge", 3, total)
	})
}
