package oci

import (
	"regexp"
	"strings"
	"testing"
)

// nameRE is the distribution spec's grammar for repository names, written
// out independently of ValidateName so each checks the other.
var nameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// maxName is a valid name of exactly MaxNameLength characters.
var maxName = strings.Repeat("abcd/", MaxNameLength/5-1) + "abcde"

var nameTests = []struct {
	name string
	ok   bool
}{
	{"a", true},
	{"0", true},
	{"a/b", true},
	{"a.b", true},
	{"a_b", true},
	{"a__b", true},
	{"a-b", true},
	{"a---b", true},
	{"library/ubuntu", true},
	{"my-project/sub.team/image_name__x", true},
	{"a0/b1/c2/d3", true},
	{"a.b.c-d_e__f", true},
	{maxName, true},
	{strings.Repeat("a", MaxNameLength), true},

	{"", false},
	{"A", false},
	{"library/Ubuntu", false},
	{"a..b", false},
	{"a___b", false},
	{"a._b", false},
	{"a-_b", false},
	{"a_-b", false},
	{".a", false},
	{"a.", false},
	{"-a", false},
	{"a-", false},
	{"_a", false},
	{"a_", false},
	{"a/", false},
	{"/a", false},
	{"/", false},
	{"a//b", false},
	{".", false},
	{"..", false},
	{"../a", false},
	{"a/..", false},
	{"a/../b", false},
	{"a/./b", false},
	{"a%2fb", false},
	{"a%2e%2e", false},
	{"a b", false},
	{" a", false},
	{"a\n", false},
	{"a\x00", false},
	{`a\b`, false},
	{"a:b", false},
	{"a@b", false},
	{"ubüntu", false},
	{"ａ", false}, // fullwidth a
	{"a\u200bb", false},
	{maxName + "a", false},
	{strings.Repeat("a", MaxNameLength+1), false},
}

func TestValidateName(t *testing.T) {
	if len(maxName) != MaxNameLength {
		t.Fatalf("maxName is %d characters", len(maxName))
	}
	for _, tt := range nameTests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok = %v", tt.name, err, tt.ok)
		}
		if tt.ok != (nameRE.MatchString(tt.name) && len(tt.name) <= MaxNameLength) {
			t.Errorf("test case %q disagrees with the grammar", tt.name)
		}
	}
}

func TestValidateTag(t *testing.T) {
	tests := []struct {
		tag string
		ok  bool
	}{
		{"latest", true},
		{"v1.2.3", true},
		{"V1_2-rc.1", true},
		{"_", true},
		{"0", true},
		{"a", true},
		{"_x", true},
		{strings.Repeat("a", MaxTagLength), true},
		{"A" + strings.Repeat("-", MaxTagLength-1), true},

		{"", false},
		{".x", false},
		{"-x", false},
		{"a:b", false},
		{"a/b", false},
		{"a b", false},
		{"a@b", false},
		{"a+b", false},
		{"..", false},
		{"x\n", false},
		{"tæg", false},
		{strings.Repeat("a", MaxTagLength+1), false},
	}
	for _, tt := range tests {
		err := ValidateTag(tt.tag)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTag(%q) = %v, want ok = %v", tt.tag, err, tt.ok)
		}
		if tt.ok != tagRE.MatchString(tt.tag) {
			t.Errorf("test case %q disagrees with the grammar", tt.tag)
		}
	}
}

var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func TestParseReference(t *testing.T) {
	d := "sha256:" + hex64
	tests := []struct {
		in   string
		want Reference
		ok   bool
	}{
		{"latest", Reference{Tag: "latest"}, true},
		{"v1.0", Reference{Tag: "v1.0"}, true},
		{d, Reference{Digest: Digest(d)}, true},
		{"sha512:" + hex128, Reference{Digest: Digest("sha512:" + hex128)}, true},
		{"sha256", Reference{Tag: "sha256"}, true},

		{"", Reference{}, false},
		{":", Reference{}, false},
		{"latest:", Reference{}, false},
		{"a:b", Reference{}, false},
		{"sha256:" + hex64[:10], Reference{}, false},
		{"sha256:" + strings.ToUpper(hex64), Reference{}, false},
		{"-latest", Reference{}, false},
		{"../latest", Reference{}, false},
		{"latest/x", Reference{}, false},
		{strings.Repeat("t", MaxTagLength+1), Reference{}, false},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseReference(%q) = %v, want ok = %v", tt.in, err, tt.ok)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if tt.ok && (got.String() != tt.in || got.IsDigest() != (got.Digest != "")) {
			t.Errorf("ParseReference(%q): String %q IsDigest %v", tt.in, got.String(), got.IsDigest())
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, tt := range nameTests {
		f.Add(tt.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		want := nameRE.MatchString(name) && len(name) <= MaxNameLength
		if (err == nil) != want {
			t.Fatalf("ValidateName(%q) = %v, but the grammar says %v", name, err, want)
		}
		if err == nil && (strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.Contains(name, "//")) {
			t.Fatalf("ValidateName accepted a path trick: %q", name)
		}
	})
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"latest", "v1.0", "_", "", ":", "a:b", "sha256:" + hex64, "sha512:" + hex128,
		"sha256:" + hex64[:10], "-x", "../x", strings.Repeat("t", MaxTagLength+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		_, derr := ParseDigest(s)
		want := tagRE.MatchString(s) || derr == nil
		if (err == nil) != want {
			t.Fatalf("ParseReference(%q) = %v, want ok = %v", s, err, want)
		}
		if err != nil {
			if r != (Reference{}) {
				t.Fatalf("ParseReference(%q) returned %+v with an error", s, r)
			}
			return
		}
		if (r.Tag == "") == (r.Digest == "") {
			t.Fatalf("ParseReference(%q) = %+v: want exactly one of tag and digest", s, r)
		}
		if r.String() != s || r.IsDigest() != (derr == nil) {
			t.Fatalf("ParseReference(%q) = %+v", s, r)
		}
	})
}
