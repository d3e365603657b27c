package api_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/http/api"
)

var systemOptions = []api.Option{
	api.WithExternalURL("https://registry.example.com:8443"),
	api.WithCARoot(true),
	api.WithVolumes(func() (uint64, uint64, error) { return 100 << 30, 40 << 30, nil }),
	api.WithHealthCheck("storage", func(context.Context) error { return nil }),
}

// TestSystemInfo checks what anonymous and signed-in callers learn.
func TestSystemInfo(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		r := e.do(anon, "GET", "/systeminfo", nil)
		want(t, r, 200, "anonymous systeminfo")
		validateBoth(t, "GET", "/systeminfo", r)
		if got := jsonKeys(t, r.body); !slices.Equal(got, []string{"auth_mode", "banner_message", "oidc_provider_name", "primary_auth_mode", "self_registration"}) {
			t.Fatalf("anonymous systeminfo keys: %v", got)
		}
		r = e.do(e.as("guest"), "GET", "/systeminfo", nil)
		want(t, r, 200, "systeminfo")
		validateBoth(t, "GET", "/systeminfo", r)
		var info map[string]any
		decodeInto(t, r, &info)
		for k, v := range map[string]any{
			"auth_mode":                      "db_auth",
			"external_url":                   "https://registry.example.com:8443",
			"registry_url":                   "registry.example.com:8443",
			"has_ca_root":                    true,
			"read_only":                      false,
			"project_creation_restriction":   "everyone",
			"registry_storage_provider_name": "filesystem",
			"self_registration":              false,
			"notification_enable":            false,
		} {
			if info[k] != v {
				t.Errorf("systeminfo %s = %v, want %v", k, info[k], v)
			}
		}
		if info["harbor_version"] == "" || info["current_time"] == nil {
			t.Errorf("systeminfo: %s", r.body)
		}

		// Volumes: administrators only.
		r = e.do(e.as("admin"), "GET", "/systeminfo/volumes", nil)
		want(t, r, 200, "volumes")
		validateBoth(t, "GET", "/systeminfo/volumes", r)
		var vol struct {
			Storage []struct{ Total, Free uint64 } `json:"storage"`
		}
		decodeInto(t, r, &vol)
		if len(vol.Storage) != 1 || vol.Storage[0].Total != 100<<30 || vol.Storage[0].Free != 40<<30 {
			t.Fatalf("volumes: %s", r.body)
		}
		for who, status := range map[string]int{"developer": 403, "pa": 403, "anonymous": 401} {
			r := e.do(e.as(who), "GET", "/systeminfo/volumes", nil)
			wantErr(t, r, status, "", "volumes as "+who)
			validateBoth(t, "GET", "/systeminfo/volumes", r)
		}
	}, systemOptions...)
}

// TestSystemInfoDefaults checks a server told nothing about itself.
func TestSystemInfoDefaults(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		r := e.do(e.as("admin"), "GET", "/systeminfo", nil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "reg.test")
		var info map[string]any
		decodeInto(t, r, &info)
		if info["external_url"] != "https://reg.test" || info["registry_url"] != "reg.test" || info["has_ca_root"] != false {
			t.Fatalf("systeminfo: %s", r.body)
		}
		wantErr(t, e.do(e.as("admin"), "GET", "/systeminfo/volumes", nil), 404, "not available", "volumes without a measure")
	})
}

type statistic struct {
	PrivateProjectCount     int64 `json:"private_project_count"`
	PrivateRepoCount        int64 `json:"private_repo_count"`
	PublicProjectCount      int64 `json:"public_project_count"`
	PublicRepoCount         int64 `json:"public_repo_count"`
	TotalProjectCount       int64 `json:"total_project_count"`
	TotalRepoCount          int64 `json:"total_repo_count"`
	TotalStorageConsumption int64 `json:"total_storage_consumption"`
}

// TestStatistics counts what each caller may see.
func TestStatistics(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		dev, admin := e.as("developer"), e.as("admin")
		shared := blobOf('s', 1000)
		e.mustPushBlob(dev, "priv/a", shared)
		e.mustPushBlob(dev, "priv/b/c", shared) // counted once in storage
		e.mustPushBlob(dev, "priv/b/c", blobOf('u', 234))
		e.mustPushBlob(admin, "pub/x", blobOf('p', 66))
		// A name that shares a prefix with priv but is another project's.
		want(t, e.do(admin, "POST", "/projects", map[string]any{"project_name": "priv2"}), 201, "create priv2")
		e.mustPushBlob(admin, "priv2/z", blobOf('z', 100))

		get := func(who string) statistic {
			t.Helper()
			r := e.do(e.as(who), "GET", "/statistics", nil)
			want(t, r, 200, "statistics as "+who)
			validateBoth(t, "GET", "/statistics", r)
			var s statistic
			decodeInto(t, r, &s)
			return s
		}
		// Projects: priv, priv2 (private); pub, library (public).
		if got, want := get("admin"), (statistic{2, 3, 2, 1, 4, 4, 1000 + 234 + 66 + 100}); got != want {
			t.Errorf("admin: %+v, want %+v", got, want)
		}
		if got, want := get("developer"), (statistic{1, 2, 2, 1, 0, 0, 0}); got != want {
			t.Errorf("developer: %+v, want %+v", got, want)
		}
		if got, want := get("outsider"), (statistic{0, 0, 2, 1, 0, 0, 0}); got != want {
			t.Errorf("outsider: %+v, want %+v", got, want)
		}
		r := e.do(anon, "GET", "/statistics", nil)
		wantErr(t, r, 401, "", "anonymous statistics")
		validateBoth(t, "GET", "/statistics", r)
	})
}

// TestHealth reports each component, unhealthy ones with an error.
func TestHealth(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		r := e.do(anon, "GET", "/health", nil)
		want(t, r, 200, "health")
		validateBoth(t, "GET", "/health", r)
		if string(r.body) != `{"status":"healthy","components":[{"name":"database","status":"healthy"},{"name":"storage","status":"healthy"}]}` {
			t.Fatalf("health: %s", r.body)
		}
	}, systemOptions...)
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		r := e.do(anon, "GET", "/health", nil)
		want(t, r, 200, "health")
		validateBoth(t, "GET", "/health", r)
		if string(r.body) != `{"status":"unhealthy","components":[{"name":"database","status":"healthy"},{"name":"storage","status":"unhealthy","error":"storage is unreachable"}]}` {
			t.Fatalf("health: %s", r.body)
		}
	}, api.WithHealthCheck("storage", func(context.Context) error { return errors.New("disk on fire") }))
}
