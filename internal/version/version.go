// Package version holds the build's identity. The release build sets
// Version and Commit with the linker:
//
//	go build -ldflags "-X github.com/berth-registry/berth/internal/version.Version=v1.2.3 \
//	    -X github.com/berth-registry/berth/internal/version.Commit=$(git rev-parse --short HEAD)"
//
// They are variables only so that -X can reach them; nothing else writes them.
package version

import (
	"fmt"
	"runtime"
)

// Version is the release name, "dev" for a build without -ldflags.
var Version = "dev"

// Commit is the source revision, "unknown" for a build without -ldflags.
var Commit = "unknown"

// String describes the build as "berth <version> (<commit>) <go version>",
// the line `berth version` prints.
func String() string {
	return fmt.Sprintf("berth %s (%s) %s", Version, Commit, runtime.Version())
}
