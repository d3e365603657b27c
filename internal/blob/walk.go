package blob

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// Walker is an optional capability: a store that can list its committed
// blobs. Garbage collection uses it to find bytes that no metadata row
// names (left by a crash between committing the bytes and their row).
//
// Walk calls fn for each committed blob with its size and the time it was
// last modified, in no particular order, and stops at the first error fn
// returns. Blobs committed or deleted while it runs may or may not be
// seen. Entries that are not blobs of the store's layout are skipped.
type Walker interface {
	Walk(ctx context.Context, fn func(d oci.Digest, size int64, modified time.Time) error) error
}
