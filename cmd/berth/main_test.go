package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/version"
)

type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestRun(t *testing.T) {
	badYAML := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(badYAML, []byte("server:\n  adr: :5000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        env
		code       int
		stdout     []string // substrings
		stderr     []string
		quietOut   bool // stdout must be empty
		quietError bool // stderr must be empty
	}{
		{name: "version", args: []string{"version"}, code: 0,
			stdout:     []string{"berth " + version.Version + " (" + version.Commit + ") " + runtime.Version() + "\n"},
			quietError: true},
		{name: "version with argument", args: []string{"version", "x"}, code: 2, stderr: []string{`unexpected argument "x"`}, quietOut: true},
		{name: "help", args: []string{"help"}, code: 0,
			stdout:     []string{"serve", "ca", "version", "help", "--addr", "--data-dir", "--database", "--storage", "--tls", "--config", "--log-level", "--log-format", "--pprof", "BERTH_ADDR"},
			quietError: true},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"Commands:", "--addr"}, quietError: true},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"Commands:", "--addr"}, quietError: true},
		{name: "help serve", args: []string{"help", "serve"}, code: 0, stdout: []string{"berth serve", "--addr"}, quietError: true},
		{name: "serve -h", args: []string{"serve", "-h"}, code: 0, stdout: []string{"berth serve", "--tls"}, quietError: true},
		{name: "help ca", args: []string{"help", "ca"}, code: 0, stdout: []string{"berth ca", "certs.d"}, quietError: true},
		{name: "ca -h", args: []string{"ca", "-h"}, code: 0, stdout: []string{"berth ca", "--data-dir"}, quietError: true},
		{name: "ca on an empty data dir", args: []string{"ca"}, code: 1,
			stderr: []string{"berth ca: no berth database at "}, quietOut: true},
		{name: "ca with a provided certificate", args: []string{"ca"},
			env: env{"BERTH_TLS_CERT": "/x.crt", "BERTH_TLS_KEY": "/x.key"}, code: 1,
			stderr: []string{"berth ca: tls.cert is set"}, quietOut: true},
		{name: "ca stray argument", args: []string{"ca", "now"}, code: 2,
			stderr: []string{`unexpected argument "now"`, "berth ca"}, quietOut: true},
		{name: "no command", args: nil, code: 2, stderr: []string{"Commands:"}, quietOut: true},
		{name: "unknown command", args: []string{"frob"}, code: 2, stderr: []string{`unknown command "frob"`}, quietOut: true},
		{name: "unknown top-level flag", args: []string{"--frob"}, code: 2, stderr: []string{`unknown flag "--frob"`}, quietOut: true},
		{name: "unknown serve flag", args: []string{"serve", "--frob"}, code: 2,
			stderr: []string{"flag provided but not defined: -frob", "--addr"}, quietOut: true},
		{name: "serve flag without value", args: []string{"serve", "--addr"}, code: 2,
			stderr: []string{"flag needs an argument: -addr"}, quietOut: true},
		{name: "serve stray argument", args: []string{"serve", "now"}, code: 2,
			stderr: []string{`unexpected argument "now"`}, quietOut: true},
		// Bad configuration fails in config.Load, before app.Serve.
		{name: "bad flag value", args: []string{"serve", "--tls=maybe"}, code: 1,
			stderr: []string{"config: --tls: must be on, off or auto, got \"maybe\"\n"}, quietOut: true},
		{name: "bad variable", args: []string{"serve"}, env: env{"BERTH_UPLOADS_EXPIRY": "x"}, code: 1,
			stderr: []string{"config: BERTH_UPLOADS_EXPIRY: time: invalid duration \"x\"\n"}, quietOut: true},
		{name: "bad file key", args: []string{"serve", "--config", badYAML}, code: 1,
			stderr: []string{`unknown key "server.adr"`}, quietOut: true},
		{name: "unsupported storage", args: []string{"serve"}, env: env{"BERTH_STORAGE": "gs://bucket"}, code: 1,
			stderr: []string{`config: BERTH_STORAGE: unsupported storage scheme "gs"`}, quietOut: true},
		{name: "s3 without keys", args: []string{"serve"}, env: env{"BERTH_STORAGE": "s3://bucket"}, code: 1,
			stderr: []string{`config: storage.s3_access_key: must be set`}, quietOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"BERTH_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				e[k] = v
			}
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr, e.get)
			if code != tt.code {
				t.Errorf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
			if tt.quietOut && stdout.Len() > 0 {
				t.Errorf("stdout not empty:\n%s", &stdout)
			}
			if tt.quietError && stderr.Len() > 0 {
				t.Errorf("stderr not empty:\n%s", &stderr)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		level, format string
		want          string // what an Info line looks like; "" if filtered
	}{
		{"info", "text", "level=INFO msg=hello"},
		{"debug", "json", `"level":"INFO","msg":"hello"`},
		{"warn", "text", ""},
		{"error", "json", ""},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		newLogger(&b, config.Log{Level: tt.level, Format: tt.format}).Info("hello")
		if got := b.String(); tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("level %s, format %s: logged %q, want %q", tt.level, tt.format, got, tt.want)
		}
	}
}
