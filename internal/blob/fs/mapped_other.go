//go:build !linux

package fs

import "io"

// WriteMappedTo copies the rest of the section to w; only Linux maps it.
func (s *fileSection) WriteMappedTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{s.SectionReader})
}
