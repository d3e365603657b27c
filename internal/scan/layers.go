package scan

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/berth-registry/berth/internal/errs"
)

// The layer walk: layers are applied in order into a private temporary
// directory, keeping only the files some package finder asks for (by path
// and mode, before reading a byte of them), so that disk and memory stay
// bounded by Limits whatever the image holds. Whiteouts (".wh.name" and
// the opaque-directory marker ".wh..wh..opq") delete what lower layers
// put there. Nothing is ever written outside the directory: names are
// cleaned to rooted paths, writes go through an os.Root, and links in the
// image are never created as links.

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// keptFile is a file of the flattened image that discovery will read.
type keptFile struct {
	layer int
	info  fs.FileInfo
}

// tree is the flattened, filtered image in dir.
type tree struct {
	dir   string
	root  *os.Root
	files map[string]keptFile
	total int64
	// skipped counts wanted files left out because of the limits.
	skipped int
}

func (t *tree) close() {
	if t.root != nil {
		t.root.Close()
	}
	os.RemoveAll(t.dir)
}

// flatten applies img's layers into a new temporary directory, keeping
// the files want accepts.
func (e *Engine) flatten(ctx context.Context, img Image, want func(name string, fi fs.FileInfo) bool) (*tree, error) {
	dir, err := os.MkdirTemp(e.tmpDir, "berth-scan-*")
	if err != nil {
		return nil, fmt.Errorf("scan: temp dir: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("scan: temp dir: %w", err)
	}
	t := &tree{dir: dir, root: root, files: map[string]keptFile{}}
	for i, l := range img.Layers {
		if err := e.applyLayer(ctx, t, i, l, want); err != nil {
			t.close()
			return nil, err
		}
	}
	return t, nil
}

func (e *Engine) applyLayer(ctx context.Context, t *tree, idx int, l Layer, want func(string, fs.FileInfo) bool) error {
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("scan: open layer %s: %w", l.Digest, err)
	}
	defer rc.Close()
	r, closeFn, err := decompress(rc)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "scan: layer %s", l.Digest)
	}
	defer closeFn()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "scan: layer %s is not a readable tar", l.Digest)
		}
		name := cleanName(h.Name)
		if name == "" {
			continue
		}
		base, dir := path.Base(name), path.Dir(name)
		switch {
		case base == whiteoutOpaque:
			t.removeUnder(dir, idx)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			target := path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
			t.remove(target, idx)
			t.removeUnder(target, idx)
			continue
		}
		// Anything at this path replaces what lower layers had there.
		if k, ok := t.files[name]; ok && k.layer < idx {
			t.remove(name, idx)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			fi := h.FileInfo()
			if !want(name, fi) {
				continue
			}
			if err := t.keep(e.limits, name, idx, fi, tr); err != nil {
				return err
			}
		case tar.TypeLink:
			// A hard link to a file kept earlier in this or a lower layer.
			target := cleanName(h.Linkname)
			k, ok := t.files[target]
			if !ok || !want(name, k.info) {
				continue
			}
			f, err := t.root.Open(target)
			if err != nil {
				continue
			}
			err = t.keep(e.limits, name, idx, k.info, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
}

// keep copies one wanted file into the tree, within the limits.
func (t *tree) keep(lim Limits, name string, layer int, fi fs.FileInfo, r io.Reader) error {
	size := fi.Size()
	if k, ok := t.files[name]; ok { // the same path twice in one layer
		t.total -= k.info.Size()
		delete(t.files, name)
	}
	if size > lim.MaxFileSize || t.total+size > lim.MaxTotalSize || len(t.files) >= lim.MaxFiles {
		t.skipped++
		return nil
	}
	if err := t.root.MkdirAll(path.Dir(name), 0o700); err != nil {
		// A lower layer's kept file sits where this one needs a
		// directory; the image is odd, skip the file.
		t.skipped++
		return nil
	}
	f, err := t.root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		t.skipped++
		return nil
	}
	src := &readErr{r: io.LimitReader(r, size)}
	n, err := io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if src.err != nil { // the layer, not the disk: a truncated or corrupt blob
		return errs.Wrap(errs.Invalid, src.err, "scan: layer file %s cannot be read", name)
	}
	if err != nil {
		return fmt.Errorf("scan: copy %s: %w", name, err)
	}
	t.total += n
	t.files[name] = keptFile{layer: layer, info: fi}
	return nil
}

// readErr remembers the error of the reader it wraps, so that a bad
// layer is told from a failing disk.
type readErr struct {
	r   io.Reader
	err error
}

func (x *readErr) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err != io.EOF {
		x.err = err
	}
	return n, err
}

// remove drops a file kept from a layer below idx.
func (t *tree) remove(name string, idx int) {
	if k, ok := t.files[name]; ok && k.layer < idx {
		t.total -= k.info.Size()
		delete(t.files, name)
		t.root.Remove(name)
	}
}

// removeUnder drops every file kept under dir from layers below idx.
func (t *tree) removeUnder(dir string, idx int) {
	prefix := dir + "/"
	if dir == "." || dir == "" {
		prefix = ""
	}
	for name := range t.files {
		if strings.HasPrefix(name, prefix) {
			t.remove(name, idx)
		}
	}
}

// cleanName turns a tar entry name into a path relative to the image
// root ("usr/bin/x"), or "" for the root itself.
func cleanName(n string) string {
	c := strings.TrimPrefix(path.Clean("/"+n), "/")
	if c == "." {
		return ""
	}
	return c
}

// decompress detects gzip, zstd or plain tar from the first bytes.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		zr.Multistream(true)
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}
