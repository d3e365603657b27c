package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	blobfs "github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable time source, real time plus an offset.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// env is a registry and a collector over real stores.
type env struct {
	t     testing.TB
	ctx   context.Context
	dsn   string
	db    *meta.DB
	store *blobfs.Store
	root  string
	reg   *registry.Service
	gc    *gc.Collector
	clock *clock
	log   *slog.Logger
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// backends runs f on SQLite and on PostgreSQL, in parallel.
func backends(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, filepath.Join(t.TempDir(), "berth.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, pgtest.DSN(t)))
	})
}

func newEnv(t testing.TB, dsn string, opts ...gc.Option) *env {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	root := t.TempDir()
	store, err := blobfs.New(root)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &env{t: t, ctx: ctx, dsn: dsn, db: db, store: store, root: root, clock: &clock{}, log: testLogger()}
	e.reg = registry.New(db, store, registry.WithLogger(e.log))
	e.gc = e.collector(opts...)
	return e
}

// collector returns another collector (another node) over the same stores.
func (e *env) collector(opts ...gc.Option) *gc.Collector {
	c := gc.New(e.db, e.store, append([]gc.Option{gc.WithLogger(e.log), gc.WithClock(e.clock.now),
		gc.WithUploadSweeper(e.reg), gc.WithPollInterval(20 * time.Millisecond)}, opts...)...)
	e.t.Cleanup(c.Close)
	return c
}

// run runs a collection and fails the test unless it succeeds.
func (e *env) run(p gc.Params) meta.GCRun {
	e.t.Helper()
	r, err := e.gc.Run(e.ctx, gc.KindManual, p)
	if err != nil {
		e.t.Fatalf("gc run: %v", err)
	}
	if r.Status != meta.GCSuccess {
		e.t.Fatalf("gc run ended %s:\n%s", r.Status, r.Log)
	}
	return r
}

// data returns n bytes that differ for every seed.
func data(seed string, n int) []byte {
	b := make([]byte, 0, n)
	h := sha256.Sum256([]byte(seed))
	for len(b) < n {
		b = append(b, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return b[:n]
}

func desc(mediaType string, b []byte) oci.Descriptor {
	return oci.Descriptor{MediaType: mediaType, Digest: oci.FromBytes(b), Size: int64(len(b))}
}

// pushBlob uploads b to repo.
func (e *env) pushBlob(repo string, b []byte) oci.Digest {
	e.t.Helper()
	d, err := e.reg.PutBlob(e.ctx, repo, string(oci.FromBytes(b)), bytes.NewReader(b))
	if err != nil {
		e.t.Fatalf("push blob to %s: %v", repo, err)
	}
	return d
}

type manifestDoc struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	ArtifactType  string           `json:"artifactType,omitempty"`
	Config        *oci.Descriptor  `json:"config,omitempty"`
	Layers        []oci.Descriptor `json:"layers,omitempty"`
	Manifests     []oci.Descriptor `json:"manifests,omitempty"`
	Subject       *oci.Descriptor  `json:"subject,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// imageManifest returns the manifest of an image with these layers and a
// config made from name, and the blobs it needs (config first).
func imageManifest(name string, layers [][]byte, subject *oci.Descriptor) ([]byte, [][]byte) {
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","name":%q}`, name))
	doc := manifestDoc{SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest,
		Config: ptr(desc(oci.MediaTypeImageConfig, cfg)), Subject: subject}
	for _, l := range layers {
		doc.Layers = append(doc.Layers, desc("application/vnd.oci.image.layer.v1.tar+gzip", l))
	}
	return mustJSON(doc), append([][]byte{cfg}, layers...)
}

func ptr[T any](v T) *T { return &v }

// pushImage pushes an image (config from name, then layers) to repo
// under ref (a tag, or "" to push by digest only) and returns the
// manifest's digest.
func (e *env) pushImage(repo, ref, name string, layers ...[]byte) oci.Digest {
	e.t.Helper()
	body, blobs := imageManifest(name, layers, nil)
	for _, b := range blobs {
		e.pushBlob(repo, b)
	}
	return e.putManifest(repo, ref, oci.MediaTypeImageManifest, body)
}

func (e *env) putManifest(repo, ref, mediaType string, body []byte) oci.Digest {
	e.t.Helper()
	if ref == "" {
		ref = string(oci.FromBytes(body))
	}
	res, err := e.reg.PutManifest(e.ctx, repo, ref, mediaType, body)
	if err != nil {
		e.t.Fatalf("push manifest %s:%s: %v", repo, ref, err)
	}
	return res.Digest
}

// pushReferrer pushes an artifact about subject (a signature, say) by
// digest and returns its digest.
func (e *env) pushReferrer(repo string, subject oci.Digest, name string) oci.Digest {
	e.t.Helper()
	sub, err := e.reg.GetManifest(e.ctx, repo, string(subject))
	if err != nil {
		e.t.Fatalf("get subject: %v", err)
	}
	payload := data("referrer "+name, 300)
	body, blobs := imageManifest("sig "+name, [][]byte{payload},
		&oci.Descriptor{MediaType: sub.MediaType, Digest: subject, Size: sub.Size})
	for _, b := range blobs {
		e.pushBlob(repo, b)
	}
	return e.putManifest(repo, "", oci.MediaTypeImageManifest, body)
}

// pushIndex pushes an index of children to repo under ref.
func (e *env) pushIndex(repo, ref string, children ...oci.Digest) oci.Digest {
	e.t.Helper()
	doc := manifestDoc{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex}
	for _, c := range children {
		m, err := e.reg.GetManifest(e.ctx, repo, string(c))
		if err != nil {
			e.t.Fatalf("get child: %v", err)
		}
		doc.Manifests = append(doc.Manifests, oci.Descriptor{MediaType: m.MediaType, Digest: c, Size: m.Size})
	}
	return e.putManifest(repo, ref, oci.MediaTypeImageIndex, mustJSON(doc))
}

func (e *env) deleteManifest(repo string, d oci.Digest) {
	e.t.Helper()
	if err := e.reg.DeleteManifest(e.ctx, repo, string(d)); err != nil {
		e.t.Fatalf("delete %s@%s: %v", repo, d, err)
	}
}

// pull fetches ref from repo with everything it references, index
// children included, and checks every blob hashes to its digest.
func (e *env) pull(repo, ref string) error {
	m, err := e.reg.GetManifest(e.ctx, repo, ref)
	if err != nil {
		return fmt.Errorf("get manifest %s:%s: %w", repo, ref, err)
	}
	pm, err := oci.ParseManifest(m.MediaType, m.Content)
	if err != nil {
		return err
	}
	for _, c := range pm.Manifests {
		if err := e.pull(repo, string(c.Digest)); err != nil {
			return err
		}
	}
	for _, b := range pm.Blobs() {
		_, rc, err := e.reg.OpenBlob(e.ctx, repo, string(b.Digest), 0, -1)
		if err != nil {
			return fmt.Errorf("open blob %s of %s:%s: %w", b.Digest, repo, ref, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("read blob %s: %w", b.Digest, err)
		}
		if got := oci.Digest(fmt.Sprintf("sha256:%x", h.Sum(nil))); got != b.Digest {
			return fmt.Errorf("blob %s of %s:%s hashes to %s", b.Digest, repo, ref, got)
		}
	}
	return nil
}

func (e *env) mustPull(repo, ref string) {
	e.t.Helper()
	if err := e.pull(repo, ref); err != nil {
		e.t.Fatal(err)
	}
}

// hasBytes reports whether the blob store has d.
func (e *env) hasBytes(d oci.Digest) bool {
	e.t.Helper()
	_, err := e.store.Stat(e.ctx, d)
	if err != nil && !errs.Is(err, errs.NotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

// hasRow reports whether d has a blob row.
func (e *env) hasRow(d oci.Digest) bool {
	e.t.Helper()
	_, err := e.db.Q().GetBlob(e.ctx, d)
	if err != nil && !errs.Is(err, errs.NotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *env) hasManifest(repo string, d oci.Digest) bool {
	e.t.Helper()
	_, err := e.reg.GetManifest(e.ctx, repo, string(d))
	if err != nil && !errs.Is(err, errs.NotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	n, err := e.db.Count(e.ctx, query, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// diskBytes is the total size of the committed blob files.
func (e *env) diskBytes() int64 {
	e.t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(e.root, "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// checkInvariant1 fails unless every blob row has its bytes.
func (e *env) checkInvariant1() {
	e.t.Helper()
	err := e.db.Q().EachBlob(e.ctx, func(b meta.Blob) error {
		if b.State != meta.BlobLive {
			return nil
		}
		if size, err := e.store.Stat(e.ctx, b.Digest); err != nil || size != b.Size {
			return fmt.Errorf("blob row %s (%d bytes) has stored size %d, error %v", b.Digest, b.Size, size, err)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
