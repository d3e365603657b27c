package fs

import "unsafe"

// bufAlign is the memory alignment of copy buffers, enough for O_DIRECT.
const bufAlign = 4096

// alignedBuf returns n bytes starting at a multiple of bufAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+bufAlign)
	skip := (bufAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%bufAlign)) % bufAlign
	return b[skip : skip+n : skip+n]
}

func aligned(p []byte) bool {
	return len(p) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(p)))%bufAlign == 0
}
