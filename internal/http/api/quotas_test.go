package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// quotaOf reads a project's quota through GET /quotas/{id} as admin and
// validates the answer against both documents.
func (e *apiEnv) quotaOf(pr meta.Project) (hard, used int64) {
	e.t.Helper()
	path := "/quotas/" + id(pr.ID)
	r := e.do(e.as("admin"), "GET", path, nil)
	want(e.t, r, 200, "GET "+path)
	validateBoth(e.t, "GET", path, r)
	var q struct {
		ID  int64 `json:"id"`
		Ref struct {
			ID        int64  `json:"id"`
			Name      string `json:"name"`
			OwnerName string `json:"owner_name"`
		} `json:"ref"`
		Hard map[string]int64 `json:"hard"`
		Used map[string]int64 `json:"used"`
	}
	decodeInto(e.t, r, &q)
	if q.ID != pr.ID || q.Ref.ID != pr.ID || q.Ref.Name != pr.Name {
		e.t.Fatalf("quota of %s: %s", pr.Name, r.body)
	}
	return q.Hard["storage"], q.Used["storage"]
}

// recomputedUsage is a project's usage computed from scratch: the sizes
// of the distinct blobs its repositories link. The kept usage must always
// equal it.
func (e *apiEnv) recomputedUsage(project string) int64 {
	e.t.Helper()
	// Count reads any single number.
	n, err := e.db.Count(e.ctx, `SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.digest IN (
		SELECT l.digest FROM repo_blobs l JOIN repositories r ON r.id = l.repo_id WHERE r.name >= ? AND r.name < ?)`,
		project+"/", project+"0")
	if err != nil {
		e.t.Fatal(err)
	}
	return int64(n)
}

// wantUsage checks the kept usage against the expected value and the
// recomputed one.
func (e *apiEnv) wantUsage(pr meta.Project, want int64, what string) {
	e.t.Helper()
	_, used := e.quotaOf(pr)
	if used != want {
		e.t.Fatalf("%s: usage of %s is %d, want %d", what, pr.Name, used, want)
	}
	if got := e.recomputedUsage(pr.Name); got != used {
		e.t.Fatalf("%s: kept usage %d of %s differs from the recomputed %d", what, used, pr.Name, got)
	}
}

func (e *apiEnv) setQuota(pr meta.Project, limit int64) {
	e.t.Helper()
	r := e.do(e.as("admin"), "PUT", "/quotas/"+id(pr.ID), map[string]any{"hard": map[string]int64{"storage": limit}})
	want(e.t, r, 200, "PUT quota")
	validateBoth(e.t, "PUT", "/quotas/"+id(pr.ID), r)
}

func blobOf(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// TestQuotaEnforcedOnPush pushes through the real /v2/ handler: a blob
// over the limit is refused with DENIED and a clear message, shared layers
// count once, mounts are checked too, and usage follows deletes at once.
func TestQuotaEnforcedOnPush(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		dev, admin := e.as("developer"), e.as("admin")
		e.wantUsage(e.priv, 0, "new project")
		e.setQuota(e.priv, 1000)
		if hard, _ := e.quotaOf(e.priv); hard != 1000 {
			t.Fatalf("hard = %d, want 1000", hard)
		}

		a := blobOf('a', 600)
		e.mustPushBlob(dev, "priv/app", a)
		e.wantUsage(e.priv, 600, "after the first blob")
		e.mustPushBlob(dev, "priv/other", a) // same layer, another repository of the project
		e.wantUsage(e.priv, 600, "a shared blob counts once")

		r, err := e.pushBlob(dev, "priv/app", blobOf('b', 500))
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, 403, "push over the quota")
		code, msg := ociError(t, r)
		if code != "DENIED" || !strings.Contains(msg, `quota exceeded: project "priv" would use 1.1 KiB of its 1000 B limit`) {
			t.Fatalf("refusal: code %s, message %q", code, msg)
		}
		e.wantUsage(e.priv, 600, "after a refused push")
		if n := e.count(`SELECT count(*) FROM blobs WHERE digest = ?`, (digestOf(blobOf('b', 500)))); n != 0 {
			t.Fatalf("a refused blob left a row")
		}

		// A chunked upload is refused at its last request, the same way.
		st, err := e.v2(dev, "POST", "/v2/priv/app/blobs/uploads/", nil)
		if err != nil || st.status != 202 {
			t.Fatalf("start upload: %v %v", st, err)
		}
		loc := st.header.Get("Location")
		if i := strings.Index(loc, "/v2/"); i > 0 {
			loc = loc[i:]
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		r, err = e.v2(dev, "PUT", loc+sep+"digest="+(digestOf(blobOf('c', 700))), blobOf('c', 700),
			"Content-Type", "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, 403, "chunked upload over the quota")

		// Mounting a blob from another project counts as a push.
		c := blobOf('m', 500)
		e.mustPushBlob(admin, "pub/x", c)
		r, err = e.v2(dev, "POST", "/v2/priv/app/blobs/uploads/?mount="+(digestOf(c))+"&from=pub/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, 403, "mount over the quota")
		if code, msg := ociError(t, r); code != "DENIED" || !strings.Contains(msg, "quota exceeded") {
			t.Fatalf("mount refusal: %s %q", code, msg)
		}
		e.wantUsage(e.pub, 500, "the public project")

		e.setQuota(e.priv, -1)
		e.mustPushBlob(dev, "priv/app", blobOf('b', 500))
		r, err = e.v2(dev, "POST", "/v2/priv/app/blobs/uploads/?mount="+(digestOf(c))+"&from=pub/x", nil)
		if err != nil || r.status != 201 {
			t.Fatalf("mount without a limit: %v %v", r, err)
		}
		e.wantUsage(e.priv, 1600, "unlimited again")

		// The summary shows the same.
		sr := e.do(dev, "GET", "/projects/"+id(e.priv.ID)+"/summary", nil)
		want(t, sr, 200, "summary")
		validateBoth(t, "GET", "/projects/"+id(e.priv.ID)+"/summary", sr)
		var sum struct {
			Quota struct{ Hard, Used map[string]int64 } `json:"quota"`
		}
		decodeInto(t, sr, &sum)
		if sum.Quota.Hard["storage"] != -1 || sum.Quota.Used["storage"] != 1600 {
			t.Fatalf("summary quota: %s", sr.body)
		}

		// Deletes: a blob still linked elsewhere in the project keeps
		// counting; the last link takes it off; a repository delete takes
		// everything it alone held.
		r, _ = e.v2(admin, "DELETE", "/v2/priv/other/blobs/"+(digestOf(a)), nil)
		want(t, r, 202, "delete blob from priv/other")
		e.wantUsage(e.priv, 1600, "a still from priv/app")
		want(t, e.do(admin, "DELETE", "/projects/priv/repositories/other", nil), 200, "delete repository other")
		e.wantUsage(e.priv, 1600, "other held nothing alone")
		want(t, e.do(admin, "DELETE", "/projects/priv/repositories/app", nil), 200, "delete repository app")
		e.wantUsage(e.priv, 0, "after deleting every repository")
		e.wantUsage(e.pub, 500, "the other project is untouched")
	})
}

func digestOf(b []byte) string { return string(oci.FromBytes(b)) }

// TestQuotaExactUnderConcurrency races eight pushers sharing a layer into
// one project: the shared layer counts once, exactly as many unique
// layers as fit are accepted, and the usage ends exactly at the limit.
func TestQuotaExactUnderConcurrency(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		const (
			workers = 8
			shared  = 4096
			unique  = 1000
			fit     = 5
		)
		dev := e.as("developer")
		e.setQuota(e.priv, shared+fit*unique)
		layer := blobOf('L', shared)
		var (
			wg               sync.WaitGroup
			mu               sync.Mutex
			accepted, denied int
			failures         []string
		)
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				repo := fmt.Sprintf("priv/r%d", i)
				r, err := e.pushBlob(dev, repo, layer)
				if err != nil || r.status != 201 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("shared layer into %s: %v %v", repo, r, err))
					mu.Unlock()
					return
				}
				r, err = e.pushBlob(dev, repo, blobOf(byte('a'+i), unique))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case r.status == 201:
					accepted++
				case r.status == 403 && strings.Contains(string(r.body), "quota exceeded"):
					denied++
				default:
					failures = append(failures, fmt.Sprintf("unique layer into %s: %v", repo, r))
				}
			}(i)
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("pushes failed:\n%s", strings.Join(failures, "\n"))
		}
		if accepted != fit || denied != workers-fit {
			t.Fatalf("accepted %d and denied %d unique layers, want %d and %d", accepted, denied, fit, workers-fit)
		}
		e.wantUsage(e.priv, shared+fit*unique, "after the race")

		// Without a limit, concurrent pushes of shared and unique layers
		// add up exactly too.
		e.setQuota(e.priv, -1)
		s1, s2 := blobOf('S', 3000), blobOf('T', 2000)
		wg = sync.WaitGroup{}
		failures = nil
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				repo := fmt.Sprintf("priv/s%d", i)
				for _, b := range [][]byte{s1, s2, blobOf(byte('A'+i), 100+i)} {
					if r, err := e.pushBlob(dev, repo, b); err != nil || r.status != 201 {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s: %v %v", repo, r, err))
						mu.Unlock()
					}
				}
			}(i)
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("pushes failed:\n%s", strings.Join(failures, "\n"))
		}
		var uniques int64
		for i := 0; i < workers; i++ {
			uniques += int64(100 + i)
		}
		e.wantUsage(e.priv, shared+fit*unique+3000+2000+uniques, "after the unlimited race")
	})
}

// TestQuotaAPI checks listing, sorting, permissions and bad input.
func TestQuotaAPI(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		admin := e.as("admin")
		r := e.do(admin, "GET", "/quotas?page=1&page_size=10", nil)
		want(t, r, 200, "list quotas")
		validateBoth(t, "GET", "/quotas?page=1&page_size=10", r)
		projects := e.count(`SELECT count(*) FROM projects`) // priv, pub and Bootstrap's library
		if r.header.Get("X-Total-Count") != id(int64(projects)) {
			t.Fatalf("X-Total-Count = %q, want %d", r.header.Get("X-Total-Count"), projects)
		}
		var list []struct {
			ID  int64 `json:"id"`
			Ref struct {
				Name      string `json:"name"`
				OwnerName string `json:"owner_name"`
			} `json:"ref"`
			Hard map[string]int64 `json:"hard"`
		}
		decodeInto(t, r, &list)
		owners := map[string]string{}
		for _, x := range list {
			owners[x.Ref.Name] = x.Ref.OwnerName
		}
		if len(list) != projects || owners["priv"] != "pa" || owners["pub"] != "admin" {
			t.Fatalf("quotas: %s", r.body)
		}

		e.setQuota(e.pub, 5<<30)
		path := "/quotas?reference=project&reference_id=" + id(e.pub.ID)
		r = e.do(admin, "GET", path, nil)
		want(t, r, 200, path)
		validateBoth(t, "GET", path, r)
		decodeInto(t, r, &list)
		if len(list) != 1 || list[0].ID != e.pub.ID || list[0].Hard["storage"] != 5<<30 {
			t.Fatalf("%s: %s", path, r.body)
		}
		r = e.do(admin, "GET", "/quotas?sort=-hard.storage&page_size=1", nil)
		want(t, r, 200, "sorted")
		decodeInto(t, r, &list)
		if len(list) != 1 || list[0].ID != e.pub.ID || !strings.Contains(r.header.Get("Link"), `rel="next"`) {
			t.Fatalf("sort=-hard.storage: %s %v", r.body, r.header)
		}
		r = e.do(admin, "GET", "/quotas?reference=user", nil)
		want(t, r, 200, "other reference")
		if string(r.body) != "[]" {
			t.Fatalf("reference=user: %s", r.body)
		}
		// The project's storage_limit and the quota are the same value.
		pr := e.do(admin, "GET", "/projects/"+id(e.pub.ID)+"/summary", nil)
		if !strings.Contains(string(pr.body), fmt.Sprintf(`"hard":{"storage":%d}`, int64(5<<30))) {
			t.Fatalf("summary after PUT /quotas: %s", pr.body)
		}

		for _, c := range []struct {
			who, method, path string
			body              any
			status            int
		}{
			{"anonymous", "GET", "/quotas", nil, 401},
			{"developer", "GET", "/quotas", nil, 403},
			{"pa", "GET", "/quotas/" + id(e.priv.ID), nil, 403},
			{"pa", "PUT", "/quotas/" + id(e.priv.ID), map[string]any{"hard": map[string]int64{"storage": 1}}, 403},
			{"anonymous", "PUT", "/quotas/" + id(e.priv.ID), map[string]any{"hard": map[string]int64{"storage": 1}}, 401},
			{"admin", "GET", "/quotas/99999", nil, 404},
			{"admin", "PUT", "/quotas/99999", map[string]any{"hard": map[string]int64{"storage": 1}}, 404},
			{"admin", "PUT", "/quotas/" + id(e.priv.ID), map[string]any{"hard": map[string]int64{"storage": -2}}, 400},
			{"admin", "PUT", "/quotas/" + id(e.priv.ID), map[string]any{"hard": map[string]int64{"count": 3}}, 400},
			{"admin", "PUT", "/quotas/" + id(e.priv.ID), map[string]any{"hard": map[string]any{}}, 400},
			{"admin", "PUT", "/quotas/" + id(e.priv.ID), `{"hard":{"storage":"lots"}}`, 400},
			{"admin", "PUT", "/quotas/" + id(e.priv.ID), `{"hard":{"storage":1.5}}`, 400},
			{"admin", "GET", "/quotas?reference_id=abc", nil, 400},
			{"admin", "GET", "/quotas?sort=bogus", nil, 400},
			{"admin", "GET", "/quotas/abc", nil, 400},
		} {
			r := e.do(e.as(c.who), c.method, c.path, c.body)
			if r.status != c.status {
				t.Errorf("%s %s as %s: got %s, want %d", c.method, c.path, c.who, r, c.status)
				continue
			}
			wantErr(t, r, c.status, "", c.method+" "+c.path)
			if c.path != "/quotas/abc" && !strings.Contains(c.path, "sort=") && !strings.Contains(c.path, "reference_id=abc") {
				validateBoth(t, c.method, c.path, r)
			}
		}
		if n := e.audits("quota", "update", "pub"); n != 1 {
			t.Fatalf("audit entries for the quota update: %d", n)
		}
	})
}
