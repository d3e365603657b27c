package s3test_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/berth-registry/berth/internal/testutil/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// Each test gets its own empty bucket, and the server keeps what is put.
func TestEndpoint(t *testing.T) {
	endpoint, ak, sk, bucket := s3test.Endpoint(t)
	_, _, _, other := s3test.Endpoint(t)
	if bucket == other {
		t.Fatalf("two calls gave the same bucket %s", bucket)
	}
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, b := range []string{bucket, other} {
		for o := range c.ListObjects(ctx, b, minio.ListObjectsOptions{Recursive: true}) {
			t.Fatalf("new bucket %s holds %s (%v)", b, o.Key, o.Err)
		}
	}
	data := []byte("kept by a real server")
	if _, err := c.PutObject(ctx, bucket, "a/b", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, bucket, "a/b", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %q, %v; want %q", got, err, data)
	}
	// Wrong credentials are refused: this is a server, not a stand-in.
	bad, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk+"x", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.StatObject(ctx, bucket, "a/b", minio.StatObjectOptions{}); err == nil {
		t.Fatal("a wrong secret key was accepted")
	}
}
