package fs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/oci"
)

var _ blob.Walker = (*Store)(nil)

// Walk implements blob.Walker over <root>/blobs/<alg>/<2 hex>/<hex>. Files
// whose names do not form a valid digest of their directory's algorithm,
// or that sit in the wrong fan-out directory, are skipped: they are not
// blobs this store wrote, and the caller must never be handed a digest
// that does not name the file it saw.
func (s *Store) Walk(ctx context.Context, fn func(d oci.Digest, size int64, modified time.Time) error) error {
	for _, alg := range []string{oci.SHA256, oci.SHA512} {
		algDir := filepath.Join(s.blobs, alg)
		fans, err := os.ReadDir(algDir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		for _, fan := range fans {
			if !fan.IsDir() || len(fan.Name()) != 2 {
				continue
			}
			if err := s.walkFan(ctx, alg, filepath.Join(algDir, fan.Name()), fan.Name(), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) walkFan(ctx context.Context, alg, dir, fan string, fn func(oci.Digest, int64, time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed since the parent was read
	}
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || len(e.Name()) < 2 || e.Name()[:2] != fan {
			continue
		}
		d, err := oci.ParseDigest(alg + ":" + e.Name())
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the directory was read
		}
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		if err := fn(d, fi.Size(), fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}
