package api_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// gcServe starts an API server with garbage collection over the
// environment's database and a fresh blob store, holding n unreferenced
// blobs.
func gcServe(t *testing.T, e *apiEnv, n int) (*httptest.Server, *gc.Collector) {
	t.Helper()
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for i := range n {
		b := []byte(fmt.Sprintf("garbage %d", i))
		d := oci.FromBytes(b)
		if err := store.Put(e.ctx, d, b); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Q().InsertBlob(e.ctx, meta.Blob{Digest: d, Size: int64(len(b)), LastSeen: old, CreatedAt: old}); err != nil {
			t.Fatal(err)
		}
	}
	c := gc.New(e.db, store, gc.WithLogger(e.log), gc.WithPollInterval(20*time.Millisecond))
	t.Cleanup(c.Close)
	h := api.New(e.acc, auth.New(e.acc, "", e.log), nil, e.log)
	h.SetGC(c)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, c
}

// gcHistory is Harbor's GCHistory as the tests read it.
type gcHistory struct {
	ID            int64     `json:"id"`
	JobName       string    `json:"job_name"`
	JobKind       string    `json:"job_kind"`
	JobParameters string    `json:"job_parameters"`
	JobStatus     string    `json:"job_status"`
	Deleted       bool      `json:"deleted"`
	CreationTime  time.Time `json:"creation_time"`
	UpdateTime    time.Time `json:"update_time"`
	Schedule      *struct {
		Type              string     `json:"type"`
		Cron              string     `json:"cron"`
		NextScheduledTime *time.Time `json:"next_scheduled_time"`
	} `json:"schedule"`
}

// waitGC polls GET /system/gc/{id} until the run has ended.
func waitGC(t *testing.T, e *apiEnv, srv *httptest.Server, id string) gcHistory {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.doAt(srv, e.as("admin"), "GET", "/system/gc/"+id, nil)
		want(t, r, 200, "get gc")
		var h gcHistory
		decodeInto(t, r, &h)
		if h.JobStatus != "Running" && h.JobStatus != "Pending" {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("gc %s still %s", id, h.JobStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGCAPI(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		srv, _ := gcServe(t, e, 20)
		admin := e.as("admin")
		do := func(c cred, method, path string, body any) apiResp {
			t.Helper()
			return e.doAt(srv, c, method, path, body)
		}

		// Empty history and no schedule.
		r := do(admin, "GET", "/system/gc", nil)
		want(t, r, 200, "empty history")
		if r.header.Get("X-Total-Count") != "0" || strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("empty history: %s, total %q", r.body, r.header.Get("X-Total-Count"))
		}
		r = do(admin, "GET", "/system/gc/schedule", nil)
		want(t, r, 200, "no schedule")
		if len(r.body) != 0 {
			t.Fatalf("no schedule: body %q, want empty", r.body)
		}

		// A dry run, then a real one.
		r = do(admin, "POST", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Manual"},
			"parameters": map[string]any{"dry_run": true, "delete_untagged": false, "workers": 2, "time_window": 1}})
		want(t, r, 201, "manual dry run")
		loc := r.header.Get("Location")
		dryID, ok := strings.CutPrefix(loc, "/api/v2.0/system/gc/")
		if !ok {
			t.Fatalf("Location %q", loc)
		}
		h := waitGC(t, e, srv, dryID)
		if h.JobStatus != "Success" || h.JobName != "GARBAGE_COLLECTION" || h.JobKind != "MANUAL" || h.Schedule == nil || h.Schedule.Type != "Manual" {
			t.Fatalf("dry run: %+v", h)
		}
		var params map[string]any
		if err := json.Unmarshal([]byte(h.JobParameters), &params); err != nil {
			t.Fatalf("job_parameters %q: %v", h.JobParameters, err)
		}
		if params["dry_run"] != true || params["delete_untagged"] != false || params["workers"] != 2.0 || params["time_window"] != 1.0 {
			t.Fatalf("job_parameters %v", params)
		}
		r = do(admin, "GET", "/system/gc/"+dryID+"/log", nil)
		want(t, r, 200, "log")
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || !strings.Contains(string(r.body), "would delete 0 manifests, 0 links, 20 blobs") {
			t.Fatalf("dry run log (%s):\n%s", r.header.Get("Content-Type"), r.body)
		}
		if n := e.count(`SELECT count(*) FROM blobs`); n != 20 {
			t.Fatalf("the dry run deleted blobs: %d left", n)
		}
		r = do(admin, "POST", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Manual", "cron": ""}})
		want(t, r, 201, "manual run")
		realID := strings.TrimPrefix(r.header.Get("Location"), "/api/v2.0/system/gc/")
		h = waitGC(t, e, srv, realID)
		if h.JobStatus != "Success" || !strings.Contains(h.JobParameters, `"delete_untagged":true`) || !strings.Contains(h.JobParameters, `"time_window":1`) {
			t.Fatalf("run without parameters: %+v (Harbor's defaults: delete_untagged true; berth's time_window 1)", h)
		}
		if n := e.count(`SELECT count(*) FROM blobs`); n != 0 {
			t.Fatalf("%d blobs left", n)
		}
		if e.audits("garbage_collection", "create", "gc/"+realID) != 1 {
			t.Errorf("no audit entry for the run")
		}

		// History, newest first, paged.
		r = do(admin, "GET", "/system/gc?page=1&page_size=1", nil)
		want(t, r, 200, "history")
		var list []gcHistory
		decodeInto(t, r, &list)
		if r.header.Get("X-Total-Count") != "2" || len(list) != 1 || strconv.FormatInt(list[0].ID, 10) != realID {
			t.Fatalf("history page: %s, total %s", r.body, r.header.Get("X-Total-Count"))
		}
		if !strings.Contains(r.header.Get("Link"), `rel="next"`) {
			t.Errorf("no next link: %q", r.header.Get("Link"))
		}
		want(t, do(admin, "GET", "/system/gc/999999", nil), 404, "unknown run")
		want(t, do(admin, "GET", "/system/gc/999999/log", nil), 404, "unknown log")
		want(t, do(admin, "PUT", "/system/gc/999999", nil), 404, "stop unknown run")
		want(t, do(admin, "PUT", "/system/gc/"+realID, nil), 200, "stop an ended run")
		want(t, do(admin, "GET", "/system/gc/abc", nil), 400, "bad id")

		// The schedule.
		r = do(admin, "POST", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Daily", "cron": "0 0 0 * * *"},
			"parameters": map[string]any{"delete_untagged": true, "workers": 3}})
		want(t, r, 201, "create schedule")
		r = do(admin, "GET", "/system/gc/schedule", nil)
		want(t, r, 200, "get schedule")
		decodeInto(t, r, &h)
		if h.Schedule == nil || h.Schedule.Type != "Daily" || h.Schedule.Cron != "0 0 0 * * *" || h.Schedule.NextScheduledTime == nil ||
			!strings.Contains(h.JobParameters, `"workers":3`) || h.JobKind != "SCHEDULE" {
			t.Fatalf("schedule: %s", r.body)
		}
		if next := h.Schedule.NextScheduledTime.UTC(); next.Hour() != 0 || next.Minute() != 0 || !next.After(time.Now()) {
			t.Fatalf("next daily run at %v", next)
		}
		want(t, do(admin, "PUT", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Custom", "cron": "0 30 2 * * 6"}}), 200, "update schedule")
		r = do(admin, "GET", "/system/gc/schedule", nil)
		decodeInto(t, r, &h)
		if h.Schedule.Type != "Custom" || h.Schedule.Cron != "0 30 2 * * 6" {
			t.Fatalf("updated schedule: %s", r.body)
		}
		want(t, do(admin, "PUT", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "None"}}), 200, "remove schedule")
		if r := do(admin, "GET", "/system/gc/schedule", nil); r.status != 200 || len(r.body) != 0 {
			t.Fatalf("removed schedule: %s", r)
		}

		// Bad input.
		for _, c := range []struct {
			method string
			body   any
			msg    string
		}{
			{"POST", map[string]any{"schedule": map[string]any{"type": "Manual"}, "parameters": map[string]any{"workers": 11}}, "workers"},
			{"POST", map[string]any{"schedule": map[string]any{"type": "Manual"}, "parameters": map[string]any{"workers": 1.5}}, "workers"},
			{"POST", map[string]any{"schedule": map[string]any{"type": "Manual"}, "parameters": map[string]any{"dry_run": "yes"}}, "dry_run"},
			{"POST", map[string]any{"schedule": map[string]any{"type": "Manual"}, "parameters": map[string]any{"time_window": -1}}, "time_window"},
			{"POST", map[string]any{"schedule": map[string]any{"type": "Custom", "cron": "99 * * * *"}}, "cron"},
			{"POST", map[string]any{"schedule": map[string]any{"type": "Monthly"}}, "schedule type"},
			{"POST", map[string]any{"parameters": map[string]any{}}, "schedule.type"},
			{"POST", `{"schedule":`, "JSON"},
			{"POST", map[string]any{"schedule": map[string]any{"type": "Manual"}, "unknown": 1}, "unknown"},
			{"PUT", map[string]any{"schedule": map[string]any{"type": "Manual"}}, "Manual"},
		} {
			wantErr(t, do(admin, c.method, "/system/gc/schedule", c.body), 400, c.msg, fmt.Sprintf("%s %v", c.method, c.body))
		}
	})
}

// TestGCAPIConflictAndStop: a second manual run while one runs is 409;
// PUT /system/gc/{id} stops the running one.
func TestGCAPIConflictAndStop(t *testing.T) {
	dir := t.TempDir()
	e := newAPIEnv(t, filepath.Join(dir, "meta.db"), dir)
	srv, c := gcServe(t, e, 0)
	admin := e.as("admin")
	// Hold the lease as another node would while it runs.
	run, err := e.db.Q().CreateGCRun(e.ctx, meta.GCRun{Kind: gc.KindManual, Status: meta.GCRunning, Workers: 1, Node: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if ok, err := e.db.Q().AcquireGCLease(e.ctx, "elsewhere", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := e.db.Q().RenewGCLease(e.ctx, "elsewhere", run.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.doAt(srv, admin, "POST", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Manual"}}),
		409, "already running", "second run")
	id := strconv.FormatInt(run.ID, 10)
	want(t, e.doAt(srv, admin, "PUT", "/system/gc/"+id, nil), 200, "stop")
	if stop, _ := e.db.Q().GCRunStopRequested(e.ctx, run.ID); !stop {
		t.Fatal("the stop was not recorded for the node running it")
	}
	// That node is gone: once its lease expires, a stop ends the run.
	if err := e.db.Q().ReleaseGCLease(e.ctx, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(e.ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if h := waitGC(t, e, srv, id); h.JobStatus != "Stopped" {
		t.Fatalf("run is %s, want Stopped", h.JobStatus)
	}
}

// TestGCAPIPermissions: admins and robots granted garbage-collection may;
// other users get 403 and anonymous callers 401, on every endpoint.
func TestGCAPIPermissions(t *testing.T) {
	dir := t.TempDir()
	e := newAPIEnv(t, filepath.Join(dir, "meta.db"), dir)
	srv, _ := gcServe(t, e, 0)
	admin := e.as("admin")
	mkRobot := func(name string, pairs ...string) cred {
		r := e.doAt(srv, admin, "POST", "/robots", rbBody(name, "system", 30, rbGrant("system", "/", pairs...)))
		want(t, r, 201, "create robot "+name)
		var c rbCreated
		decodeInto(t, r, &c)
		return cred{c.Name, c.Secret}
	}
	gcRobot := mkRobot("gcbot", "garbage-collection:create", "garbage-collection:read", "garbage-collection:list",
		"garbage-collection:update", "garbage-collection:stop")
	otherRobot := mkRobot("otherbot", "audit-log:list")
	endpoints := []struct {
		method, path string
		body         any
		ok           int
	}{
		{"GET", "/system/gc", nil, 200},
		{"GET", "/system/gc/schedule", nil, 200},
		{"PUT", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Hourly"}}, 200},
		{"POST", "/system/gc/schedule", map[string]any{"schedule": map[string]any{"type": "Manual"}, "parameters": map[string]any{"dry_run": true}}, 201},
		{"GET", "/system/gc/1", nil, 200},
		{"GET", "/system/gc/1/log", nil, 200},
		{"PUT", "/system/gc/1", nil, 200},
	}
	for _, c := range []struct {
		who    string
		cred   cred
		status int // 0: the endpoint's success status
	}{
		{"anonymous", anon, 401},
		{"project admin", e.as("pa"), 403},
		{"outsider", e.as("outsider"), 403},
		{"robot without the permission", otherRobot, 403},
		{"admin", admin, 0},
		{"gc robot", gcRobot, 0},
	} {
		for _, ep := range endpoints {
			r := e.doAt(srv, c.cred, ep.method, ep.path, ep.body)
			wantStatus := c.status
			if wantStatus == 0 {
				wantStatus = ep.ok
			}
			if r.status != wantStatus {
				t.Errorf("%s: %s %s: got %s, want %d", c.who, ep.method, ep.path, r, wantStatus)
			}
			if ep.method == "POST" && r.status == 201 {
				waitGC(t, e, srv, strings.TrimPrefix(r.header.Get("Location"), "/api/v2.0/system/gc/"))
			}
		}
	}
	// Without a collector the endpoints say so, after the permission check.
	plain := httptest.NewServer(api.New(e.acc, auth.New(e.acc, "", e.log), nil, e.log))
	defer plain.Close()
	want(t, e.doAt(plain, admin, "GET", "/system/gc", nil), 503, "no collector")
	want(t, e.doAt(plain, anon, "GET", "/system/gc", nil), 401, "no collector, anonymous")
}

// TestGCJSONMatchesSwagger: GCHistory keys are Harbor's, and every field
// of Harbor's Schedule is accepted.
func TestGCJSONMatchesSwagger(t *testing.T) {
	props := swaggerProps(t)
	dir := t.TempDir()
	e := newAPIEnv(t, filepath.Join(dir, "meta.db"), dir)
	srv, _ := gcServe(t, e, 1)
	admin := e.as("admin")
	body := map[string]any{}
	for _, k := range props["Schedule"] {
		body[k] = nil
	}
	obj := map[string]any{}
	for _, k := range props["ScheduleObj"] {
		obj[k] = nil
	}
	obj["type"], obj["cron"] = "Manual", ""
	body["schedule"], body["parameters"] = obj, map[string]any{"dry_run": true}
	r := e.doAt(srv, admin, "POST", "/system/gc/schedule", body)
	want(t, r, 201, "POST with every Schedule field")
	id := strings.TrimPrefix(r.header.Get("Location"), "/api/v2.0/system/gc/")
	waitGC(t, e, srv, id)
	obj["type"], obj["cron"] = "Weekly", ""
	want(t, e.doAt(srv, admin, "PUT", "/system/gc/schedule", body), 200, "PUT with every Schedule field")

	check := func(def string, raw []byte) {
		t.Helper()
		got := jsonKeys(t, raw)
		for _, k := range got {
			if !slices.Contains(props[def], k) {
				t.Errorf("%s: key %q is not in the swagger (which has %v)", def, k, props[def])
			}
		}
	}
	for _, path := range []string{"/system/gc/" + id, "/system/gc/schedule"} {
		r := e.doAt(srv, admin, "GET", path, nil)
		want(t, r, 200, path)
		check("GCHistory", r.body)
		var h struct {
			Schedule json.RawMessage `json:"schedule"`
		}
		decodeInto(t, r, &h)
		check("ScheduleObj", h.Schedule)
	}
	r = e.doAt(srv, admin, "GET", "/system/gc", nil)
	check("GCHistory", firstElem(t, r.body))
}
