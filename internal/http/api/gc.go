package api

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's garbage collection API: /system/gc, /system/gc/{gc_id},
// /system/gc/{gc_id}/log and /system/gc/schedule. Admins only, or robots
// granted the system resource "garbage-collection".

const resGC = "garbage-collection"

// SetGC gives the handler the collector that the GC endpoints drive;
// without one they answer 503.
func (h *Handler) SetGC(c *gc.Collector) { h.gc = c }

func (h *Handler) routesGC() {
	h.handle("GET /system/gc", h.listGC)
	h.handle("GET /system/gc/schedule", h.getGCSchedule)
	h.handle("POST /system/gc/schedule", h.createGCSchedule)
	h.handle("PUT /system/gc/schedule", h.updateGCSchedule)
	h.handle("GET /system/gc/{gc_id}", h.getGC)
	h.handle("PUT /system/gc/{gc_id}", h.stopGC)
	h.handle("GET /system/gc/{gc_id}/log", h.getGCLog)
}

// gcAuthorize checks the permission first (as Harbor does, before any
// lookup), then that GC is available.
func (h *Handler) gcAuthorize(p access.Principal, action, what string) error {
	if !h.acc.CanSystem(p, resGC, action) {
		return denied(p, what)
	}
	if h.gc == nil {
		return errs.New(errs.Unavailable, "", "garbage collection is not available on this server")
	}
	return nil
}

// gcHistoryJSON is Harbor's GCHistory.
type gcHistoryJSON struct {
	ID            int64          `json:"id"`
	JobName       string         `json:"job_name"`
	JobKind       string         `json:"job_kind"`
	JobParameters string         `json:"job_parameters"`
	Schedule      *scheduleObjJS `json:"schedule,omitempty"`
	JobStatus     string         `json:"job_status"`
	Deleted       bool           `json:"deleted"`
	CreationTime  time.Time      `json:"creation_time"`
	UpdateTime    time.Time      `json:"update_time"`
}

// scheduleObjJS is Harbor's ScheduleObj.
type scheduleObjJS struct {
	Type              string     `json:"type"`
	Cron              string     `json:"cron"`
	NextScheduledTime *time.Time `json:"next_scheduled_time,omitempty"`
}

// jobParams is the JSON string Harbor keeps in job_parameters;
// time_window is in hours.
func jobParams(p gc.Params) string {
	b, _ := json.Marshal(map[string]any{
		"delete_untagged": p.DeleteUntagged,
		"dry_run":         p.DryRun,
		"workers":         p.Workers,
		"time_window":     p.TimeWindow.Hours(),
	})
	return string(b)
}

var gcStatus = map[string]string{
	meta.GCPending: "Pending",
	meta.GCRunning: "Running",
	meta.GCSuccess: "Success",
	meta.GCError:   "Error",
	meta.GCStopped: "Stopped",
}

func toGCHistory(r meta.GCRun) gcHistoryJSON {
	sched := &scheduleObjJS{Type: gc.ScheduleManual}
	if r.Kind == gc.KindSchedule {
		sched.Type = gc.ScheduleSchedule
	}
	return gcHistoryJSON{
		ID: r.ID, JobName: "GARBAGE_COLLECTION", JobKind: r.Kind,
		JobParameters: jobParams(gc.Params{DryRun: r.DryRun, DeleteUntagged: r.DeleteUntagged,
			TimeWindow: r.TimeWindow, Workers: r.Workers}),
		Schedule: sched, JobStatus: gcStatus[r.Status],
		CreationTime: r.CreatedAt.UTC(), UpdateTime: r.UpdatedAt.UTC(),
	}
}

func (h *Handler) listGC(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActList, "list garbage collections"); err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	runs, total, err := h.gc.List(r.Context(), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]gcHistoryJSON, len(runs))
	for i, run := range runs {
		out[i] = toGCHistory(run)
	}
	writePage(w, r, o, total, out)
}

// gcRun reads {gc_id} and the run it names.
func (h *Handler) gcRun(r *http.Request) (meta.GCRun, error) {
	id, err := pathInt(r, "gc_id")
	if err != nil {
		return meta.GCRun{}, err
	}
	run, err := h.gc.Get(r.Context(), id)
	if errs.Is(err, errs.NotFound) {
		return meta.GCRun{}, errs.New(errs.NotFound, "", "garbage collection %d not found", id)
	}
	return run, err
}

func (h *Handler) getGC(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActRead, "read garbage collections"); err != nil {
		h.fail(w, r, err)
		return
	}
	run, err := h.gcRun(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toGCHistory(run))
}

// stopGC stops a run wherever it runs; stopping one that has ended is a
// no-op.
func (h *Handler) stopGC(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActStop, "stop garbage collections"); err != nil {
		h.fail(w, r, err)
		return
	}
	run, err := h.gcRun(r)
	if err == nil {
		err = h.gc.Stop(r.Context(), run.ID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

// getGCLog serves the run's log, which grows while it runs.
func (h *Handler) getGCLog(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActRead, "read garbage collection logs"); err != nil {
		h.fail(w, r, err)
		return
	}
	run, err := h.gcRun(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(run.Log)))
	_, _ = w.Write([]byte(run.Log))
}

// getGCSchedule answers Harbor's GCHistory shape for the schedule, or 200
// with an empty body when there is none.
func (h *Handler) getGCSchedule(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActRead, "read the garbage collection schedule"); err != nil {
		h.fail(w, r, err)
		return
	}
	s, found, err := h.gc.GetSchedule(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !found {
		ok(w)
		return
	}
	obj := &scheduleObjJS{Type: s.Type, Cron: s.Cron}
	if next := gc.NextRun(s, time.Now()); !next.IsZero() {
		obj.NextScheduledTime = &next
	}
	writeJSON(w, http.StatusOK, gcHistoryJSON{
		JobName: "GARBAGE_COLLECTION", JobKind: gc.KindSchedule, JobParameters: jobParams(s.Params),
		Schedule: obj, JobStatus: "Scheduled", CreationTime: s.CreatedAt.UTC(), UpdateTime: s.UpdatedAt.UTC(),
	})
}

// scheduleReq is Harbor's Schedule as a request body. The read-only
// fields are accepted and ignored, as Harbor's clients send back what
// they read.
type scheduleReq struct {
	ID           *int64  `json:"id"`
	Status       *string `json:"status"`
	CreationTime *string `json:"creation_time"`
	UpdateTime   *string `json:"update_time"`
	Schedule     *struct {
		Type              string  `json:"type"`
		Cron              string  `json:"cron"`
		NextScheduledTime *string `json:"next_scheduled_time"`
	} `json:"schedule"`
	Parameters map[string]json.RawMessage `json:"parameters"`
}

// gcParams reads Harbor's GC parameters: delete_untagged (true when
// absent, as Harbor's job reads it), dry_run, workers (1-10, default 1)
// and berth's time_window in hours (0 allowed, default 1). Other keys
// are ignored, as Harbor ignores them.
func gcParams(raw map[string]json.RawMessage) (gc.Params, error) {
	p := gc.Params{DeleteUntagged: true, Workers: 1, TimeWindow: gc.DefaultTimeWindow}
	boolean := func(key string, dst *bool) error {
		if v, ok := raw[key]; ok && !bytes.Equal(v, []byte("null")) {
			if err := json.Unmarshal(v, dst); err != nil {
				return errs.Invalidf("parameters.%s must be true or false", key)
			}
		}
		return nil
	}
	if err := boolean("delete_untagged", &p.DeleteUntagged); err != nil {
		return p, err
	}
	if err := boolean("dry_run", &p.DryRun); err != nil {
		return p, err
	}
	if v, ok := raw["workers"]; ok && !bytes.Equal(v, []byte("null")) {
		var n float64
		if err := json.Unmarshal(v, &n); err != nil || n != math.Trunc(n) || n < 1 || n > gc.MaxWorkers {
			return p, errs.Invalidf("parameters.workers must be an integer from 1 to %d", gc.MaxWorkers)
		}
		p.Workers = int(n)
	}
	if v, ok := raw["time_window"]; ok && !bytes.Equal(v, []byte("null")) {
		var hours float64
		if err := json.Unmarshal(v, &hours); err != nil || hours < 0 || hours > 87600 {
			return p, errs.Invalidf("parameters.time_window must be a number of hours from 0 to 87600")
		}
		p.TimeWindow = time.Duration(hours * float64(time.Hour))
	}
	return p, nil
}

func (h *Handler) readSchedule(w http.ResponseWriter, r *http.Request) (scheduleReq, gc.Params, error) {
	var req scheduleReq
	if err := decode(w, r, &req); err != nil {
		return req, gc.Params{}, err
	}
	if req.Schedule == nil || req.Schedule.Type == "" {
		return req, gc.Params{}, errs.Invalidf("schedule.type is required (Manual, None, Hourly, Daily, Weekly or Custom)")
	}
	p, err := gcParams(req.Parameters)
	return req, p, err
}

// createGCSchedule starts a run (type Manual: 201 with the run's
// Location, 409 while one runs) or sets the schedule (201).
func (h *Handler) createGCSchedule(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActCreate, "start garbage collections"); err != nil {
		h.fail(w, r, err)
		return
	}
	req, params, err := h.readSchedule(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Schedule.Type == gc.ScheduleManual {
		run, err := h.gc.Start(r.Context(), gc.KindManual, params)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.acc.Audit(r.Context(), meta.AuditLog{Username: p.Name(), Resource: "gc/" + strconv.FormatInt(run.ID, 10),
			ResourceType: "garbage_collection", Operation: "create", SourceIP: auth.Source(r)})
		created(w, Prefix+"/system/gc/"+strconv.FormatInt(run.ID, 10), nil)
		return
	}
	if _, err := h.gc.SetSchedule(r.Context(), gc.Schedule{Type: req.Schedule.Type, Cron: req.Schedule.Cron, Params: params}); err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, Prefix+"/system/gc/schedule", nil)
}

// updateGCSchedule replaces the schedule (type None removes it).
func (h *Handler) updateGCSchedule(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if err := h.gcAuthorize(p, access.ActUpdate, "change the garbage collection schedule"); err != nil {
		h.fail(w, r, err)
		return
	}
	req, params, err := h.readSchedule(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.gc.SetSchedule(r.Context(), gc.Schedule{Type: req.Schedule.Type, Cron: req.Schedule.Cron, Params: params}); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
