package registry

import "context"

// chunkMinimum is an optional blob.Store capability: the smallest chunk
// (other than the last) the store can take, such as an object store's
// minimum multipart part size.
type chunkMinimum interface {
	MinChunkLength() int64
}

// ChunkMinLength is the OCI-Chunk-Min-Length berth advertises: the store's
// minimum, or 1 byte when any chunk size works (the filesystem).
func (s *Service) ChunkMinLength() int64 {
	if c, ok := s.blobs.(chunkMinimum); ok && c.MinChunkLength() > 0 {
		return c.MinChunkLength()
	}
	return 1
}

// sharedWriters is an optional blob.Store capability: a store that several
// nodes write (object storage) says so. Writers of one upload session
// then take a claim in the database (uploadclaim.go), and completing an
// upload hashes the stored bytes themselves rather than trusting the saved
// hash state, so that a blob can never be committed under a digest its
// content does not have.
type sharedWriters interface {
	SharedWriters() bool
}

func (s *Service) sharedStore() bool {
	sw, ok := s.blobs.(sharedWriters)
	return ok && sw.SharedWriters()
}

// localUploads is an optional blob.Store capability of a store that one
// node writes (the filesystem): an upload session can then live as its
// empty data file until its first bytes arrive, with no database row
// (uploads.go: rowless sessions). POST+PUT, the common push of a small
// blob, then costs one database commit instead of two.
type localUploads interface {
	StartUpload(ctx context.Context, id string) error
	UploadExists(ctx context.Context, id string) (bool, error)
}

func (s *Service) localUploads() (localUploads, bool) {
	if s.sharedStore() {
		return nil, false
	}
	lu, ok := s.blobs.(localUploads)
	return lu, ok
}
