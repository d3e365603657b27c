package registry

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
