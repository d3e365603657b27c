package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A setting is one configuration key and how to read it. Every source
// delivers a string (a YAML sequence is joined with commas), so one parser
// per key serves flags, environment and file alike.
type setting struct {
	key   string // dotted YAML key; its variable is envName(key)
	flag  string // serve flag, "" if none; its variable is flagEnvName(flag)
	usage string // flag help text
	arg   string // flag help placeholder for the value; "" for a boolean flag
	def   string // flag help default, "" to omit
	list  bool   // YAML may give a sequence
	set   func(c *Config, v string) error
}

// settings lists every key, in the order help and errors show them.
func settings() []setting {
	return []setting{
		{key: "data_dir", flag: "data-dir", arg: "DIR", def: "./berth-data",
			usage: "directory for the database, blobs and generated keys",
			set:   field(func(c *Config) *string { return &c.DataDir }, parseString)},
		{key: "server.addr", flag: "addr", arg: "HOST:PORT", def: ":5000",
			usage: "address to listen on",
			set:   field(func(c *Config) *string { return &c.Server.Addr }, parseString)},
		{key: "server.external_url",
			set: field(func(c *Config) *string { return &c.Server.ExternalURL }, parseString)},
		{key: "server.pprof", flag: "pprof",
			usage: "serve /debug/pprof/",
			set:   field(func(c *Config) *bool { return &c.Server.Pprof }, parseBool)},
		{key: "database.url", flag: "database", arg: "URL", def: "<data-dir>/berth.db",
			usage: "SQLite file path, or postgres://user:pass@host/db",
			set:   field(func(c *Config) *string { return &c.Database.URL }, parseString)},
		{key: "storage.url", flag: "storage", arg: "URL", def: "file://<data-dir>/blobs",
			usage: "blob storage: file://DIR or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT",
			set:   field(func(c *Config) *string { return &c.Storage.URL }, parseString)},
		{key: "storage.s3_access_key",
			set: field(func(c *Config) *string { return &c.Storage.S3AccessKey }, parseString)},
		{key: "storage.s3_secret_key",
			set: field(func(c *Config) *string { return &c.Storage.S3SecretKey }, parseString)},
		{key: "storage.s3_redirect",
			set: field(func(c *Config) *bool { return &c.Storage.S3Redirect }, parseBool)},
		{key: "tls.mode", flag: "tls", arg: "on|off|auto", def: TLSAuto,
			usage: "HTTPS with tls.cert or a generated certificate; off serves plain HTTP",
			set:   field(func(c *Config) *string { return &c.TLS.Mode }, parseLower)},
		{key: "tls.cert",
			set: field(func(c *Config) *string { return &c.TLS.Cert }, parseString)},
		{key: "tls.key",
			set: field(func(c *Config) *string { return &c.TLS.Key }, parseString)},
		{key: "tls.hosts", list: true,
			set: field(func(c *Config) *[]string { return &c.TLS.Hosts }, parseList)},
		{key: "log.level", flag: "log-level", arg: "LEVEL", def: "info",
			usage: "debug, info, warn or error",
			set:   field(func(c *Config) *string { return &c.Log.Level }, parseLower)},
		{key: "log.format", flag: "log-format", arg: "FORMAT", def: "text",
			usage: "text or json",
			set:   field(func(c *Config) *string { return &c.Log.Format }, parseLower)},
		{key: "uploads.expiry",
			set: field(func(c *Config) *time.Duration { return &c.Uploads.Expiry }, time.ParseDuration)},
		{key: "uploads.max_chunk",
			set: field(func(c *Config) *int64 { return &c.Uploads.MaxChunk }, parseInt)},
		{key: "manifests.max_size",
			set: field(func(c *Config) *int64 { return &c.Manifests.MaxSize }, parseInt)},
		{key: "auth.robot_prefix",
			set: field(func(c *Config) *string { return &c.Auth.RobotPrefix }, parseString)},
		{key: "auth.token_expiry",
			set: field(func(c *Config) *time.Duration { return &c.Auth.TokenExpiry }, time.ParseDuration)},
		{key: "auth.project_creation",
			set: field(func(c *Config) *string { return &c.Auth.ProjectCreation }, parseLower)},
		{key: "auth.secret_key",
			set: field(func(c *Config) *string { return &c.Auth.SecretKey }, parseString)},
		{key: "audit.retention",
			set: field(func(c *Config) *time.Duration { return &c.Audit.Retention }, time.ParseDuration)},
		{key: "metrics.addr", flag: "metrics-addr", arg: "HOST:PORT",
			usage: "serve Prometheus /metrics on this address (off when empty)",
			set:   field(func(c *Config) *string { return &c.Metrics.Addr }, parseString)},
		{key: "metrics.token",
			set: field(func(c *Config) *string { return &c.Metrics.Token }, parseString)},
		{key: "shutdown.timeout",
			set: field(func(c *Config) *time.Duration { return &c.Shutdown.Timeout }, time.ParseDuration)},
		{key: "scanner.workers",
			set: field(func(c *Config) *int { return &c.Scanner.Workers }, parseCount)},
		{key: "scanner.db_urls", list: true,
			set: field(func(c *Config) *[]string { return &c.Scanner.DBURLs }, parseList)},
		{key: "scanner.refresh_interval",
			set: field(func(c *Config) *time.Duration { return &c.Scanner.RefreshInterval }, time.ParseDuration)},
	}
}

// field makes a setter that parses a value and stores it where get points.
func field[T any](get func(*Config) *T, parse func(string) (T, error)) func(*Config, string) error {
	return func(c *Config, s string) error {
		v, err := parse(s)
		if err != nil {
			return err
		}
		*get(c) = v
		return nil
	}
}

// envName is the variable that overrides a YAML key:
// "uploads.max_chunk" -> "BERTH_UPLOADS_MAX_CHUNK".
func envName(key string) string {
	return "BERTH_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// flagEnvName is the variable that stands in for a flag:
// "log-level" -> "BERTH_LOG_LEVEL".
func flagEnvName(flag string) string {
	return "BERTH_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func parseString(s string) (string, error) { return s, nil }

// parseLower accepts enumerations in any case: BERTH_LOG_LEVEL=DEBUG.
func parseLower(s string) (string, error) { return strings.ToLower(s), nil }

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("must be true or false, got %q", s)
	}
	return b, nil
}

func parseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("must be a whole number of bytes, got %q", s)
	}
	return n, nil
}

// parseCount reads a small whole number.
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("must be a whole number, got %q", s)
	}
	return n, nil
}

// parseList splits a comma-separated list, dropping blanks.
func parseList(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out, nil
}
