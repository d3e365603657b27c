package oci

import (
	"fmt"
	"strings"
)

// MaxNameLength bounds a repository name, including its project prefix.
// The spec suggests clients keep names under 256 characters; berth
// enforces it so that names fit in indexes and paths.
const MaxNameLength = 255

// MaxTagLength is the spec's limit for a tag (1 + 127 characters).
const MaxTagLength = 128

// ValidateName checks a repository name against the distribution spec
// grammar: path components of [a-z0-9]+ separated by '.', '_', '__' or
// runs of '-', joined by '/'. It never accepts '..', empty components,
// upper case or any byte outside the grammar.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("repository name is empty")
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("repository name is longer than %d characters", MaxNameLength)
	}
	for _, comp := range strings.Split(name, "/") {
		if !validComponent(comp) {
			return fmt.Errorf("repository name %q is invalid: component %q must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*", trunc(name), trunc(comp))
		}
	}
	return nil
}

func validComponent(c string) bool {
	if c == "" || !alnum(c[0]) || !alnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if alnum(c[i]) {
			i++
			continue
		}
		// A separator: '.', '_', '__' or one or more '-'.
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
		if i >= len(c) || !alnum(c[i]) {
			return false
		}
	}
	return true
}

func alnum(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }

// ValidateTag checks a tag against [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidateTag(tag string) error {
	if tag == "" || len(tag) > MaxTagLength {
		return fmt.Errorf("tag %q must be 1 to %d characters", trunc(tag), MaxTagLength)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' ||
			(i > 0 && (c == '.' || c == '-'))
		if !ok {
			return fmt.Errorf("tag %q is invalid: it must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", trunc(tag))
		}
	}
	return nil
}

// Reference is either a tag or a digest, as found in a manifest URL.
type Reference struct {
	Tag    string
	Digest Digest
}

// IsDigest reports whether the reference names a digest.
func (r Reference) IsDigest() bool { return r.Digest != "" }

func (r Reference) String() string {
	if r.Digest != "" {
		return string(r.Digest)
	}
	return r.Tag
}

// ParseReference parses the reference part of /v2/<name>/manifests/<ref>.
// Anything containing ':' must be a valid digest; anything else a tag.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if err := ValidateTag(s); err != nil {
		return Reference{}, err
	}
	return Reference{Tag: s}, nil
}
