package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// env is a fake environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// expect is the configuration Load should produce for data directory dir
// when nothing else is set.
func expect(dir string) Config {
	return Config{
		DataDir:   dir,
		Server:    Server{Addr: ":5000"},
		Database:  Database{URL: filepath.Join(dir, "berth.db")},
		Storage:   Storage{URL: "file://" + filepath.Join(dir, "blobs")},
		TLS:       TLS{Mode: "auto"},
		Log:       Log{Level: "info", Format: "text"},
		Uploads:   Uploads{Expiry: 24 * time.Hour},
		Manifests: Manifests{MaxSize: 4 << 20},
		Shutdown:  Shutdown{Timeout: 30 * time.Second},
		Auth:      Auth{RobotPrefix: "robot$", TokenExpiry: 30 * time.Minute, ProjectCreation: "everyone"},
		Scanner:   Scanner{Workers: 2, RefreshInterval: 24 * time.Hour},
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(nil, env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs("berth-data")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expect(dir), got); diff != "" {
		t.Errorf("Load with nothing set (-want +got):\n%s", diff)
	}
}

func TestLoadFlags(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	tests := []struct {
		name string
		args []string
		edit func(*Config)
	}{
		{"addr", []string{"--addr", "127.0.0.1:6000"}, func(c *Config) { c.Server.Addr = "127.0.0.1:6000" }},
		{"addr single dash", []string{"-addr=:7000"}, func(c *Config) { c.Server.Addr = ":7000" }},
		{"data-dir moves derived defaults", []string{"--data-dir", other}, func(c *Config) {
			*c = expect(other)
		}},
		{"database path", []string{"--database", "/var/lib/berth/meta.db"}, func(c *Config) {
			c.Database.URL = "/var/lib/berth/meta.db"
		}},
		{"database postgres", []string{"--database", "postgres://berth:pw@db:5432/berth?sslmode=disable"}, func(c *Config) {
			c.Database.URL = "postgres://berth:pw@db:5432/berth?sslmode=disable"
		}},
		{"storage", []string{"--storage", "file:///srv/blobs"}, func(c *Config) { c.Storage.URL = "file:///srv/blobs" }},
		{"tls off", []string{"--tls=off"}, func(c *Config) { c.TLS.Mode = "off" }},
		{"tls on", []string{"--tls", "on"}, func(c *Config) { c.TLS.Mode = "on" }},
		{"log-level", []string{"--log-level", "debug"}, func(c *Config) { c.Log.Level = "debug" }},
		{"log-format", []string{"--log-format=json"}, func(c *Config) { c.Log.Format = "json" }},
		{"pprof bare", []string{"--pprof"}, func(c *Config) { c.Server.Pprof = true }},
		{"pprof=false", []string{"--pprof=false"}, func(c *Config) {}},
		{"config", []string{"--config", writeFile(t, "server:\n  addr: :8000\n")}, func(c *Config) { c.Server.Addr = ":8000" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(append([]string{"--data-dir", dir}, tt.args...), env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(dir)
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestLoadFlagVariables(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	tests := []struct {
		name string
		env  env
		edit func(*Config)
	}{
		{"BERTH_ADDR", env{"BERTH_ADDR": ":6000"}, func(c *Config) { c.Server.Addr = ":6000" }},
		{"BERTH_DATA_DIR", env{"BERTH_DATA_DIR": other}, func(c *Config) { *c = expect(other) }},
		{"BERTH_DATABASE", env{"BERTH_DATABASE": "postgresql://db/berth"}, func(c *Config) { c.Database.URL = "postgresql://db/berth" }},
		{"BERTH_STORAGE", env{"BERTH_STORAGE": "file:///srv/blobs"}, func(c *Config) { c.Storage.URL = "file:///srv/blobs" }},
		{"BERTH_TLS", env{"BERTH_TLS": "off"}, func(c *Config) { c.TLS.Mode = "off" }},
		{"BERTH_TLS upper case", env{"BERTH_TLS": "OFF"}, func(c *Config) { c.TLS.Mode = "off" }},
		{"BERTH_CONFIG", env{"BERTH_CONFIG": writeFile(t, "log:\n  level: warn\n")}, func(c *Config) { c.Log.Level = "warn" }},
		{"BERTH_LOG_LEVEL", env{"BERTH_LOG_LEVEL": "error"}, func(c *Config) { c.Log.Level = "error" }},
		{"BERTH_LOG_FORMAT", env{"BERTH_LOG_FORMAT": "json"}, func(c *Config) { c.Log.Format = "json" }},
		{"BERTH_PPROF", env{"BERTH_PPROF": "1"}, func(c *Config) { c.Server.Pprof = true }},
		{"empty counts as unset", env{"BERTH_ADDR": ""}, func(c *Config) {}},
		{"both names agreeing", env{"BERTH_ADDR": ":6000", "BERTH_SERVER_ADDR": ":6000"}, func(c *Config) { c.Server.Addr = ":6000" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": dir}
			for k, v := range tt.env {
				e[k] = v
			}
			got, err := Load(nil, e.get)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(dir)
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load with %v (-want +got):\n%s", tt.env, diff)
			}
		})
	}
}

// keyTests sets every key, once by BERTH_<SECTION>_<KEY> and once in a
// file; TestKeyTestsCoverEveryKey keeps it complete.
var keyTests = []struct {
	key, value string
	edit       func(*Config)
}{
	{"data_dir", "/srv/berth", func(c *Config) { *c = expect("/srv/berth") }},
	{"server.addr", "[::1]:5443", func(c *Config) { c.Server.Addr = "[::1]:5443" }},
	{"server.external_url", "https://registry.example.com", func(c *Config) { c.Server.ExternalURL = "https://registry.example.com" }},
	{"server.pprof", "true", func(c *Config) { c.Server.Pprof = true }},
	{"database.url", "postgres://db/berth", func(c *Config) { c.Database.URL = "postgres://db/berth" }},
	{"storage.url", "file:///srv/blobs", func(c *Config) { c.Storage.URL = "file:///srv/blobs" }},
	{"storage.s3_access_key", "AKIDEXAMPLE", func(c *Config) { c.Storage.S3AccessKey = "AKIDEXAMPLE" }},
	{"storage.s3_secret_key", "wJalrXUtnFEMI", func(c *Config) { c.Storage.S3SecretKey = "wJalrXUtnFEMI" }},
	{"storage.s3_redirect", "true", func(c *Config) {
		c.Storage.URL, c.Storage.S3AccessKey, c.Storage.S3SecretKey, c.Storage.S3Redirect = "s3://blobs", "k", "s", true
	}},
	{"tls.mode", "on", func(c *Config) { c.TLS.Mode = "on" }},
	{"tls.cert", "/etc/berth/tls.crt", func(c *Config) { c.TLS.Cert = "/etc/berth/tls.crt"; c.TLS.Key = "/etc/berth/tls.key" }},
	{"tls.key", "/etc/berth/tls.key", func(c *Config) { c.TLS.Cert = "/etc/berth/tls.crt"; c.TLS.Key = "/etc/berth/tls.key" }},
	{"tls.hosts", "registry.local,10.0.0.5", func(c *Config) { c.TLS.Hosts = []string{"registry.local", "10.0.0.5"} }},
	{"log.level", "warn", func(c *Config) { c.Log.Level = "warn" }},
	{"log.format", "json", func(c *Config) { c.Log.Format = "json" }},
	{"uploads.expiry", "90m", func(c *Config) { c.Uploads.Expiry = 90 * time.Minute }},
	{"uploads.max_chunk", "1048576", func(c *Config) { c.Uploads.MaxChunk = 1 << 20 }},
	{"manifests.max_size", "8388608", func(c *Config) { c.Manifests.MaxSize = 8 << 20 }},
	{"auth.robot_prefix", "robot-", func(c *Config) { c.Auth.RobotPrefix = "robot-" }},
	{"auth.token_expiry", "1h", func(c *Config) { c.Auth.TokenExpiry = time.Hour }},
	{"auth.project_creation", "adminonly", func(c *Config) { c.Auth.ProjectCreation = "adminonly" }},
	{"auth.secret_key", strings.Repeat("ab", 32), func(c *Config) { c.Auth.SecretKey = strings.Repeat("ab", 32) }},
	{"audit.retention", "720h", func(c *Config) { c.Audit.Retention = 720 * time.Hour }},
	{"metrics.addr", "127.0.0.1:9100", func(c *Config) { c.Metrics.Addr = "127.0.0.1:9100" }},
	{"metrics.token", "s3cret", func(c *Config) { c.Metrics.Addr = ":9100"; c.Metrics.Token = "s3cret" }},
	{"shutdown.timeout", "5s", func(c *Config) { c.Shutdown.Timeout = 5 * time.Second }},
	{"scanner.workers", "4", func(c *Config) { c.Scanner.Workers = 4 }},
	{"scanner.db_urls", "https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip,file:///srv/osv/Debian.zip",
		func(c *Config) {
			c.Scanner.DBURLs = []string{"https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip", "file:///srv/osv/Debian.zip"}
		}},
	{"scanner.refresh_interval", "6h", func(c *Config) { c.Scanner.RefreshInterval = 6 * time.Hour }},
}

func TestKeyTestsCoverEveryKey(t *testing.T) {
	var tested []string
	for _, tt := range keyTests {
		tested = append(tested, tt.key)
	}
	if diff := cmp.Diff(keys(), tested); diff != "" {
		t.Errorf("keyTests does not match settings() (-settings +tested):\n%s", diff)
	}
}

func TestLoadKeyVariables(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range keyTests {
		name := envName(tt.key)
		t.Run(name, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": dir, name: tt.value}
			// A certificate needs its key and the other way round.
			if tt.key == "tls.cert" {
				e["BERTH_TLS_KEY"] = "/etc/berth/tls.key"
			}
			if tt.key == "tls.key" {
				e["BERTH_TLS_CERT"] = "/etc/berth/tls.crt"
			}
			if tt.key == "metrics.token" { // a token without a listener is an error
				e["BERTH_METRICS_ADDR"] = ":9100"
			}
			if tt.key == "storage.s3_redirect" { // redirects need S3
				e["BERTH_STORAGE_URL"], e["BERTH_STORAGE_S3_ACCESS_KEY"], e["BERTH_STORAGE_S3_SECRET_KEY"] = "s3://blobs", "k", "s"
			}
			got, err := Load(nil, e.get)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(dir)
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load with %s=%s (-want +got):\n%s", name, tt.value, diff)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	want := []string{
		"BERTH_DATA_DIR", "BERTH_SERVER_ADDR", "BERTH_SERVER_EXTERNAL_URL", "BERTH_SERVER_PPROF",
		"BERTH_DATABASE_URL", "BERTH_STORAGE_URL", "BERTH_STORAGE_S3_ACCESS_KEY", "BERTH_STORAGE_S3_SECRET_KEY", "BERTH_STORAGE_S3_REDIRECT", "BERTH_TLS_MODE", "BERTH_TLS_CERT", "BERTH_TLS_KEY",
		"BERTH_TLS_HOSTS", "BERTH_LOG_LEVEL", "BERTH_LOG_FORMAT", "BERTH_UPLOADS_EXPIRY",
		"BERTH_UPLOADS_MAX_CHUNK", "BERTH_MANIFESTS_MAX_SIZE",
		"BERTH_AUTH_ROBOT_PREFIX", "BERTH_AUTH_TOKEN_EXPIRY", "BERTH_AUTH_PROJECT_CREATION", "BERTH_AUTH_SECRET_KEY", "BERTH_AUDIT_RETENTION",
		"BERTH_METRICS_ADDR", "BERTH_METRICS_TOKEN", "BERTH_SHUTDOWN_TIMEOUT",
		"BERTH_SCANNER_WORKERS", "BERTH_SCANNER_DB_URLS", "BERTH_SCANNER_REFRESH_INTERVAL",
	}
	var got []string
	for _, k := range keys() {
		got = append(got, envName(k))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	full := `
data_dir: ` + dir + `
server:
  addr: "127.0.0.1:5001"
  external_url: https://registry.example.com
  pprof: true
database:
  url: postgres://berth@db/berth
storage:
  url: file:///srv/blobs
tls:
  mode: "on"
  cert: certs/tls.crt
  key: /etc/berth/tls.key
  hosts: [registry.local, 10.0.0.5]
log:
  level: debug
  format: json
uploads:
  expiry: 1h30m
  max_chunk: 1048576
manifests:
  max_size: 1000000
shutdown:
  timeout: 10s
`
	tests := []struct {
		name, yaml string
		edit       func(*Config)
	}{
		{"every key", full, func(c *Config) {
			c.Server = Server{Addr: "127.0.0.1:5001", ExternalURL: "https://registry.example.com", Pprof: true}
			c.Database.URL = "postgres://berth@db/berth"
			c.Storage.URL = "file:///srv/blobs"
			c.TLS = TLS{Mode: "on", Cert: filepath.Join(dir, "certs/tls.crt"), Key: "/etc/berth/tls.key",
				Hosts: []string{"registry.local", "10.0.0.5"}}
			c.Log = Log{Level: "debug", Format: "json"}
			c.Uploads = Uploads{Expiry: 90 * time.Minute, MaxChunk: 1 << 20}
			c.Manifests.MaxSize = 1000000
			c.Shutdown.Timeout = 10 * time.Second
		}},
		{"empty file", "", func(c *Config) {}},
		{"only comments", "# nothing here\n", func(c *Config) {}},
		{"empty section", "server:\n", func(c *Config) {}},
		{"null value keeps default", "server:\n  addr: ~\n", func(c *Config) {}},
		{"hosts as one string", "tls:\n  hosts: a.example, b.example\n", func(c *Config) {
			c.TLS.Hosts = []string{"a.example", "b.example"}
		}},
		{"anchors", "log:\n  level: &l warn\ntls:\n  hosts: [*l]\n", func(c *Config) {
			c.Log.Level = "warn"
			c.TLS.Hosts = []string{"warn"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load([]string{"--config", writeFile(t, tt.yaml)}, env{"BERTH_DATA_DIR": dir}.get)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(dir)
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load of\n%s\n(-want +got):\n%s", tt.yaml, diff)
			}
		})
	}

	// Every key read from the file, one at a time.
	for _, tt := range keyTests {
		t.Run("key "+tt.key, func(t *testing.T) {
			text := "data_dir: " + dir + "\n"
			sec, k, nested := strings.Cut(tt.key, ".")
			if !nested {
				text = tt.key + ": " + strconv.Quote(tt.value) + "\n"
			} else {
				text += sec + ":\n  " + k + ": " + strconv.Quote(tt.value) + "\n"
			}
			switch tt.key { // a certificate needs its key and the other way round
			case "tls.cert":
				text += "  key: /etc/berth/tls.key\n"
			case "tls.key":
				text += "  cert: /etc/berth/tls.crt\n"
			case "metrics.token":
				text += "  addr: \":9100\"\n"
			case "storage.s3_redirect":
				text += "  url: s3://blobs\n  s3_access_key: k\n  s3_secret_key: s\n"
			}
			got, err := Load([]string{"--config", writeFile(t, text)}, env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(dir)
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load of\n%s\n(-want +got):\n%s", text, diff)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, "server:\n  addr: :1001\ntls:\n  mode: \"on\"\n")
	other := writeFile(t, "server:\n  addr: :1009\n")
	tests := []struct {
		name     string
		args     []string
		env      env
		addr     string
		tlsMode  string
		wantPath string
	}{
		{name: "default", addr: ":5000", tlsMode: "auto"},
		{name: "file beats default", args: []string{"--config", file}, addr: ":1001", tlsMode: "on"},
		{name: "env beats file", args: []string{"--config", file},
			env: env{"BERTH_ADDR": ":1002", "BERTH_TLS_MODE": "off"}, addr: ":1002", tlsMode: "off"},
		{name: "section env beats file", args: []string{"--config", file},
			env: env{"BERTH_SERVER_ADDR": ":1002", "BERTH_TLS": "auto"}, addr: ":1002", tlsMode: "auto"},
		{name: "flag beats env and file", args: []string{"--config", file, "--addr", ":1003", "--tls", "auto"},
			env: env{"BERTH_ADDR": ":1002", "BERTH_TLS_MODE": "off"}, addr: ":1003", tlsMode: "auto"},
		{name: "flag beats env", args: []string{"--addr", ":1003"},
			env: env{"BERTH_SERVER_ADDR": ":1002"}, addr: ":1003", tlsMode: "auto"},
		{name: "flag beats file", args: []string{"--config", file, "--addr", ":1003"}, addr: ":1003", tlsMode: "on"},
		{name: "BERTH_CONFIG names the file", env: env{"BERTH_CONFIG": file}, addr: ":1001", tlsMode: "on"},
		{name: "--config beats BERTH_CONFIG", args: []string{"--config", other},
			env: env{"BERTH_CONFIG": file}, addr: ":1009", tlsMode: "auto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": dir}
			for k, v := range tt.env {
				e[k] = v
			}
			got, err := Load(tt.args, e.get)
			if err != nil {
				t.Fatal(err)
			}
			if got.Server.Addr != tt.addr || got.TLS.Mode != tt.tlsMode {
				t.Errorf("addr, tls mode = %q, %q; want %q, %q", got.Server.Addr, got.TLS.Mode, tt.addr, tt.tlsMode)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // the error after "config: <path>: "
	}{
		{"unknown top-level key", "addr: :5000\n", `line 1: unknown key "addr"`},
		{"unknown section", "servre:\n  addr: :5000\n", `line 1: unknown key "servre"`},
		{"unknown key in section", "server:\n  adr: :5000\n", `line 2: unknown key "server.adr"`},
		{"key in the wrong section", "tls:\n  addr: :5000\n", `line 2: unknown key "tls.addr"`},
		{"value where a section belongs", "server: :5000\n", `line 1: server: must be a mapping of keys`},
		{"mapping where a value belongs", "tls:\n  mode:\n    on: true\n", `line 3: tls.mode: must be a single plain value`},
		{"list where a value belongs", "server:\n  addr: [a, b]\n", `line 2: server.addr: must be a single plain value`},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", `line 3: key "log.level" appears twice`},
		{"not a mapping", "- a\n- b\n", `line 1: the file must be a mapping of keys`},
		{"syntax", "server:\n  addr: :5000\n bad", `yaml: line 2: did not find expected key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.yaml)
			_, err := Load([]string{"--config", path, "--data-dir", t.TempDir()}, env{}.get)
			want := "config: " + path + ": " + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("Load of\n%s\nerror = %v\nwant %s", tt.yaml, err, want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := Load([]string{"--config", path}, env{}.get)
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("error = %v, want one naming %s that is os.ErrNotExist", err, path)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  env
		yaml string
		want string
	}{
		// The same bad value named by its flag, either variable, or key.
		{name: "tls flag", args: []string{"--tls=maybe"}, want: `config: --tls: must be on, off or auto, got "maybe"`},
		{name: "tls variable", env: env{"BERTH_TLS": "maybe"}, want: `config: BERTH_TLS: must be on, off or auto, got "maybe"`},
		{name: "tls key variable", env: env{"BERTH_TLS_MODE": "maybe"}, want: `config: BERTH_TLS_MODE: must be on, off or auto, got "maybe"`},
		{name: "tls key", yaml: "tls:\n  mode: maybe\n", want: `config: tls.mode: must be on, off or auto, got "maybe"`},
		{name: "expiry key", yaml: "uploads:\n  expiry: x\n", want: `config: uploads.expiry: time: invalid duration "x"`},
		{name: "expiry variable", env: env{"BERTH_UPLOADS_EXPIRY": "x"}, want: `config: BERTH_UPLOADS_EXPIRY: time: invalid duration "x"`},
		{name: "expiry without unit", yaml: "uploads:\n  expiry: 3600\n", want: `config: uploads.expiry: time: missing unit in duration "3600"`},
		{name: "expiry negative", env: env{"BERTH_UPLOADS_EXPIRY": "-1h"}, want: `config: BERTH_UPLOADS_EXPIRY: must be positive, got -1h0m0s`},
		{name: "max_chunk negative", yaml: "uploads:\n  max_chunk: -1\n", want: `config: uploads.max_chunk: must not be negative (0 means no limit), got -1`},
		{name: "max_chunk not a number", env: env{"BERTH_UPLOADS_MAX_CHUNK": "1MiB"}, want: `config: BERTH_UPLOADS_MAX_CHUNK: must be a whole number of bytes, got "1MiB"`},
		{name: "max_size zero", yaml: "manifests:\n  max_size: 0\n", want: `config: manifests.max_size: must be positive, got 0`},
		{name: "max_size variable", env: env{"BERTH_MANIFESTS_MAX_SIZE": "big"}, want: `config: BERTH_MANIFESTS_MAX_SIZE: must be a whole number of bytes, got "big"`},
		{name: "shutdown zero", env: env{"BERTH_SHUTDOWN_TIMEOUT": "0s"}, want: `config: BERTH_SHUTDOWN_TIMEOUT: must be positive, got 0s`},
		{name: "shutdown key", yaml: "shutdown:\n  timeout: soon\n", want: `config: shutdown.timeout: time: invalid duration "soon"`},
		{name: "addr without port", args: []string{"--addr", "5000"}, want: `config: --addr: must be host:port, got "5000"`},
		{name: "addr named port", env: env{"BERTH_ADDR": "localhost:http"}, want: `config: BERTH_ADDR: port must be a number from 0 to 65535, got "http"`},
		{name: "addr port too big", yaml: "server:\n  addr: :70000\n", want: `config: server.addr: port must be a number from 0 to 65535, got "70000"`},
		{name: "addr empty", yaml: "server:\n  addr: \"\"\n", want: `config: server.addr: must be host:port, got ""`},
		{name: "external_url scheme", env: env{"BERTH_SERVER_EXTERNAL_URL": "ftp://x"}, want: `config: BERTH_SERVER_EXTERNAL_URL: must be an http or https URL, got "ftp://x"`},
		{name: "external_url path", yaml: "server:\n  external_url: https://x/registry\n", want: `config: server.external_url: must be a bare origin such as https://registry.example.com, got "https://x/registry"`},
		{name: "pprof", env: env{"BERTH_PPROF": "maybe"}, want: `config: BERTH_PPROF: must be true or false, got "maybe"`},
		{name: "pprof flag", args: []string{"--pprof=maybe"}, want: `config: --pprof: must be true or false, got "maybe"`},
		{name: "pprof key", yaml: "server:\n  pprof: yes please\n", want: `config: server.pprof: must be true or false, got "yes please"`},
		{name: "database scheme", args: []string{"--database", "mysql://db/berth"}, want: `config: --database: unsupported database scheme "mysql" (want postgres://, postgresql://, sqlite://, file: or a file path)`},
		{name: "database postgres hides password", env: env{"BERTH_DATABASE_URL": "postgres://u:s3cret@db:port/berth"}, want: `config: BERTH_DATABASE_URL: invalid postgres URL: invalid port ":port" after host`},
		{name: "database sqlite without path", yaml: "database:\n  url: sqlite://\n", want: `config: database.url: SQLite database needs a file path`},
		{name: "storage scheme", args: []string{"--storage", "ftp://bucket"}, want: `config: --storage: unsupported storage scheme "ftp" (want file:// or s3://)`},
		{name: "storage variable", env: env{"BERTH_STORAGE_URL": "gs://bucket"}, want: `config: BERTH_STORAGE_URL: unsupported storage scheme "gs" (want file:// or s3://)`},
		{name: "s3 without keys", args: []string{"--storage", "s3://bucket"},
			want: "config: storage.s3_access_key: must be set for s3:// storage (or AWS_ACCESS_KEY_ID)\n" +
				"config: storage.s3_secret_key: must be set for s3:// storage (or AWS_SECRET_ACCESS_KEY)"},
		{name: "s3 without secret key", env: env{"BERTH_STORAGE": "s3://bucket", "AWS_ACCESS_KEY_ID": "AKID"},
			want: `config: storage.s3_secret_key: must be set for s3:// storage (or AWS_SECRET_ACCESS_KEY)`},
		{name: "s3 without bucket", env: env{"BERTH_STORAGE": "s3:///prefix", "BERTH_STORAGE_S3_ACCESS_KEY": "a", "BERTH_STORAGE_S3_SECRET_KEY": "s"},
			want: `config: BERTH_STORAGE: s3:// URL needs a bucket, as in s3://bucket/prefix?endpoint=host:port`},
		{name: "s3 bucket name", yaml: "storage:\n  url: s3://My_Bucket\n  s3_access_key: a\n  s3_secret_key: s\n",
			want: `config: storage.url: s3 bucket "My_Bucket" must be 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit`},
		{name: "s3 dot prefix", yaml: "storage:\n  url: s3://bucket/a/../b\n  s3_access_key: a\n  s3_secret_key: s\n",
			want: `config: storage.url: s3 prefix "a/../b" must be '/'-separated names of letters, digits, '.', '_' and '-', none of them '.' or '..'`},
		{name: "s3 unknown parameter", args: []string{"--storage", "s3://bucket?endpoint=minio:9000&insecure=1"}, env: env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
			want: `config: --storage: unknown s3 URL parameter "insecure" (want endpoint, region, secure or path_style)`},
		{name: "s3 endpoint with scheme", args: []string{"--storage", "s3://bucket?endpoint=http://minio:9000"}, env: env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
			want: `config: --storage: s3 endpoint "http://minio:9000" must be host:port without a scheme (secure=false selects plain HTTP)`},
		{name: "s3 endpoint port", args: []string{"--storage", "s3://bucket?endpoint=minio:99999"}, env: env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
			want: `config: --storage: s3 endpoint "minio:99999": port must be a number from 0 to 65535`},
		{name: "s3 secure", args: []string{"--storage", "s3://bucket?secure=no-thanks"}, env: env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
			want: `config: --storage: s3 URL parameter secure must be true or false, got "no-thanks"`},
		{name: "s3 parameter twice", args: []string{"--storage", "s3://bucket?region=a&region=b"}, env: env{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
			want: `config: --storage: s3 URL parameter region is given 2 times`},
		{name: "s3 keys in the URL are not shown", env: env{"BERTH_STORAGE_URL": "s3://AKID:s3cretKey@bucket", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
			want: `config: BERTH_STORAGE_URL: s3 URL must not hold credentials: set storage.s3_access_key and storage.s3_secret_key (BERTH_STORAGE_S3_ACCESS_KEY and BERTH_STORAGE_S3_SECRET_KEY) instead`},
		{name: "storage bare path", env: env{"BERTH_STORAGE": "/srv/blobs"}, want: `config: BERTH_STORAGE: must be a URL such as file:///var/lib/berth/blobs, got "/srv/blobs"`},
		{name: "storage without path", yaml: "storage:\n  url: file://\n", want: `config: storage.url: file:// URL needs a directory path`},
		{name: "log level", args: []string{"--log-level", "verbose"}, want: `config: --log-level: must be debug, info, warn or error, got "verbose"`},
		{name: "log level key", yaml: "log:\n  level: trace\n", want: `config: log.level: must be debug, info, warn or error, got "trace"`},
		{name: "log format", env: env{"BERTH_LOG_FORMAT": "xml"}, want: `config: BERTH_LOG_FORMAT: must be text or json, got "xml"`},
		{name: "cert without key", env: env{"BERTH_TLS_CERT": "/x.crt"}, want: `config: tls.key: must be set when tls.cert is`},
		{name: "key without cert", yaml: "tls:\n  key: /x.key\n", want: `config: tls.cert: must be set when tls.key is`},
		{name: "bad host", env: env{"BERTH_TLS_HOSTS": "ok.example,not a host"}, want: `config: BERTH_TLS_HOSTS: "not a host" is not a host name or IP address`},
		{name: "empty data dir", args: []string{"--data-dir="}, want: `config: --data-dir: must not be empty`},
		{name: "two variables disagree", env: env{"BERTH_ADDR": ":1", "BERTH_SERVER_ADDR": ":2"}, want: `config: BERTH_SERVER_ADDR: conflicts with BERTH_ADDR; set only one`},
		{name: "every problem at once", env: env{"BERTH_LOG_LEVEL": "loud", "BERTH_TLS": "maybe"},
			want: "config: BERTH_TLS: must be on, off or auto, got \"maybe\"\nconfig: BERTH_LOG_LEVEL: must be debug, info, warn or error, got \"loud\""},
		{name: "every parse problem at once", env: env{"BERTH_PPROF": "x", "BERTH_SHUTDOWN_TIMEOUT": "y"},
			want: "config: BERTH_PPROF: must be true or false, got \"x\"\nconfig: BERTH_SHUTDOWN_TIMEOUT: time: invalid duration \"y\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				e[k] = v
			}
			args := tt.args
			if tt.yaml != "" {
				args = append([]string{"--config", writeFile(t, tt.yaml)}, args...)
			}
			_, err := Load(args, e.get)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a password", err)
			}
			var ue *UsageError
			if errors.As(err, &ue) {
				t.Errorf("error %q is a UsageError; bad values are not command-line mistakes", err)
			}
		})
	}
}

func TestLoadUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "flag provided but not defined: -bogus"},
		{"missing value", []string{"--addr"}, "flag needs an argument: -addr"},
		{"stray argument", []string{"--tls=off", "extra"}, `unexpected argument "extra"`},
		{"bool flag takes no separate value", []string{"--pprof", "false"}, `unexpected argument "false"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, env{}.get)
			var ue *UsageError
			if !errors.As(err, &ue) || err.Error() != tt.want {
				t.Errorf("Load(%q) error = %#v, want UsageError %q", tt.args, err, tt.want)
			}
		})
	}
	for _, arg := range []string{"-h", "--help", "-help"} {
		if _, err := Load([]string{arg}, env{}.get); err != flag.ErrHelp {
			t.Errorf("Load(%q) error = %v, want flag.ErrHelp", arg, err)
		}
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  env
		edit func(*Config)
	}{
		{"database path", env{"BERTH_DATABASE": "meta.db"}, func(c *Config) { c.Database.URL = filepath.Join(dir, "meta.db") }},
		{"database nested path", env{"BERTH_DATABASE": "db/meta.db"}, func(c *Config) { c.Database.URL = filepath.Join(dir, "db/meta.db") }},
		{"database sqlite://", env{"BERTH_DATABASE": "sqlite://meta.db"}, func(c *Config) { c.Database.URL = filepath.Join(dir, "meta.db") }},
		{"database absolute sqlite://", env{"BERTH_DATABASE": "sqlite:///var/meta.db"}, func(c *Config) { c.Database.URL = "/var/meta.db" }},
		{"database file: with parameters", env{"BERTH_DATABASE": "file:meta.db?_pragma=foreign_keys(1)"}, func(c *Config) {
			c.Database.URL = filepath.Join(dir, "meta.db") + "?_pragma=foreign_keys(1)"
		}},
		{"database file:///", env{"BERTH_DATABASE": "file:///var/meta.db"}, func(c *Config) { c.Database.URL = "/var/meta.db" }},
		{"database absolute path", env{"BERTH_DATABASE": "/var/meta.db"}, func(c *Config) { c.Database.URL = "/var/meta.db" }},
		{"postgres untouched", env{"BERTH_DATABASE": "postgres://db/berth"}, func(c *Config) { c.Database.URL = "postgres://db/berth" }},
		{"storage relative", env{"BERTH_STORAGE": "file://store"}, func(c *Config) { c.Storage.URL = "file://" + filepath.Join(dir, "store") }},
		{"storage parent", env{"BERTH_STORAGE": "file://../shared"}, func(c *Config) {
			c.Storage.URL = "file://" + filepath.Join(filepath.Dir(dir), "shared")
		}},
		{"storage absolute", env{"BERTH_STORAGE": "file:///srv/blobs"}, func(c *Config) { c.Storage.URL = "file:///srv/blobs" }},
		{"tls files", env{"BERTH_TLS_CERT": "tls/cert.pem", "BERTH_TLS_KEY": "/etc/key.pem"}, func(c *Config) {
			c.TLS.Cert = filepath.Join(dir, "tls/cert.pem")
			c.TLS.Key = "/etc/key.pem"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": dir}
			for k, v := range tt.env {
				e[k] = v
			}
			got, err := Load(nil, e.get)
			if err != nil {
				t.Fatal(err)
			}
			want := expect(dir)
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("data dir from the file, relative to the working directory", func(t *testing.T) {
		got, err := Load([]string{"--config", writeFile(t, "data_dir: var/berth\n")}, env{}.get)
		if err != nil {
			t.Fatal(err)
		}
		abs, err := filepath.Abs("var/berth")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(expect(abs), got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := expect("/srv/berth")
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate of the defaults: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		keys []string
	}{
		{"zero config", func(c *Config) { *c = Config{} }, []string{
			"data_dir", "server.addr", "database.url", "storage.url", "tls.mode", "log.level", "log.format",
			"uploads.expiry", "manifests.max_size", "shutdown.timeout",
			"auth.robot_prefix", "auth.token_expiry", "auth.project_creation",
			"scanner.workers", "scanner.refresh_interval",
		}},
		{"sqlite:// form is valid", func(c *Config) { c.Database.URL = "sqlite://x.db" }, nil},
		{"relative storage is valid", func(c *Config) { c.Storage.URL = "file://blobs" }, nil},
		{"IPv6 host", func(c *Config) { c.TLS.Hosts = []string{"::1", "*.example.com"} }, nil},
		{"empty host", func(c *Config) { c.TLS.Hosts = []string{""} }, []string{"tls.hosts"}},
		{"host names and addresses", func(c *Config) {
			c.TLS.Hosts = []string{"registry", "Registry.Example.COM.", "10.0.0.5", "2001:db8::1", "under_score.example", "x-1.example"}
		}, nil},
		{"host with a port", func(c *Config) { c.TLS.Hosts = []string{"registry.example:5000"} }, []string{"tls.hosts"}},
		{"host as a URL", func(c *Config) { c.TLS.Hosts = []string{"https://registry.example"} }, []string{"tls.hosts"}},
		{"bracketed IPv6", func(c *Config) { c.TLS.Hosts = []string{"[::1]"} }, []string{"tls.hosts"}},
		{"wildcard not leftmost", func(c *Config) { c.TLS.Hosts = []string{"a.*.example"} }, []string{"tls.hosts"}},
		{"bare wildcard", func(c *Config) { c.TLS.Hosts = []string{"*"} }, []string{"tls.hosts"}},
		{"empty label", func(c *Config) { c.TLS.Hosts = []string{"a..example"} }, []string{"tls.hosts"}},
		{"label starts with a hyphen", func(c *Config) { c.TLS.Hosts = []string{"-a.example"} }, []string{"tls.hosts"}},
		{"other characters", func(c *Config) { c.TLS.Hosts = []string{"reg@example"} }, []string{"tls.hosts"}},
		{"label too long", func(c *Config) { c.TLS.Hosts = []string{strings.Repeat("a", 64) + ".example"} }, []string{"tls.hosts"}},
		{"robot prefix with a slash", func(c *Config) { c.Auth.RobotPrefix = "robot/" }, []string{"auth.robot_prefix"}},
		{"empty robot prefix", func(c *Config) { c.Auth.RobotPrefix = "" }, []string{"auth.robot_prefix"}},
		{"token expiry too short", func(c *Config) { c.Auth.TokenExpiry = time.Second }, []string{"auth.token_expiry"}},
		{"short secret key", func(c *Config) { c.Auth.SecretKey = "abcd" }, []string{"auth.secret_key"}},
		{"secret key not hex", func(c *Config) { c.Auth.SecretKey = strings.Repeat("zz", 32) }, []string{"auth.secret_key"}},
		{"token expiry too long", func(c *Config) { c.Auth.TokenExpiry = 48 * time.Hour }, []string{"auth.token_expiry"}},
		{"project creation unknown", func(c *Config) { c.Auth.ProjectCreation = "nobody" }, []string{"auth.project_creation"}},
		{"negative audit retention", func(c *Config) { c.Audit.Retention = -time.Hour }, []string{"audit.retention"}},
		{"redirects without S3", func(c *Config) { c.Storage.S3Redirect = true }, []string{"storage.s3_redirect"}},
		{"metrics on the registry's address", func(c *Config) { c.Metrics.Addr = c.Server.Addr }, []string{"metrics.addr"}},
		{"metrics address without a port", func(c *Config) { c.Metrics.Addr = "localhost" }, []string{"metrics.addr"}},
		{"metrics token without an address", func(c *Config) { c.Metrics.Token = "x" }, []string{"metrics.token"}},
		{"no scan workers", func(c *Config) { c.Scanner.Workers = 0 }, []string{"scanner.workers"}},
		{"vulnerability db over ftp", func(c *Config) { c.Scanner.DBURLs = []string{"ftp://x/all.zip"} }, []string{"scanner.db_urls"}},
		{"vulnerability db relative file", func(c *Config) { c.Scanner.DBURLs = []string{"file:osv.zip"} }, []string{"scanner.db_urls"}},
		{"refresh too often", func(c *Config) { c.Scanner.RefreshInterval = time.Second }, []string{"scanner.refresh_interval"}},
		{"scheme is case-sensitive, as in meta.Open", func(c *Config) { c.Database.URL = "PostgreSQL://db/x" }, []string{"database.url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := expect("/srv/berth")
			tt.edit(&c)
			var keys []string
			for _, fe := range c.problems() {
				keys = append(keys, fe.Key)
			}
			if diff := cmp.Diff(tt.keys, keys); diff != "" {
				t.Errorf("keys with problems (-want +got):\n%s", diff)
			}
			err := c.Validate()
			if (err == nil) != (len(tt.keys) == 0) {
				t.Errorf("Validate() = %v", err)
			}
			var fe *FieldError
			if err != nil && (!errors.As(err, &fe) || fe.Key != tt.keys[0]) {
				t.Errorf("Validate() = %v, want a *FieldError for %s first", err, tt.keys[0])
			}
		})
	}
}

func TestDatabasePostgres(t *testing.T) {
	for url, want := range map[string]bool{
		"postgres://db/x": true, "postgresql://db/x": true,
		"POSTGRES://db/x": false, // as meta.Open decides
		"/srv/berth.db":   false, "sqlite://x.db": false, "file:x.db": false, "postgres.db": false,
	} {
		if got := (Database{URL: url}).Postgres(); got != want {
			t.Errorf("Database{%q}.Postgres() = %v, want %v", url, got, want)
		}
	}
}

func TestStorageFilePath(t *testing.T) {
	for url, want := range map[string]string{"file:///srv/blobs": "/srv/blobs", "file://blobs": "blobs", "s3://b": ""} {
		got, ok := (Storage{URL: url}).FilePath()
		if got != want || ok != (want != "") {
			t.Errorf("Storage{%q}.FilePath() = %q, %v; want %q", url, got, ok, want)
		}
	}
}

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	Usage(&b)
	out := b.String()
	for _, s := range settings() {
		if s.flag == "" {
			continue
		}
		if !strings.Contains(out, "--"+s.flag) || !strings.Contains(out, flagEnvName(s.flag)) {
			t.Errorf("usage lacks --%s or %s:\n%s", s.flag, flagEnvName(s.flag), out)
		}
	}
	for _, want := range []string{"--config FILE", "BERTH_CONFIG", "default :5000", "BERTH_<SECTION>_<KEY>", "uploads.expiry"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("usage does not end in a newline")
	}
}

func TestStorageS3(t *testing.T) {
	keys := env{"BERTH_STORAGE_S3_ACCESS_KEY": "AKID", "BERTH_STORAGE_S3_SECRET_KEY": "SECRET"}
	tests := []struct {
		url  string
		want S3
	}{
		{"s3://bucket", S3{Bucket: "bucket", Endpoint: "s3.amazonaws.com", Secure: true}},
		{"s3://my.bucket-1/", S3{Bucket: "my.bucket-1", Endpoint: "s3.amazonaws.com", Secure: true}},
		{"s3://bucket/team/registry/?region=eu-west-1",
			S3{Bucket: "bucket", Prefix: "team/registry", Endpoint: "s3.amazonaws.com", Region: "eu-west-1", Secure: true}},
		{"s3://blobs?endpoint=127.0.0.1:7070&secure=false&path_style=true&region=us-east-1",
			S3{Bucket: "blobs", Endpoint: "127.0.0.1:7070", Region: "us-east-1", PathStyle: true}},
		{"s3://blobs/p?endpoint=minio.internal&secure=true&path_style=0",
			S3{Bucket: "blobs", Prefix: "p", Endpoint: "minio.internal", Secure: true}},
		{"s3://blobs?endpoint=[::1]:9000&secure=false",
			S3{Bucket: "blobs", Endpoint: "[::1]:9000"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": t.TempDir(), "BERTH_STORAGE": tt.url}
			maps.Copy(e, keys)
			c, err := Load(nil, e.get)
			if err != nil {
				t.Fatal(err)
			}
			if c.Storage.URL != tt.url {
				t.Errorf("Load rewrote the URL to %q", c.Storage.URL)
			}
			got, ok := c.Storage.S3()
			want := tt.want
			want.AccessKey, want.SecretKey = "AKID", "SECRET"
			if diff := cmp.Diff(want, got); !ok || diff != "" {
				t.Errorf("S3() ok=%v (-want +got):\n%s", ok, diff)
			}
			if _, ok := c.Storage.FilePath(); ok {
				t.Error("an s3:// URL has a file path")
			}
		})
	}
	for _, url := range []string{"file:///srv/blobs", "s3://Bad_Bucket", "S3://bucket"} {
		if _, ok := (Storage{URL: url}).S3(); ok {
			t.Errorf("Storage{%q}.S3() is ok", url)
		}
	}
}

// The AWS variables stand in for the keys; berth's own take precedence.
func TestStorageS3Keys(t *testing.T) {
	base := env{"BERTH_DATA_DIR": t.TempDir(), "BERTH_STORAGE": "s3://bucket",
		"AWS_ACCESS_KEY_ID": "aws-id", "AWS_SECRET_ACCESS_KEY": "aws-secret"}
	c, err := Load(nil, base.get)
	if err != nil {
		t.Fatal(err)
	}
	if got := [2]string{c.Storage.S3AccessKey, c.Storage.S3SecretKey}; got != [2]string{"aws-id", "aws-secret"} {
		t.Errorf("keys from AWS_*: %q", got)
	}
	own := maps.Clone(base)
	own["BERTH_STORAGE_S3_ACCESS_KEY"] = "berth-id"
	own["BERTH_STORAGE_S3_SECRET_KEY"] = "berth-secret"
	if c, err = Load(nil, own.get); err != nil {
		t.Fatal(err)
	}
	if got := [2]string{c.Storage.S3AccessKey, c.Storage.S3SecretKey}; got != [2]string{"berth-id", "berth-secret"} {
		t.Errorf("keys with both sets of variables: %q", got)
	}
	// Printing the configuration never shows them.
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%v", c.Storage)} {
		if strings.Contains(out, "berth-secret") || strings.Contains(out, "berth-id") {
			t.Errorf("printed configuration shows a key: %s", out)
		}
		if !strings.Contains(out, "s3://bucket") {
			t.Errorf("printed configuration lacks the storage URL: %s", out)
		}
	}
}

func TestMetricsStringHidesToken(t *testing.T) {
	c := Config{Metrics: Metrics{Addr: ":9100", Token: "scrape-secret"}}
	if s := fmt.Sprintf("%+v", c); strings.Contains(s, "scrape-secret") || !strings.Contains(s, ":9100") {
		t.Errorf("%%+v of a config shows %q", s)
	}
}
