package registry

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Rowless upload sessions. On a store that one node writes (localUploads),
// POST creates no database row: the session is its empty data file, named
// by an id that carries the repository and the hash algorithm,
//
//	<uuid>-r<repository id>-<algorithm>
//
// so that nothing else needs remembering until bytes arrive. A PATCH that
// stores bytes creates the row (with the new offset, in the one write a
// PATCH always cost); a PUT that completes the blob commits it without
// ever writing one. The session's existence is its data file: once the
// upload is committed (the file renamed away) or cancelled (deleted), the
// id is unknown again, as a row's would be. An id edited to name another
// repository names a file that does not exist. Stale empty files are swept
// by their age like any upload data (sweep.go).

func rowlessID(base string, repoID int64, alg string) string {
	return base + "-r" + strconv.FormatInt(repoID, 10) + "-" + alg
}

// parseRowlessID splits a rowless session id; ok is false for any other
// string.
func parseRowlessID(id string) (repoID int64, alg string, ok bool) {
	if len(id) < 36+4 || id[36] != '-' || id[37] != 'r' {
		return 0, "", false
	}
	if u, err := uuid.Parse(id[:36]); err != nil || u.String() != id[:36] {
		return 0, "", false
	}
	rest := id[38:]
	i := strings.IndexByte(rest, '-')
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != rest[:i] {
		return 0, "", false
	}
	alg = rest[i+1:]
	if _, err := oci.NewHash(alg); err != nil {
		return 0, "", false
	}
	return n, alg, true
}

// rowlessUpload returns the session of rowless id in repo when its data
// file exists; ok is false when id is not such a session.
func (s *Service) rowlessUpload(ctx context.Context, repo meta.Repo, id string) (meta.Upload, bool, error) {
	lu, ok := s.localUploads()
	if !ok {
		return meta.Upload{}, false, nil
	}
	repoID, alg, ok := parseRowlessID(id)
	if !ok || repoID != repo.ID {
		return meta.Upload{}, false, nil
	}
	exists, err := lu.UploadExists(ctx, id)
	if err != nil || !exists {
		return meta.Upload{}, false, err
	}
	return meta.Upload{ID: id, RepoID: repo.ID, Algorithm: alg}, true, nil
}
