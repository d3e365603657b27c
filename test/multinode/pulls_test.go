package multinode

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestPullRecordsSurviveSIGTERM: pull counts, pull times and pull audit
// entries are written behind the request, in batches; a node stopped with
// SIGTERM writes what it still holds before it exits, so nothing counted
// is lost. A third node started afterwards sees every pull of the other
// two.
func TestPullRecordsSurviveSIGTERM(t *testing.T) {
	start := newCluster(t)
	a, b := start("node-a"), start("node-b")
	tok := token(t, a, "repository:library/pulls:pull,push")
	if _, _, err := pushImage(a, tok, "library/pulls", "v1"); err != nil {
		t.Fatal(err)
	}
	pulls := map[node]int{a: 5, b: 3}
	var pulledBefore time.Time
	for n, count := range pulls {
		for i := 0; i < count; i++ {
			res := do(t, "GET", n.url+"/v2/library/pulls/manifests/v1", tok, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("pull from %s: %d", n.url, res.StatusCode)
			}
		}
		pulledBefore = time.Now()
	}
	for _, n := range []node{a, b} {
		if killed := n.proc.Stop(30 * time.Second); killed {
			t.Fatalf("%s did not stop on SIGTERM within 30s", n.url)
		}
	}

	c := start("node-c")
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", c.url+path, nil)
		req.SetBasicAuth("admin", adminPassword)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var repo struct {
		PullCount int `json:"pull_count"`
	}
	get("/api/v2.0/projects/library/repositories/pulls", &repo)
	if repo.PullCount != 8 {
		t.Errorf("pull_count %d, want 8", repo.PullCount)
	}
	var arts []struct {
		PullTime time.Time `json:"pull_time"`
		Tags     []struct {
			PullTime time.Time `json:"pull_time"`
		}
	}
	get("/api/v2.0/projects/library/repositories/pulls/artifacts?with_tag=true", &arts)
	if len(arts) != 1 || len(arts[0].Tags) != 1 {
		t.Fatalf("artifacts: %+v", arts)
	}
	if pt := arts[0].PullTime; pt.IsZero() || pt.After(pulledBefore) || arts[0].Tags[0].PullTime.IsZero() {
		t.Errorf("pull times after the pulls: artifact %v, tag %v", pt, arts[0].Tags[0].PullTime)
	}
	var logs []struct{ Operation, Resource string }
	get("/api/v2.0/audit-logs?q=operation%3Dpull&page_size=50", &logs)
	if len(logs) != 8 || logs[0].Resource != "library/pulls:v1" {
		t.Errorf("pull audit entries: %+v, want 8 of library/pulls:v1", logs)
	}
}
