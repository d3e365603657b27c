package scan

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Bounds on what an import reads: the whole archive (as stored
// compressed), and any one record.
const (
	maxImportSize = 8 << 30
	maxRecordSize = 16 << 20
	importBatch   = 500
	// maxZstdWindow bounds the memory a zstd stream may ask the decoder
	// for (real archives and layers use a few MiB).
	maxZstdWindow = 128 << 20
)

// Source is one input of an import: a file, a URL, a reader.
type Source struct {
	Name string // recorded as the database's source
	Open func(context.Context) (io.ReadCloser, error)
	path string // set by FileSource: a directory is walked
}

// FileSource reads a file or, for a directory, every .json, .zip, .tar,
// .tar.gz and .tgz file under it.
func FileSource(path string) Source {
	return Source{Name: path, path: path, Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
}

// Import replaces the vulnerability database with the OSV records read
// from r: a zip of OSV JSON files (osv.dev's <ecosystem>/all.zip), a
// tar, tar.gz or tar.zst of such files or zips, or a single JSON record
// or array of records. source is recorded (a file name or URL). The new
// database replaces the old one atomically when the import succeeds; on
// any error the old one stays in use.
func (e *Engine) Import(ctx context.Context, r io.Reader, source string) (DBInfo, error) {
	return e.ImportSources(ctx, Source{Name: source, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(r), nil
	}})
}

// ImportSources builds one database from several inputs (osv.dev
// publishes one zip per ecosystem) and swaps it in as Import does. A
// directory given with FileSource is walked.
func (e *Engine) ImportSources(ctx context.Context, sources ...Source) (DBInfo, error) {
	if len(sources) == 0 {
		return DBInfo{}, errs.Invalidf("import: no source given")
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name
	}
	q := e.db.Q()
	gen, err := q.BeginVulnGeneration(ctx, strings.Join(names, ", "))
	if err != nil {
		return DBInfo{}, err
	}
	im := &importer{e: e, q: q, gen: gen, seen: map[string]time.Time{}, ecos: map[string]int{}}
	info, err := im.run(ctx, sources)
	if err != nil {
		// Best effort: the next import deletes it anyway once it is old.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := q.DeleteVulnGeneration(cctx, gen); derr != nil {
			e.log.Warn("vulnerability import: cleanup failed", "generation", gen, "err", derr)
		}
		return DBInfo{}, err
	}
	e.log.Info("vulnerability database imported", "source", info.Source, "records", info.Records,
		"updated_at", info.UpdatedAt)
	return info, nil
}

type importer struct {
	e       *Engine
	q       *meta.Q
	gen     int64
	seen    map[string]time.Time // record id -> modified, to keep the newest of duplicates
	ecos    map[string]int
	updated time.Time
	recs    []meta.VulnRecord
	aff     []meta.VulnAffected
	pending map[string]bool
	sums    []string
	zw      *gzip.Writer
}

func (im *importer) run(ctx context.Context, sources []Source) (DBInfo, error) {
	for _, s := range sources {
		if err := im.source(ctx, s); err != nil {
			return DBInfo{}, fmt.Errorf("import %s: %w", s.Name, err)
		}
	}
	if err := im.flush(ctx); err != nil {
		return DBInfo{}, err
	}
	if len(im.seen) == 0 {
		return DBInfo{}, errs.Invalidf("import: no OSV records with affected packages found")
	}
	ecos, _ := json.Marshal(im.ecos)
	g := meta.VulnGeneration{ID: im.gen, Checksum: strings.Join(im.sums, ","), Records: int64(len(im.seen)),
		Ecosystems: string(ecos), UpdatedAt: im.updated}
	if err := im.q.CommitVulnGeneration(ctx, g); err != nil {
		return DBInfo{}, err
	}
	return im.e.DBInfo(ctx)
}

// source spools one input to a temporary file (hashing it), then reads
// the records in it by format.
func (im *importer) source(ctx context.Context, s Source) error {
	if s.path != "" {
		if fi, err := os.Stat(s.path); err == nil && fi.IsDir() {
			return im.dir(ctx, s.path)
		}
	}
	rc, err := s.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, sum, err := im.spool(rc)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	im.sums = append(im.sums, sum)
	return im.file(ctx, f)
}

func (im *importer) spool(r io.Reader) (*os.File, string, error) {
	f, err := os.CreateTemp(im.e.tmpDir, "berth-vulndb-*")
	if err != nil {
		return nil, "", fmt.Errorf("spool: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, maxImportSize+1))
	if err == nil && n > maxImportSize {
		err = errs.New(errs.TooLarge, "", "import is larger than %d bytes", int64(maxImportSize))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, "", err
	}
	return f, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func (im *importer) dir(ctx context.Context, root string) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := strings.ToLower(d.Name())
		if d.Type().IsRegular() && (strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".zip") ||
			strings.HasSuffix(n, ".tar") || strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".tgz") ||
			strings.HasSuffix(n, ".tar.zst")) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := im.source(ctx, FileSource(p)); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// file reads f by its leading bytes: zip, gzip, zstd, tar or JSON.
func (im *importer) file(ctx context.Context, f *os.File) error {
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return im.zip(ctx, f, fi.Size())
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(f)
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "bad gzip")
		}
		defer zr.Close()
		return im.stream(ctx, zr)
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "bad zstd")
		}
		defer zr.Close()
		return im.stream(ctx, zr)
	}
	return im.stream(ctx, f)
}

// stream reads an uncompressed stream: a tar, or JSON.
func (im *importer) stream(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1024)
	head, _ := br.Peek(512)
	if isTar(head) {
		return im.tar(ctx, tar.NewReader(br))
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return im.json(ctx, br)
	}
	return errs.Invalidf("not a zip, tar or JSON file of OSV records")
}

// isTar checks the ustar magic of a tar header block.
func isTar(b []byte) bool {
	return len(b) >= 262 && (string(b[257:262]) == "ustar")
}

func (im *importer) tar(ctx context.Context, tr *tar.Reader) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "bad tar")
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.ToLower(h.Name)
		switch {
		case strings.HasSuffix(name, ".json"):
			if h.Size > maxRecordSize {
				return errs.New(errs.TooLarge, "", "%s: record larger than %d bytes", h.Name, maxRecordSize)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := im.jsonBytes(ctx, h.Name, b); err != nil {
				return err
			}
		case strings.HasSuffix(name, ".zip"):
			f, _, err := im.spool(tr)
			if err != nil {
				return err
			}
			err = im.zip(ctx, f, h.Size)
			f.Close()
			os.Remove(f.Name())
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
	}
}

func (im *importer) zip(ctx context.Context, ra io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "bad zip")
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.HasSuffix(strings.ToLower(zf.Name), ".json") {
			continue
		}
		if zf.UncompressedSize64 > maxRecordSize {
			return errs.New(errs.TooLarge, "", "%s: record larger than %d bytes", zf.Name, maxRecordSize)
		}
		rc, err := zf.Open()
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "%s", zf.Name)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxRecordSize+1))
		rc.Close()
		if err != nil {
			return errs.Wrap(errs.Invalid, err, "%s", zf.Name)
		}
		if err := im.jsonBytes(ctx, zf.Name, b); err != nil {
			return err
		}
	}
	return nil
}

// json reads one record or an array of records.
func (im *importer) json(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "bad JSON")
	}
	if d, ok := tok.(json.Delim); ok && d == '[' {
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return errs.Wrap(errs.Invalid, err, "bad JSON")
			}
			if err := im.jsonBytes(ctx, "record", raw); err != nil {
				return err
			}
		}
		return nil
	}
	// A single object: re-read it whole.
	rest, err := io.ReadAll(io.LimitReader(io.MultiReader(dec.Buffered(), r), maxRecordSize))
	if err != nil {
		return err
	}
	return im.jsonBytes(ctx, "record", append([]byte("{"), rest...))
}

// jsonBytes adds one OSV record.
func (im *importer) jsonBytes(ctx context.Context, name string, b []byte) error {
	var rec osvRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return errs.Wrap(errs.Invalid, err, "%s: not an OSV record", name)
	}
	if rec.ID == "" {
		return errs.Invalidf("%s: OSV record without an id", name)
	}
	if rec.Withdrawn != "" {
		return nil
	}
	mod := rec.modifiedTime()
	if prev, ok := im.seen[rec.ID]; ok && !mod.After(prev) {
		return nil
	}
	var aff []meta.VulnAffected
	ecos := map[string]bool{}
	for _, a := range rec.Affected {
		if a.Package.Ecosystem == "" || a.Package.Name == "" {
			continue
		}
		aff = append(aff, meta.VulnAffected{Ecosystem: a.Package.Ecosystem,
			Name: normalizeName(a.Package.Ecosystem, a.Package.Name), RecordID: rec.ID})
		ecos[ecosystemBase(a.Package.Ecosystem)] = true
	}
	if len(aff) == 0 {
		return nil
	}
	if im.pending[rec.ID] {
		if err := im.flush(ctx); err != nil {
			return err
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return errs.Wrap(errs.Invalid, err, "%s", name)
	}
	// One compressor for the whole import: a new one allocates about a
	// megabyte of state, which dominated the import's cost.
	var z bytes.Buffer
	if im.zw == nil {
		im.zw, _ = gzip.NewWriterLevel(&z, gzip.BestSpeed)
	} else {
		im.zw.Reset(&z)
	}
	im.zw.Write(compact.Bytes())
	im.zw.Close()
	if _, dup := im.seen[rec.ID]; !dup {
		for eco := range ecos {
			im.ecos[eco]++
		}
	}
	im.seen[rec.ID] = mod
	if mod.After(im.updated) {
		im.updated = mod
	}
	if im.pending == nil {
		im.pending = map[string]bool{}
	}
	im.pending[rec.ID] = true
	im.recs = append(im.recs, meta.VulnRecord{ID: rec.ID, Modified: mod, Data: z.Bytes()})
	im.aff = append(im.aff, aff...)
	if len(im.recs) >= importBatch {
		return im.flush(ctx)
	}
	return ctx.Err()
}

func (im *importer) flush(ctx context.Context) error {
	if len(im.recs) == 0 {
		return nil
	}
	if err := im.q.PutVulnRecords(ctx, im.gen, im.recs, im.aff); err != nil {
		return err
	}
	im.recs, im.aff = im.recs[:0], im.aff[:0]
	clear(im.pending)
	return nil
}
