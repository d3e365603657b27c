package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// S3 is an s3:// storage URL taken apart, with the credentials that go
// with it:
//
//	s3://bucket[/prefix]?endpoint=host:port&region=…&secure=false&path_style=true
type S3 struct {
	Bucket    string
	Prefix    string // key prefix without leading or trailing '/'; "" for the bucket's root
	Endpoint  string // host[:port] of the S3 API; s3.amazonaws.com unless the URL names one
	Region    string // "" to ask the server
	Secure    bool   // HTTPS to the endpoint; secure=false for plain HTTP
	PathStyle bool   // address the bucket in the path rather than the host name
	AccessKey string // storage.s3_access_key
	SecretKey string // storage.s3_secret_key
}

// defaultS3Endpoint is where an s3:// URL without endpoint= points.
const defaultS3Endpoint = "s3.amazonaws.com"

// S3 returns the S3 location and credentials of an s3:// storage URL, and
// false for any other scheme or for a URL that Validate refuses.
func (s Storage) S3() (S3, bool) {
	if !strings.HasPrefix(s.URL, "s3://") {
		return S3{}, false
	}
	loc, err := parseS3(s.URL)
	if err != nil {
		return S3{}, false
	}
	loc.AccessKey, loc.SecretKey = s.S3AccessKey, s.S3SecretKey
	return loc, true
}

// String shows the storage URL but never the keys, so that printing a
// Config (%v, %+v) cannot leak them into a log.
func (s Storage) String() string {
	hidden := func(v string) string {
		if v == "" {
			return `""`
		}
		return "[redacted]"
	}
	return fmt.Sprintf("{URL:%s S3AccessKey:%s S3SecretKey:%s S3Redirect:%t}", s.URL, hidden(s.S3AccessKey), hidden(s.S3SecretKey), s.S3Redirect)
}

// parseS3 takes an s3:// URL apart. Its errors never repeat the URL.
func parseS3(raw string) (S3, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3{}, fmt.Errorf("invalid s3 URL: %w", unwrapURLError(err))
	}
	if u.User != nil {
		return S3{}, errors.New("s3 URL must not hold credentials: set storage.s3_access_key and storage.s3_secret_key " +
			"(BERTH_STORAGE_S3_ACCESS_KEY and BERTH_STORAGE_S3_SECRET_KEY) instead")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return S3{}, errors.New("s3 URL must be s3://bucket/prefix?parameters")
	}
	loc := S3{Bucket: u.Host, Endpoint: defaultS3Endpoint, Secure: true}
	if loc.Bucket == "" {
		return S3{}, errors.New("s3:// URL needs a bucket, as in s3://bucket/prefix?endpoint=host:port")
	}
	if !validBucket(loc.Bucket) {
		return S3{}, fmt.Errorf("s3 bucket %q must be 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit", trunc(loc.Bucket))
	}
	loc.Prefix = strings.Trim(u.Path, "/")
	if !validS3Prefix(loc.Prefix) {
		return S3{}, fmt.Errorf("s3 prefix %q must be '/'-separated names of letters, digits, '.', '_' and '-', none of them '.' or '..'", trunc(loc.Prefix))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return S3{}, fmt.Errorf("invalid s3 URL parameters: %w", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return S3{}, fmt.Errorf("s3 URL parameter %s is given %d times", trunc(k), len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			if err := checkS3Endpoint(v); err != nil {
				return S3{}, err
			}
			loc.Endpoint = v
		case "region":
			if v == "" || strings.TrimFunc(v, func(r rune) bool {
				return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_'
			}) != "" {
				return S3{}, fmt.Errorf("s3 region %q must be letters, digits, '-' and '_'", trunc(v))
			}
			loc.Region = v
		case "secure", "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return S3{}, fmt.Errorf("s3 URL parameter %s must be true or false, got %q", k, trunc(v))
			}
			if k == "secure" {
				loc.Secure = b
			} else {
				loc.PathStyle = b
			}
		default:
			return S3{}, fmt.Errorf("unknown s3 URL parameter %q (want endpoint, region, secure or path_style)", trunc(k))
		}
	}
	return loc, nil
}

// checkS3Endpoint accepts host or host:port, without a scheme.
func checkS3Endpoint(v string) error {
	if strings.Contains(v, "://") {
		return fmt.Errorf("s3 endpoint %q must be host:port without a scheme (secure=false selects plain HTTP)", trunc(v))
	}
	host := v
	if h, port, err := net.SplitHostPort(v); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("s3 endpoint %q: port must be a number from 0 to 65535", trunc(v))
		}
		host = h
	}
	if !validHost(host) || strings.HasPrefix(host, "*") {
		return fmt.Errorf("s3 endpoint %q must be host or host:port", trunc(v))
	}
	return nil
}

// validBucket follows S3's rules for bucket names (the strict ones, that
// work with both path-style and virtual-host addressing).
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") || net.ParseIP(b) != nil {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if (i == 0 || i == len(b)-1) && !alnum {
			return false
		}
		if !alnum && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func validS3Prefix(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 512 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
				return false
			}
		}
	}
	return true
}

// trunc keeps hostile input short in error messages.
func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
