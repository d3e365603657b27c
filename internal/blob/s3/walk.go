package s3

import (
	"context"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/oci"
)

var _ blob.Walker = (*Store)(nil)

// Walk implements blob.Walker by listing <prefix>/blobs/. Keys that do not
// spell a valid digest in its right fan-out directory are skipped: they are
// not blobs this store wrote, and the caller must never be handed a digest
// that does not name the object it saw.
func (s *Store) Walk(ctx context.Context, fn func(d oci.Digest, size int64, modified time.Time) error) error {
	root := s.prefix + "blobs/"
	ctx, cancel := context.WithCancel(ctx) // stops the lister if fn fails
	defer cancel()
	for o := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: root, Recursive: true}) {
		if o.Err != nil {
			return unavailable(o.Err, "walk blobs")
		}
		d, ok := digestOfKey(strings.TrimPrefix(o.Key, root))
		if !ok {
			continue
		}
		if err := fn(d, o.Size, o.LastModified); err != nil {
			return err
		}
	}
	return nil
}

// digestOfKey parses "<alg>/<2 hex>/<hex>".
func digestOfKey(rel string) (oci.Digest, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) != 3 || len(parts[2]) < 2 || parts[1] != parts[2][:2] {
		return "", false
	}
	d, err := oci.ParseDigest(parts[0] + ":" + parts[2])
	if err != nil || d.Algorithm() != parts[0] || d.Hex() != parts[2] {
		return "", false
	}
	return d, true
}
