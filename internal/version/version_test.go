package version

import (
	"runtime"
	"testing"
)

func TestString(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)

	if got, want := String(), "berth dev (unknown) "+runtime.Version(); got != want {
		t.Errorf("String() with defaults = %q, want %q", got, want)
	}

	Version, Commit = "v1.2.3", "abc1234"
	if got, want := String(), "berth v1.2.3 (abc1234) "+runtime.Version(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
