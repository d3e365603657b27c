// Package helm checks the chart in berth/ with the helm binary: lint, and
// the manifests `helm template` renders for single-node and multi-node
// values. No cluster is contacted.
package helm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// helmBin is the helm scripts/test.sh builds before `go test`; when it is
// missing the test builds it from tools/interop (cached in the Go build
// cache).
func helmBin(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".tmp", "tools", "helm")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(root, ".tmp", "tools")+string(filepath.Separator), "helm.sh/helm/v4/cmd/helm")
	cmd.Dir = filepath.Join(root, "tools", "interop")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build helm: %v\n%s", err, out)
	}
	return bin
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

type obj = map[string]any

// render runs helm lint and helm template with the values files and
// returns the documents by kind.
func render(t *testing.T, values ...string) map[string][]obj {
	t.Helper()
	args := []string{"berth"}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	lint := helm(t, append([]string{"lint", "--strict"}, args...)...)
	if !strings.Contains(lint, "0 chart(s) failed") {
		t.Fatalf("helm lint: %s", lint)
	}
	out := helm(t, append([]string{"template", "rel", "--namespace", "registry"}, args...)...)
	docs := map[string][]obj{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var d obj
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, out)
		}
		if d == nil {
			continue
		}
		checkSchema(t, d)
		kind := d["kind"].(string)
		docs[kind] = append(docs[kind], d)
	}
	return docs
}

// get walks a path of map keys and list indexes.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

// checkSchema is a minimal schema check of one manifest.
func checkSchema(t *testing.T, d obj) {
	t.Helper()
	for _, k := range []string{"apiVersion", "kind"} {
		if s, _ := d[k].(string); s == "" {
			t.Errorf("a document has no %s: %v", k, d)
		}
	}
	if n, _ := get(t, d, "metadata", "name").(string); n == "" {
		t.Errorf("%v has no metadata.name", d["kind"])
	}
	if d["kind"] == "Deployment" {
		for _, c := range get(t, d, "spec", "template", "spec", "containers").([]any) {
			if img, _ := get(t, c, "image").(string); img == "" {
				t.Errorf("container %v has no image", get(t, c, "name"))
			}
			if ports, _ := get(t, c, "ports").([]any); len(ports) == 0 {
				t.Errorf("container %v has no ports", get(t, c, "name"))
			}
		}
		sel := get(t, d, "spec", "selector", "matchLabels").(obj)
		labels := get(t, d, "spec", "template", "metadata", "labels").(obj)
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("the selector %s=%v does not match the pod's labels", k, v)
			}
		}
	}
}

func kinds(docs map[string][]obj) []string {
	var out []string
	for k := range docs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// container is the berth container of the single Deployment.
func container(t *testing.T, docs map[string][]obj) obj {
	t.Helper()
	if len(docs["Deployment"]) != 1 {
		t.Fatalf("%d Deployments", len(docs["Deployment"]))
	}
	return get(t, docs["Deployment"][0], "spec", "template", "spec", "containers", 0).(obj)
}

// envOf maps env names to their entries; it fails on duplicates and on
// any secret passed as a literal value.
func envOf(t *testing.T, c obj) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	for _, e := range get(t, c, "env").([]any) {
		m := e.(obj)
		name := m["name"].(string)
		if _, dup := out[name]; dup {
			t.Errorf("env %s set twice", name)
		}
		out[name] = m
		secretish := strings.Contains(name, "PASSWORD") || strings.Contains(name, "SECRET") ||
			strings.Contains(name, "ACCESS_KEY") || name == "BERTH_DATABASE_URL"
		if secretish {
			if _, literal := m["value"]; literal {
				t.Errorf("env %s is a literal value, not from a Secret", name)
			}
		}
	}
	return out
}

func wantSecretRef(t *testing.T, env map[string]obj, name, secret, key string) {
	t.Helper()
	e, ok := env[name]
	if !ok {
		t.Errorf("env %s missing", name)
		return
	}
	ref, _ := get(t, e, "valueFrom", "secretKeyRef").(obj)
	if ref == nil || ref["name"] != secret || ref["key"] != key {
		t.Errorf("env %s = %v, want secretKeyRef %s/%s", name, e, secret, key)
	}
}

func wantValue(t *testing.T, env map[string]obj, name, value string) {
	t.Helper()
	if e, ok := env[name]; !ok || e["value"] != value {
		t.Errorf("env %s = %v, want %q", name, env[name], value)
	}
}

// checkCommon holds in every mode: probes, security context, volumes.
func checkCommon(t *testing.T, docs map[string][]obj) {
	t.Helper()
	c := container(t, docs)
	if p := get(t, c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe path %v", p)
	}
	if p := get(t, c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe path %v", p)
	}
	sc := get(t, c, "securityContext").(obj)
	if sc["runAsNonRoot"] != true || sc["runAsUser"] != 65532 || sc["readOnlyRootFilesystem"] != true ||
		sc["allowPrivilegeEscalation"] != false {
		t.Errorf("container securityContext %v", sc)
	}
	if drop := get(t, sc, "capabilities", "drop"); !slices.Equal(drop.([]any), []any{"ALL"}) {
		t.Errorf("capabilities drop %v", drop)
	}
	psc := get(t, docs["Deployment"][0], "spec", "template", "spec", "securityContext").(obj)
	if psc["runAsUser"] != 65532 || psc["fsGroup"] != 65532 || psc["runAsNonRoot"] != true {
		t.Errorf("pod securityContext %v", psc)
	}
	// A read-only root needs writable /data and /tmp.
	mounts := map[string]bool{}
	for _, m := range get(t, c, "volumeMounts").([]any) {
		mounts[get(t, m, "mountPath").(string)] = true
	}
	if !mounts["/data"] || !mounts["/tmp"] {
		t.Errorf("volume mounts %v lack /data or /tmp", mounts)
	}
	env := envOf(t, c)
	wantValue(t, env, "BERTH_DATA_DIR", "/data")
	if port := get(t, c, "ports", 0, "containerPort"); port != 5000 {
		t.Errorf("container port %v", port)
	}
	svc := docs["Service"]
	if len(svc) != 1 || get(t, svc[0], "spec", "ports", 0, "targetPort") != "http" {
		t.Errorf("Service %v", svc)
	}
}

func TestChartSingleNode(t *testing.T) {
	docs := render(t)
	if got := kinds(docs); !slices.Equal(got, []string{"Deployment", "PersistentVolumeClaim", "Service"}) {
		t.Fatalf("kinds %v", got)
	}
	checkCommon(t, docs)
	d := docs["Deployment"][0]
	if r := get(t, d, "spec", "replicas"); r != 1 {
		t.Errorf("replicas %v, want 1", r)
	}
	if s := get(t, d, "spec", "strategy", "type"); s != "Recreate" {
		t.Errorf("strategy %v, want Recreate", s)
	}
	pvc := docs["PersistentVolumeClaim"][0]
	claim := get(t, d, "spec", "template", "spec", "volumes", 0, "persistentVolumeClaim", "claimName")
	if claim != get(t, pvc, "metadata", "name") {
		t.Errorf("the data volume claims %v, not the chart's PVC %v", claim, get(t, pvc, "metadata", "name"))
	}
	env := envOf(t, container(t, docs))
	for _, name := range []string{"BERTH_DATABASE_URL", "BERTH_STORAGE_URL", "BERTH_STORAGE_S3_ACCESS_KEY", "BERTH_ADMIN_PASSWORD", "BERTH_TLS_CERT"} {
		if _, ok := env[name]; ok {
			t.Errorf("single node sets %s", name)
		}
	}
	wantValue(t, env, "BERTH_TLS_MODE", "off")
	// Metrics on their own port, scraped through pod annotations.
	wantValue(t, env, "BERTH_METRICS_ADDR", ":9100")
	a, _ := get(t, d, "spec", "template", "metadata", "annotations").(obj)
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9100" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus annotations %v", a)
	}
	if p := get(t, container(t, docs), "ports", 1); get(t, p, "name") != "metrics" || get(t, p, "containerPort") != 9100 {
		t.Errorf("container port %v, want metrics 9100", p)
	}
	if ports := get(t, docs["Service"][0], "spec", "ports").([]any); len(ports) != 1 {
		t.Errorf("the Service exposes %v; metrics stay off it", ports)
	}
}

// TestChartMetricsOff: metrics.enabled false leaves no listener, port or
// annotation behind.
func TestChartMetricsOff(t *testing.T) {
	vals := filepath.Join(t.TempDir(), "v.yaml")
	if err := os.WriteFile(vals, []byte("metrics:\n  enabled: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docs := render(t, vals)
	if _, ok := envOf(t, container(t, docs))["BERTH_METRICS_ADDR"]; ok {
		t.Error("BERTH_METRICS_ADDR set with metrics off")
	}
	if a := get(t, docs["Deployment"][0], "spec", "template", "metadata", "annotations"); a != nil {
		t.Errorf("annotations with metrics off: %v", a)
	}
	if ports := get(t, container(t, docs), "ports").([]any); len(ports) != 1 {
		t.Errorf("container ports %v with metrics off", ports)
	}
}

func TestChartMultiNode(t *testing.T) {
	docs := render(t, filepath.Join("testdata", "multinode.yaml"))
	if got := kinds(docs); !slices.Equal(got, []string{"Deployment", "Ingress", "Service"}) {
		t.Fatalf("kinds %v (no PVC in multi-node mode)", got)
	}
	checkCommon(t, docs)
	d := docs["Deployment"][0]
	if r := get(t, d, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %v, want 3", r)
	}
	if v := get(t, d, "spec", "template", "spec", "volumes", 0); get(t, v, "emptyDir") == nil {
		t.Errorf("data volume %v, want an emptyDir", v)
	}
	c := container(t, docs)
	env := envOf(t, c)
	wantSecretRef(t, env, "BERTH_DATABASE_URL", "berth-postgres", "url")
	wantSecretRef(t, env, "BERTH_STORAGE_S3_ACCESS_KEY", "berth-s3", "accessKey")
	wantSecretRef(t, env, "BERTH_STORAGE_S3_SECRET_KEY", "berth-s3", "secretKey")
	wantSecretRef(t, env, "BERTH_ADMIN_PASSWORD", "berth-admin", "password")
	wantValue(t, env, "BERTH_STORAGE_URL", "s3://berth-blobs/registry?endpoint=s3.example.com:443")
	wantValue(t, env, "BERTH_SERVER_EXTERNAL_URL", "https://registry.example.com")
	wantValue(t, env, "BERTH_TLS_MODE", "on")
	wantValue(t, env, "BERTH_TLS_CERT", "/etc/berth/tls/tls.crt")
	wantValue(t, env, "BERTH_TLS_KEY", "/etc/berth/tls/tls.key")
	var tlsVol any
	for _, v := range get(t, d, "spec", "template", "spec", "volumes").([]any) {
		if get(t, v, "name") == "tls" {
			tlsVol = v
		}
	}
	if tlsVol == nil || get(t, tlsVol, "secret", "secretName") != "berth-tls" {
		t.Errorf("tls volume %v, want Secret berth-tls", tlsVol)
	}
	if s := get(t, c, "livenessProbe", "httpGet", "scheme"); s != "HTTPS" {
		t.Errorf("probe scheme %v with TLS on", s)
	}
	a := get(t, d, "spec", "template", "metadata", "annotations").(obj)
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" || a["prometheus.io/scheme"] != nil {
		t.Errorf("prometheus annotations %v (metrics are plain HTTP)", a)
	}
	ing := docs["Ingress"][0]
	if get(t, ing, "spec", "rules", 0, "host") != "registry.example.com" ||
		get(t, ing, "spec", "rules", 0, "http", "paths", 0, "backend", "service", "name") != get(t, docs["Service"][0], "metadata", "name") {
		t.Errorf("Ingress %v", ing)
	}
}

// TestChartAdminPasswordValue: a password given in values becomes a
// Secret of the chart, referenced, never a literal env value.
func TestChartAdminPasswordValue(t *testing.T) {
	dir := t.TempDir()
	vals := filepath.Join(dir, "v.yaml")
	if err := os.WriteFile(vals, []byte("admin:\n  password: Chart-Admin-1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docs := render(t, vals)
	if len(docs["Secret"]) != 1 {
		t.Fatalf("kinds %v, want one Secret", kinds(docs))
	}
	name := get(t, docs["Secret"][0], "metadata", "name").(string)
	wantSecretRef(t, envOf(t, container(t, docs)), "BERTH_ADMIN_PASSWORD", name, "password")
}

// TestChartRefusesHalfScaleOut: replicas over SQLite, or PostgreSQL
// without S3, do not render.
func TestChartRefusesHalfScaleOut(t *testing.T) {
	for _, set := range []string{"replicaCount=2", "database.existingSecret=pg"} {
		cmd := exec.Command(helmBin(t), "template", "rel", "berth", "--set", set)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("--set %s rendered:\n%s", set, out)
		}
	}
}
