package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
)

// scanServer is a whole berth node in process, listening on loopback
// with its scan worker running, so that an adapter can pull from it.
type scanServer struct {
	t      *testing.T
	url    string
	user   string
	pass   string
	client *http.Client
	n      *node
}

func startScanServer(t *testing.T) *scanServer {
	t.Helper()
	const pass = "Scanning123"
	t.Setenv("BERTH_ADMIN_PASSWORD", pass)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	env := map[string]string{"BERTH_SERVER_EXTERNAL_URL": url}
	cfg, err := config.Load([]string{"--data-dir", t.TempDir(), "--tls", "off"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := assemble(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(n.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.scans.svc.Run(ctx, time.Second) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		n.gc.Close()
		n.db.Close()
	})
	return &scanServer{t: t, url: url, user: "admin", pass: pass, client: &http.Client{Timeout: time.Minute}, n: n}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *scanServer) do(method, path string, body any, hdr ...string) reply {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth(s.user, s.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if p, ok := strings.CutPrefix(path, api.Prefix); ok {
		// Every API answer matches Harbor's swagger and berth's document
		// (Harbor's swagger types additions as a string, though Harbor
		// answers vulnerabilities with a JSON object, as berth does, and
		// an SBOM in a media type of its own).
		if !strings.HasSuffix(p, "/additions/vulnerabilities") && !strings.HasSuffix(p, "/additions/sbom") {
			apidoc.Harbor(s.t).Validate(s.t, method, p, res.StatusCode, res.Header, apidoc.WithoutExtraAttrs(b))
		}
		apidoc.Berth(s.t, api.OpenAPIYAML()).Validate(s.t, method, p, res.StatusCode, res.Header, b)
	}
	return reply{res.StatusCode, res.Header, b}
}

func (s *scanServer) expect(r reply, status int, what string) {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("%s: HTTP %d, want %d: %s", what, r.status, status, r.body)
	}
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// push stores an image of one layer with Basic credentials and returns
// the manifest's digest.
func (s *scanServer) push(repo, tag string, layer []byte) string {
	s.t.Helper()
	return s.pushArch(repo, tag, layer, "amd64")
}

// pushArch is push with the config's architecture.
func (s *scanServer) pushArch(repo, tag string, layer []byte, arch string) string {
	s.t.Helper()
	config := []byte(`{"architecture":"` + arch + `","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digestOf(layer) + `"]}}`)
	for _, b := range [][]byte{config, layer} {
		r := s.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(b), b, "Content-Type", "application/octet-stream")
		s.expect(r, http.StatusCreated, "push blob")
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digestOf(config), len(config), digestOf(layer), len(layer))
	r := s.do("PUT", "/v2/"+repo+"/manifests/"+tag, []byte(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	s.expect(r, http.StatusCreated, "push manifest")
	return digestOf([]byte(m))
}

// fakeAdapter speaks Harbor's Pluggable Scanner API v1.1 on loopback. On
// a scan request it pulls the manifest and every blob from the registry
// URL with the authorization it was given, checks their digests, and
// reports one finding per layer; the first report poll answers 302.
type fakeAdapter struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	reports map[string][]byte
	polled  map[string]bool
	pulled  []string // what it fetched: "manifest …", "blob …"
	auth    string   // the registry authorization it was given
	repo    string
}

const adapterSecret = "adapter-secret"

func newFakeAdapter(t *testing.T) *fakeAdapter {
	a := &fakeAdapter{t: t, reports: map[string][]byte{}, polled: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.1")
		fmt.Fprint(w, `{"scanner":{"name":"FakeScan","vendor":"berth tests","version":"0.1"},
			"capabilities":[{"type":"vulnerability","consumes_mime_types":["application/vnd.oci.image.manifest.v1+json",
			"application/vnd.docker.distribution.manifest.v2+json"],
			"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}],
			"properties":{"harbor.scanner-adapter/scanner-type":"os-package-vulnerability"}}`)
	})
	mux.HandleFunc("POST /api/v1/scan", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(w, r) {
			return
		}
		var req struct {
			Registry struct{ URL, Authorization string }
			Artifact struct {
				Repository string
				Digest     string
				MimeType   string `json:"mime_type"`
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		report, err := a.scan(req.Registry.URL, req.Registry.Authorization, req.Artifact.Repository, req.Artifact.Digest)
		if err != nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"error":{"message":%q}}`, err.Error())
			return
		}
		id := fmt.Sprintf("scan-%d", len(a.reports)+1)
		a.mu.Lock()
		a.reports[id] = report
		a.auth, a.repo = req.Registry.Authorization, req.Artifact.Repository
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.scan.response+json; version=1.0")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":%q}`, id)
	})
	mux.HandleFunc("GET /api/v1/scan/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(w, r) {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		rep, ok := a.reports[r.PathValue("id")]
		switch {
		case !ok:
			http.Error(w, `{"error":{"message":"unknown scan"}}`, http.StatusNotFound)
		case !a.polled[r.PathValue("id")]:
			a.polled[r.PathValue("id")] = true
			w.Header().Set("Refresh-After", "0")
			w.WriteHeader(http.StatusFound)
		default:
			w.Header().Set("Content-Type", r.Header.Get("Accept"))
			w.Write(rep)
		}
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAdapter) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+adapterSecret {
		http.Error(w, `{"error":{"message":"unauthorized"}}`, http.StatusUnauthorized)
		return false
	}
	return true
}

// fetch GETs a registry path with the given authorization and checks the
// digest of what comes back.
func (a *fakeAdapter) fetch(base, auth, path, digest string, accept string) ([]byte, error) {
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", auth)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", path, res.StatusCode, b)
	}
	if digestOf(b) != digest {
		return nil, fmt.Errorf("GET %s: digest %s, want %s", path, digestOf(b), digest)
	}
	return b, nil
}

func (a *fakeAdapter) scan(base, auth, repo, digest string) ([]byte, error) {
	m, err := a.fetch(base, auth, "/v2/"+repo+"/manifests/"+digest, digest, "application/vnd.oci.image.manifest.v1+json")
	if err != nil {
		return nil, err
	}
	var man struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(m, &man); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.pulled = append(a.pulled, "manifest "+digest)
	a.mu.Unlock()
	var vulns []scan.Vulnerability
	for i, d := range append([]string{man.Config.Digest}, func() (ds []string) {
		for _, l := range man.Layers {
			ds = append(ds, l.Digest)
		}
		return
	}()...) {
		if _, err := a.fetch(base, auth, "/v2/"+repo+"/blobs/"+d, d, ""); err != nil {
			return nil, err
		}
		a.mu.Lock()
		a.pulled = append(a.pulled, "blob "+d)
		a.mu.Unlock()
		if i > 0 {
			vulns = append(vulns, scan.Vulnerability{ID: "CVE-2024-0001", Package: "libfoo", Version: "1.0",
				FixVersion: "1.1", Severity: scan.SeverityHigh, Description: "found in layer " + d})
		}
	}
	vulns = append(vulns, scan.Vulnerability{ID: "CVE-2024-0002", Package: "libbar", Version: "2.0",
		Severity: scan.SeverityLow})
	return json.Marshal(scan.Report{GeneratedAt: time.Now().UTC(), Scanner: scan.Scanner{Name: "FakeScan", Vendor: "berth tests", Version: "0.1"},
		Artifact: &scan.Artifact{Repository: repo, Digest: digest}, Severity: scan.SeverityHigh, Vulnerabilities: vulns})
}

// waitScan polls the artifact's scan_overview until its scan ended and
// returns the overview entry of mime type mt.
func (s *scanServer) waitScan(project, repo, ref, mt string) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := s.do("GET", "/api/v2.0/projects/"+project+"/repositories/"+repo+"/artifacts/"+ref+"?with_scan_overview=true", nil)
		s.expect(r, http.StatusOK, "get artifact")
		var art struct {
			ScanOverview map[string]map[string]any `json:"scan_overview"`
		}
		if err := json.Unmarshal(r.body, &art); err != nil {
			s.t.Fatal(err)
		}
		ov, ok := art.ScanOverview[mt]
		if ok && (ov["scan_status"] == "Success" || ov["scan_status"] == "Error") {
			return ov
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("scan of %s/%s:%s did not end: %s", project, repo, ref, r.body)
		}
		time.Sleep(100 * time.Millisecond) // polling an asynchronous job, bounded by the deadline
	}
}

// TestPluggableScanner registers an adapter the test runs on loopback,
// sets it as a project's scanner and scans: the adapter really pulls the
// image from berth with the short-lived token it was given (before any
// scan, under prevent_vul), and its report shows in scan_overview,
// additions/vulnerabilities and the scan log, and drives the pull policy.
func TestPluggableScanner(t *testing.T) {
	s := startScanServer(t)
	a := newFakeAdapter(t)

	s.expect(s.do("POST", "/api/v2.0/projects", map[string]any{"project_name": "scanme",
		"metadata": map[string]string{"prevent_vul": "true", "severity": "high", "reuse_sys_cve_allowlist": "false"}}),
		http.StatusCreated, "create project")
	layer := bytes.Repeat([]byte("layer bytes "), 100)
	digest := s.push("scanme/app", "v1", layer)

	// Unscanned under prevent_vul: refused, saying how to proceed.
	r := s.do("GET", "/v2/scanme/app/manifests/v1", nil)
	s.expect(r, http.StatusPreconditionFailed, "pull before any scan")
	if !strings.Contains(string(r.body), "PROJECTPOLICYVIOLATION") || !strings.Contains(string(r.body), "without vulnerability scanning") {
		t.Fatalf("pull before any scan: %s", r.body)
	}

	// Register the adapter (ping first), make it the project's scanner.
	reg := map[string]any{"name": "fake", "url": a.srv.URL, "auth": "Bearer", "access_credential": adapterSecret}
	s.expect(s.do("POST", "/api/v2.0/scanners/ping", reg), http.StatusOK, "ping adapter")
	r = s.do("POST", "/api/v2.0/scanners", reg)
	s.expect(r, http.StatusCreated, "register adapter")
	uuid := r.header.Get("Location")[strings.LastIndex(r.header.Get("Location"), "/")+1:]
	r = s.do("GET", "/api/v2.0/scanners/"+uuid, nil)
	s.expect(r, http.StatusOK, "get registration")
	var got map[string]any
	json.Unmarshal(r.body, &got)
	if got["health"] != "healthy" || got["adapter"] != "FakeScan" || got["access_credential"] != "" || got["is_default"] != false {
		t.Fatalf("registration: %s", r.body)
	}
	s.expect(s.do("PUT", "/api/v2.0/projects/scanme/scanner", map[string]string{"uuid": uuid}), http.StatusOK, "set project scanner")
	r = s.do("GET", "/api/v2.0/projects/scanme/scanner", nil)
	s.expect(r, http.StatusOK, "get project scanner")
	if !strings.Contains(string(r.body), uuid) {
		t.Fatalf("project scanner: %s", r.body)
	}

	s.expect(s.do("POST", "/api/v2.0/projects/scanme/repositories/app/artifacts/v1/scan", nil), http.StatusAccepted, "scan")
	ov := s.waitScan("scanme", "app", "v1", scan.MediaTypeVulnReport)
	if ov["scan_status"] != "Success" || ov["severity"] != "High" || ov["complete_percent"] != float64(100) {
		t.Fatalf("scan overview: %v", ov)
	}
	sum, _ := json.Marshal(ov["summary"])
	if string(sum) != `{"fixable":1,"summary":{"High":1,"Low":1},"total":2}` {
		t.Fatalf("summary: %s", sum)
	}
	if sc, _ := ov["scanner"].(map[string]any); sc["name"] != "FakeScan" {
		t.Fatalf("overview scanner: %v", ov["scanner"])
	}
	a.mu.Lock()
	pulled, auth, repo := strings.Join(a.pulled, "\n"), a.auth, a.repo
	a.mu.Unlock()
	if !strings.Contains(pulled, "manifest "+digest) || !strings.Contains(pulled, "blob "+digestOf(layer)) {
		t.Fatalf("the adapter did not pull the image: %s", pulled)
	}
	// The adapter's token is for that repository only.
	req, _ := http.NewRequest("GET", s.url+"/v2/scanme/other/manifests/v1", nil)
	req.Header.Set("Authorization", auth)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("adapter token on another repository (%s): %v %v", repo, res.StatusCode, err)
	}

	r = s.do("GET", "/api/v2.0/projects/scanme/repositories/app/artifacts/v1/additions/vulnerabilities", nil)
	s.expect(r, http.StatusOK, "vulnerabilities")
	var full map[string]scan.Report
	if err := json.Unmarshal(r.body, &full); err != nil {
		t.Fatal(err)
	}
	if rep := full[scan.MediaTypeVulnReport]; len(rep.Vulnerabilities) != 2 || rep.Vulnerabilities[0].ID != "CVE-2024-0001" {
		t.Fatalf("vulnerabilities: %s", r.body)
	}
	r = s.do("GET", "/api/v2.0/projects/scanme/repositories/app/artifacts/v1/scan/"+ov["report_id"].(string)+"/log", nil)
	s.expect(r, http.StatusOK, "scan log")
	if !strings.Contains(string(r.body), "accepted the scan") {
		t.Fatalf("scan log: %s", r.body)
	}

	// The policy names the blocking CVE; the project allowlist lifts it.
	r = s.do("GET", "/v2/scanme/app/manifests/v1", nil)
	s.expect(r, http.StatusPreconditionFailed, "pull with a High finding")
	if !strings.Contains(string(r.body), "current image with 2 vulnerabilities cannot be pulled") ||
		!strings.Contains(string(r.body), "CVE-2024-0001 (High, libfoo 1.0, fixed in 1.1)") ||
		strings.Contains(string(r.body), "CVE-2024-0002 (") {
		t.Fatalf("policy message: %s", r.body)
	}
	s.expect(s.do("PUT", "/api/v2.0/projects/scanme", map[string]any{"cve_allowlist": map[string]any{
		"items": []map[string]string{{"cve_id": "CVE-2024-0001"}}}}), http.StatusOK, "allowlist the CVE")
	r = s.do("GET", "/api/v2.0/projects/scanme", nil)
	if !strings.Contains(string(r.body), `"cve_id":"CVE-2024-0001"`) {
		t.Fatalf("project allowlist: %s", r.body)
	}
	s.expect(s.do("GET", "/v2/scanme/app/manifests/v1", nil), http.StatusOK, "pull after allowlisting")
}
