// Package s3test gives tests an empty bucket on a real S3 server. It uses
// the server named by BERTH_TEST_S3 when set, and otherwise starts one
// private versitygw (github.com/versity/versitygw, pinned by the tool
// directive in go.mod and built from the module cache) per test binary,
// serving a temporary directory through its posix backend. It never
// skips: a test that asks for S3 fails when there is none.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// EnvURL names the variable holding an existing server on which tests may
// create and delete buckets, as http://ACCESS_KEY:SECRET_KEY@host:port.
const EnvURL = "BERTH_TEST_S3"

// server is the S3 server the test binary uses.
type server struct {
	endpoint  string // host:port
	secure    bool
	accessKey string
	secretKey string
	client    *minio.Client
	gw        *gateway // nil when the server is external
}

// The server is shared by every test of the binary, started on first use
// and stopped by Main. This is test-harness state, not application state.
var (
	mu     sync.Mutex
	shared *server
)

// Endpoint returns the host:port and credentials of the S3 server (plain
// HTTP, path-style) and the name of a new, empty bucket that is deleted
// with its objects when the test ends. The test fails at once if no
// server is available.
func Endpoint(t testing.TB) (endpoint, accessKey, secretKey, bucket string) {
	t.Helper()
	s, err := get()
	if err != nil {
		t.Fatalf("s3test: an S3 server is required and unavailable: %v\n"+
			"(set %s to http://ACCESS:SECRET@host:port of a server, or check that `go tool -n versitygw` builds)", err, EnvURL)
	}
	var b [6]byte
	rand.Read(b[:])
	bucket = "berth-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		if err := s.removeBucket(bucket); err != nil {
			t.Errorf("s3test: remove bucket %s: %v", bucket, err)
		}
	})
	return s.endpoint, s.accessKey, s.secretKey, bucket
}

// removeBucket deletes the bucket, its objects and its unfinished
// multipart uploads.
func (s *server) removeBucket(bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for u := range s.client.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			return u.Err
		}
		if err := s.client.RemoveIncompleteUpload(ctx, bucket, u.Key); err != nil {
			return err
		}
	}
	objs := s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	for e := range s.client.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return fmt.Errorf("remove %s: %w", e.ObjectName, e.Err)
		}
	}
	return s.client.RemoveBucket(ctx, bucket)
}

// get returns the shared server, starting it on first use. A failure is
// not remembered, so each test reports it in its own words.
func get() (*server, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared, nil
	}
	s := &server{}
	if raw := os.Getenv(EnvURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User == nil {
			return nil, fmt.Errorf("%s must be http://ACCESS_KEY:SECRET_KEY@host:port", EnvURL)
		}
		s.endpoint, s.secure = u.Host, u.Scheme == "https"
		s.accessKey = u.User.Username()
		s.secretKey, _ = u.User.Password()
	} else {
		gw, err := startGateway()
		if err != nil {
			return nil, err
		}
		s.gw = gw
		s.endpoint, s.accessKey, s.secretKey = gw.endpoint, gw.accessKey, gw.secretKey
	}
	client, err := minio.New(s.endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.accessKey, s.secretKey, ""),
		Secure:       s.secure,
		BucketLookup: minio.BucketLookupPath,
		Region:       "us-east-1",
	})
	if err != nil {
		s.stop()
		return nil, err
	}
	s.client = client
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.ListBuckets(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("list buckets at %s: %w", s.endpoint, err)
	}
	shared = s
	return s, nil
}

func (s *server) stop() error {
	if s.gw != nil {
		return s.gw.stop()
	}
	return nil
}

// Main runs the tests and then stops the private server, if one was
// started, and removes its files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { s3test.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// Stop stops the shared server and removes its files, for a TestMain
// that uses several such helpers and so cannot hand m to one Main.
func Stop() error {
	mu.Lock()
	s := shared
	shared = nil
	mu.Unlock()
	if s == nil {
		return nil
	}
	if err := s.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "s3test: stop the S3 server: %v\n", err)
		return err
	}
	return nil
}
