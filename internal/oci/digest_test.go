package oci

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

var (
	hex64  = strings.Repeat("0123456789abcdef", 4)
	hex128 = strings.Repeat("0123456789abcdef", 8)
)

func TestParseDigest(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"sha256:" + hex64, true},
		{"sha512:" + hex128, true},
		{"sha256:" + strings.Repeat("0", 64), true},
		{"", false},
		{"sha256", false},
		{"sha256:", false},
		{hex64, false},                   // missing algorithm and colon
		{"sha256" + hex64, false},        // missing colon
		{":" + hex64, false},             // empty algorithm
		{"sha256:" + hex64[:63], false},  // short
		{"sha256:" + hex64 + "0", false}, // long
		{"sha256:" + hex128, false},      // sha512 length under sha256
		{"sha512:" + hex64, false},       // sha256 length under sha512
		{"sha256:" + strings.ToUpper(hex64), false},
		{"SHA256:" + hex64, false},
		{"sha384:" + strings.Repeat("0", 96), false},
		{"md5:" + hex64[:32], false},
		{"sha256:" + hex64[:62] + "0g", false},
		{"sha256:" + hex64[:63] + ":", false},
		{"sha256:" + hex64[:60] + "/../", false},
		{"sha256:../../etc/passwd", false},
		{" sha256:" + hex64, false},
		{"sha256:" + hex64 + " ", false},
		{"sha256:" + hex64 + "\n", false},
		{"sha256+b64:" + hex64, false},
	}
	for _, tt := range tests {
		d, err := ParseDigest(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDigest(%q): err = %v, want ok = %v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			if d != "" {
				t.Errorf("ParseDigest(%q) returned %q with an error", tt.in, d)
			}
			continue
		}
		if string(d) != tt.in || d.String() != tt.in {
			t.Errorf("ParseDigest(%q) = %q", tt.in, d)
		}
		alg, h, _ := strings.Cut(tt.in, ":")
		if d.Algorithm() != alg || d.Hex() != h {
			t.Errorf("ParseDigest(%q): algorithm %q hex %q", tt.in, d.Algorithm(), d.Hex())
		}
	}
}

func TestParseDigestErrorIsShort(t *testing.T) {
	_, err := ParseDigest("sha256:" + strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error for a huge digest is %d bytes long", len(err.Error()))
	}
}

func TestFromBytes(t *testing.T) {
	b := []byte("hello, berth")
	s256 := sha256.Sum256(b)
	s512 := sha512.Sum512(b)
	want256 := Digest("sha256:" + hex.EncodeToString(s256[:]))
	want512 := Digest("sha512:" + hex.EncodeToString(s512[:]))
	if got := FromBytes(b); got != want256 {
		t.Errorf("FromBytes = %s, want %s", got, want256)
	}
	for alg, want := range map[string]Digest{SHA256: want256, SHA512: want512} {
		got, err := FromBytesAlg(alg, b)
		if err != nil || got != want {
			t.Errorf("FromBytesAlg(%s) = %s, %v; want %s", alg, got, err, want)
		}
		if _, err := ParseDigest(string(got)); err != nil {
			t.Errorf("FromBytesAlg(%s) does not parse: %v", alg, err)
		}
	}
	// The well-known digest of nothing.
	if got := FromBytes(nil); got != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("FromBytes(nil) = %s", got)
	}
	for _, alg := range []string{"", "md5", "SHA256", "sha384"} {
		if _, err := FromBytesAlg(alg, b); err == nil {
			t.Errorf("FromBytesAlg(%q) gave no error", alg)
		}
		if _, err := NewHash(alg); err == nil {
			t.Errorf("NewHash(%q) gave no error", alg)
		}
	}
}

// An upload hashes part of a blob, saves the state, and another process
// restores it and finishes: the digest must be that of the whole blob.
func TestHashStateRoundTrip(t *testing.T) {
	b := bytes.Repeat([]byte("resumable upload "), 10_000)
	for _, alg := range []string{SHA256, SHA512} {
		for _, cut := range []int{0, 1, 63, 64, 65, len(b) / 2, len(b)} {
			want, _ := FromBytesAlg(alg, b)
			h, err := NewHash(alg)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b[:cut])
			state, err := HashState(h)
			if err != nil {
				t.Fatal(err)
			}
			h.Write([]byte("junk written after the state was saved"))
			r, err := RestoreHash(alg, state)
			if err != nil {
				t.Fatalf("%s cut %d: restore: %v", alg, cut, err)
			}
			r.Write(b[cut:])
			if got := DigestOf(alg, r); got != want {
				t.Errorf("%s cut %d: restored digest %s, want %s", alg, cut, got, want)
			}
		}
	}
}

func TestRestoreHash(t *testing.T) {
	// No state is a fresh hash.
	h, err := RestoreHash(SHA256, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := DigestOf(SHA256, h); got != FromBytes(nil) {
		t.Errorf("fresh restored hash digest %s", got)
	}
	h256, _ := NewHash(SHA256)
	state256, _ := HashState(h256)
	h512, _ := NewHash(SHA512)
	state512, _ := HashState(h512)
	bad := []struct {
		alg   string
		state []byte
	}{
		{SHA256, state512},    // state of the other algorithm
		{SHA512, state256},    // state of the other algorithm
		{SHA256, []byte("x")}, // garbage
		{SHA256, state256[:len(state256)-1]},
		{"md5", state256},
	}
	for _, tt := range bad {
		if _, err := RestoreHash(tt.alg, tt.state); err == nil {
			t.Errorf("RestoreHash(%s, %d bytes) gave no error", tt.alg, len(tt.state))
		}
	}
}

var digestRE = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{
		"sha256:" + hex64, "sha512:" + hex128, "", ":", "sha256:", "sha256:" + strings.ToUpper(hex64),
		"sha256:" + hex64[:63], "sha512:" + hex64, "sha256:../../etc", "md5:" + hex64[:32],
		"sha256:" + hex64 + "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if (err == nil) != digestRE.MatchString(s) {
			t.Fatalf("ParseDigest(%q) err = %v, but the regexp says %v", s, err, digestRE.MatchString(s))
		}
		if err != nil {
			return
		}
		if string(d) != s || d.Algorithm()+":"+d.Hex() != s {
			t.Fatalf("ParseDigest(%q) = %q (%q : %q)", s, d, d.Algorithm(), d.Hex())
		}
		if _, err := NewHash(d.Algorithm()); err != nil {
			t.Fatalf("digest %q has an algorithm without a hash: %v", s, err)
		}
	})
}
