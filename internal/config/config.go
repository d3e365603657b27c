// Package config owns berth's settings: their defaults, the sources they
// come from (serve flags, BERTH_* environment variables, one YAML file) and
// the rules a value must pass before the server starts. It reads and
// checks; it never opens databases, storage or sockets.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLS modes accepted by TLS.Mode. With on or auto berth serves HTTPS with
// the certificate in TLS.Cert or, when none is set, with one it makes at
// first start, signed by a CA of its own; the two modes differ only in
// intent today (auto may learn other ways to get a certificate).
const (
	TLSOn   = "on"   // serve HTTPS only
	TLSOff  = "off"  // serve plain HTTP, e.g. behind a TLS-terminating proxy
	TLSAuto = "auto" // the default: HTTPS, with a generated certificate unless one is configured
)

// Config is everything `berth serve` needs. The YAML key of each field is
// given in its comment; every key can also be set by the environment
// variable BERTH_<SECTION>_<KEY>, e.g. BERTH_UPLOADS_EXPIRY.
//
// After Load, DataDir is absolute, Database.URL and Storage.URL are filled
// from DataDir when unset, and every relative file path (a SQLite database,
// a file:// storage root, TLS cert and key) is resolved against DataDir.
type Config struct {
	DataDir   string    // data_dir
	Server    Server    // server
	Database  Database  // database
	Storage   Storage   // storage
	TLS       TLS       // tls
	Log       Log       // log
	Uploads   Uploads   // uploads
	Manifests Manifests // manifests
	Shutdown  Shutdown  // shutdown
	Auth      Auth      // auth
	Audit     Audit     // audit
	Metrics   Metrics   // metrics
	Scanner   Scanner   // scanner
}

// Server is the HTTP listener.
type Server struct {
	Addr        string // server.addr, host:port to listen on
	ExternalURL string // server.external_url, how clients reach this registry; "" to derive it from requests
	Pprof       bool   // server.pprof, serve /debug/pprof/
}

// Database names the metadata store.
type Database struct {
	// URL is database.url: "postgres://…" or "postgresql://…" for
	// PostgreSQL, otherwise a SQLite file given as a path, "sqlite://path"
	// or "file:path", each optionally followed by "?driver-parameters".
	// Load rewrites SQLite forms to an absolute path (plus "?parameters").
	URL string
}

// Postgres reports whether URL names a PostgreSQL database; otherwise it
// names a SQLite file.
func (d Database) Postgres() bool {
	scheme, _, ok := strings.Cut(d.URL, "://")
	return ok && isPostgresScheme(scheme)
}

// Storage names the blob store.
type Storage struct {
	// URL is storage.url: "file://" followed by a directory path, or an
	// S3 bucket as "s3://bucket[/prefix]?endpoint=host:port&region=…&
	// secure=false&path_style=true" (see S3). A file path is taken as is,
	// not percent-decoded, so "file:///srv/blobs" is absolute and
	// "file://blobs" is relative.
	URL string
	// S3AccessKey and S3SecretKey are storage.s3_access_key and
	// storage.s3_secret_key, the credentials of s3:// storage; when unset,
	// Load takes AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. String
	// never shows them.
	S3AccessKey string
	S3SecretKey string
	// S3Redirect is storage.s3_redirect: answer blob GETs with a 307 to
	// a presigned URL of the object store, which clients must be able to
	// reach. Off by default; s3:// storage only.
	S3Redirect bool
}

// FilePath returns the directory of a file:// storage URL, and false for
// any other scheme.
func (s Storage) FilePath() (string, bool) {
	if p, ok := strings.CutPrefix(s.URL, "file://"); ok {
		return p, true
	}
	return "", false
}

// TLS is how the listener secures connections.
type TLS struct {
	Mode  string   // tls.mode: TLSOn, TLSOff or TLSAuto
	Cert  string   // tls.cert, PEM certificate chain file
	Key   string   // tls.key, PEM private key file
	Hosts []string // tls.hosts, names and IPs for a generated certificate (besides the machine's own); comma-separated in the environment
}

// Log is the process logger.
type Log struct {
	Level  string // log.level: debug, info, warn or error
	Format string // log.format: text or json
}

// Uploads bounds blob upload sessions.
type Uploads struct {
	Expiry   time.Duration // uploads.expiry, how long an idle upload session lives; a Go duration such as "24h"
	MaxChunk int64         // uploads.max_chunk, largest PATCH body in bytes; 0 means no limit
}

// Manifests bounds manifest pushes.
type Manifests struct {
	MaxSize int64 // manifests.max_size, largest manifest in bytes
}

// Auth holds identity and access settings.
type Auth struct {
	RobotPrefix     string        // auth.robot_prefix, prepended to robot names ("robot$")
	TokenExpiry     time.Duration // auth.token_expiry, lifetime of registry tokens
	ProjectCreation string        // auth.project_creation: everyone or adminonly
	// SecretKey (auth.secret_key) is 64 hex digits, the AES-256 key that
	// seals stored secrets (CLI secrets, OIDC tokens and client secret);
	// "" keeps a generated key in the database.
	SecretKey string
}

// Audit holds audit log settings.
type Audit struct {
	Retention time.Duration // audit.retention, how long audit entries are kept; 0 keeps them forever
}

// Metrics is the Prometheus endpoint, served on a listener of its own so
// that it need not be exposed where the registry is.
type Metrics struct {
	Addr  string // metrics.addr, host:port serving /metrics; "" (the default) serves none
	Token string // metrics.token, when set scrapes must send "Authorization: Bearer <token>"; String never shows it
}

// Scanner holds the built-in vulnerability scanner's settings.
type Scanner struct {
	Workers int // scanner.workers, scans run at once on this node
	// DBURLs is scanner.db_urls: OSV archives (osv.dev's per-ecosystem
	// all.zip, a tar.gz of them, …) the vulnerability database is rebuilt
	// from on a schedule, as http://, https:// or file:// URLs. Empty:
	// the database changes only by `berth scanner import`.
	DBURLs          []string
	RefreshInterval time.Duration // scanner.refresh_interval, how often db_urls are fetched
}

// Shutdown bounds the drain after a stop signal.
type Shutdown struct {
	Timeout time.Duration // shutdown.timeout, a Go duration such as "30s"
}

// defaults is the configuration before any source is read. Database.URL
// and Storage.URL stay empty: their defaults depend on the final DataDir.
func defaults() Config {
	return Config{
		DataDir:   "./berth-data",
		Server:    Server{Addr: ":5000"},
		TLS:       TLS{Mode: TLSAuto},
		Log:       Log{Level: "info", Format: "text"},
		Uploads:   Uploads{Expiry: 24 * time.Hour},
		Manifests: Manifests{MaxSize: 4 << 20},
		Shutdown:  Shutdown{Timeout: 30 * time.Second},
		Auth:      Auth{RobotPrefix: "robot$", TokenExpiry: 30 * time.Minute, ProjectCreation: "everyone"},
		Scanner:   Scanner{Workers: 2, RefreshInterval: 24 * time.Hour},
	}
}

// A FieldError is a bad value for one configuration key.
type FieldError struct {
	Key    string // dotted YAML key, e.g. "tls.mode"
	Source string // what set the value: a flag ("--tls") or variable ("BERTH_TLS"); "" for the file or the default
	Err    error
}

func (e *FieldError) Error() string {
	name := e.Source
	if name == "" {
		name = e.Key
	}
	return "config: " + name + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Validate reports every value that berth cannot start with, one
// *FieldError per key, joined.
func (c Config) Validate() error {
	var errs []error
	for _, fe := range c.problems() {
		errs = append(errs, fe)
	}
	return errors.Join(errs...)
}

func (c Config) problems() []*FieldError {
	var ps []*FieldError
	check := func(key string, err error) {
		if err != nil {
			ps = append(ps, &FieldError{Key: key, Err: err})
		}
	}
	bad := func(key, format string, a ...any) { check(key, fmt.Errorf(format, a...)) }

	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	check("server.addr", checkAddr(c.Server.Addr))
	check("server.external_url", checkExternalURL(c.Server.ExternalURL))
	check("database.url", checkDatabase(c.Database.URL))
	check("storage.url", checkStorage(c.Storage.URL))
	if strings.HasPrefix(c.Storage.URL, "s3://") {
		if c.Storage.S3AccessKey == "" {
			bad("storage.s3_access_key", "must be set for s3:// storage (or AWS_ACCESS_KEY_ID)")
		}
		if c.Storage.S3SecretKey == "" {
			bad("storage.s3_secret_key", "must be set for s3:// storage (or AWS_SECRET_ACCESS_KEY)")
		}
	}

	if c.Storage.S3Redirect && !strings.HasPrefix(c.Storage.URL, "s3://") {
		bad("storage.s3_redirect", "needs s3:// storage")
	}

	switch c.TLS.Mode {
	case TLSOn, TLSOff, TLSAuto:
	default:
		bad("tls.mode", "must be on, off or auto, got %q", c.TLS.Mode)
	}
	switch {
	case c.TLS.Cert != "" && c.TLS.Key == "":
		bad("tls.key", "must be set when tls.cert is")
	case c.TLS.Key != "" && c.TLS.Cert == "":
		bad("tls.cert", "must be set when tls.key is")
	}
	for _, h := range c.TLS.Hosts {
		if !validHost(h) {
			bad("tls.hosts", "%q is not a host name or IP address", h)
			break
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}

	if c.Uploads.Expiry <= 0 {
		bad("uploads.expiry", "must be positive, got %s", c.Uploads.Expiry)
	}
	if c.Uploads.MaxChunk < 0 {
		bad("uploads.max_chunk", "must not be negative (0 means no limit), got %d", c.Uploads.MaxChunk)
	}
	if c.Manifests.MaxSize <= 0 {
		bad("manifests.max_size", "must be positive, got %d", c.Manifests.MaxSize)
	}
	if c.Shutdown.Timeout <= 0 {
		bad("shutdown.timeout", "must be positive, got %s", c.Shutdown.Timeout)
	}
	if p := c.Auth.RobotPrefix; p == "" || len(p) > 32 || strings.ContainsAny(p, " \t\r\n:/@") {
		bad("auth.robot_prefix", "must be 1 to 32 characters without spaces, ':', '/' or '@', got %q", p)
	}
	if c.Auth.TokenExpiry < time.Minute || c.Auth.TokenExpiry > 24*time.Hour {
		bad("auth.token_expiry", "must be between 1m and 24h, got %s", c.Auth.TokenExpiry)
	}
	if c.Auth.ProjectCreation != "everyone" && c.Auth.ProjectCreation != "adminonly" {
		bad("auth.project_creation", "must be everyone or adminonly, got %q", c.Auth.ProjectCreation)
	}
	if c.Metrics.Addr != "" {
		check("metrics.addr", checkAddr(c.Metrics.Addr))
		if c.Metrics.Addr == c.Server.Addr {
			bad("metrics.addr", "must differ from server.addr (%s)", c.Server.Addr)
		}
	}
	if c.Metrics.Token != "" && c.Metrics.Addr == "" {
		bad("metrics.token", "is set but metrics.addr is not, so no metrics are served")
	}
	if k := c.Auth.SecretKey; k != "" {
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			bad("auth.secret_key", "must be 64 hex digits (32 bytes, e.g. from `openssl rand -hex 32`), got %d characters", len(k))
		}
	}
	if c.Audit.Retention < 0 {
		bad("audit.retention", "must not be negative (0 keeps entries forever), got %s", c.Audit.Retention)
	}
	if c.Scanner.Workers < 1 || c.Scanner.Workers > 64 {
		bad("scanner.workers", "must be between 1 and 64, got %d", c.Scanner.Workers)
	}
	for _, u := range c.Scanner.DBURLs {
		if err := checkDBURL(u); err != nil {
			check("scanner.db_urls", err)
			break
		}
	}
	if c.Scanner.RefreshInterval < time.Minute {
		bad("scanner.refresh_interval", "must be at least 1m, got %s", c.Scanner.RefreshInterval)
	}
	return ps
}

// checkDBURL accepts http(s) URLs with a host and absolute file:// URLs.
func checkDBURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, unwrapURLError(err))
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", s)
		}
	case "file":
		if !strings.HasPrefix(u.Path, "/") {
			return fmt.Errorf("%q: a file:// URL needs an absolute path", s)
		}
	default:
		return fmt.Errorf("%q: want an http://, https:// or file:// URL", s)
	}
	return nil
}

// validHost accepts what a certificate can name: an IP address, or a DNS
// name whose labels are letters, digits, '-' and '_' (not at either end
// of a label, for '-'), optionally with a wildcard "*." in front.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "."), "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	return nil
}

func checkExternalURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be an http or https URL: %w", unwrapURLError(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an http or https URL, got %q", s)
	case u.Host == "":
		return fmt.Errorf("must name a host, got %q", s)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		// The Distribution API lives at /v2/ on the root of the host.
		return fmt.Errorf("must be a bare origin such as https://registry.example.com, got %q", s)
	}
	return nil
}

// isPostgresScheme matches schemes exactly, as meta.Open does.
func isPostgresScheme(s string) bool {
	return s == "postgres" || s == "postgresql"
}

// checkDatabase never repeats a PostgreSQL URL back: it may hold a password.
func checkDatabase(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok && isPostgresScheme(scheme) {
		if _, err := url.Parse(s); err != nil {
			return fmt.Errorf("invalid %s URL: %w", scheme, unwrapURLError(err))
		}
		return nil
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok && scheme != "sqlite" && scheme != "file" {
		return fmt.Errorf("unsupported database scheme %q (want postgres://, postgresql://, sqlite://, file: or a file path)", scheme)
	}
	if path, _ := sqliteParts(s); path == "" {
		return errors.New("SQLite database needs a file path")
	}
	return nil
}

// sqliteParts splits a SQLite database URL into its file path and the
// driver parameters after "?", which may be empty.
func sqliteParts(s string) (path, query string) {
	if rest, ok := strings.CutPrefix(s, "sqlite://"); ok {
		s = rest
	} else if rest, ok := strings.CutPrefix(s, "file://"); ok {
		s = rest
	} else {
		s = strings.TrimPrefix(s, "file:")
	}
	path, query, _ = strings.Cut(s, "?")
	return path, query
}

// checkStorage never repeats an s3:// URL back, in case it holds keys.
func checkStorage(s string) error {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return fmt.Errorf("must be a URL such as file:///var/lib/berth/blobs, got %q", s)
	}
	switch scheme {
	case "file":
		if p, _ := (Storage{URL: s}).FilePath(); p == "" {
			return errors.New("file:// URL needs a directory path")
		}
		return nil
	case "s3":
		_, err := parseS3(s)
		return err
	}
	return fmt.Errorf("unsupported storage scheme %q (want file:// or s3://)", trunc(scheme))
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// whole URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// String shows the address but never the token.
func (m Metrics) String() string {
	tok := `""`
	if m.Token != "" {
		tok = "[redacted]"
	}
	return fmt.Sprintf("{Addr:%s Token:%s}", m.Addr, tok)
}
