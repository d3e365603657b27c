package signature_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/signature"
	st "github.com/berth-registry/berth/internal/signature/signaturetest"
)

func reader(m st.Manifest) signature.Reader {
	return func(d oci.Descriptor) ([]byte, error) {
		for _, b := range m.Blobs {
			if b.Desc.Digest == d.Digest {
				return b.Content, nil
			}
		}
		return nil, fmt.Errorf("blob %s unknown", d.Digest)
	}
}

func candidate(m st.Manifest, tag string) signature.Candidate {
	return signature.Candidate{Digest: m.Digest, MediaType: oci.MediaTypeImageManifest, Content: m.Content, Tag: tag,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// TestInspect: each storage scheme and format is recognised, attestations
// are never signatures, and verification needs a trusted key or root, the
// right subject and intact bytes.
func TestInspect(t *testing.T) {
	subject := st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{"os":"linux"}`)), nil, nil, nil)
	other := st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{"os":"plan9"}`)), nil, nil, nil)
	withLayer := st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{}`)),
		[]st.Blob{st.NewBlob("application/vnd.oci.image.layer.v1.tar+gzip", []byte("layer"))}, nil, nil)
	key, _ := st.NewCosignKey()
	stranger, _ := st.NewCosignKey()
	ca, err := st.NewCA("release signer")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, _ := st.NewCA("someone else")
	trusted := func(t *testing.T) signature.Trust {
		k, err := signature.ParseKey("release", key.PublicPEM())
		if err != nil {
			t.Fatal(err)
		}
		r, err := signature.ParseRoot("corp-root", ca.RootPEM())
		if err != nil {
			t.Fatal(err)
		}
		return signature.Trust{CosignKeys: []signature.Key{k}, NotationRoots: []signature.Root{r}}
	}(t)
	untrusted := func(t *testing.T) signature.Trust {
		k, _ := signature.ParseKey("other", stranger.PublicPEM())
		r, _ := signature.ParseRoot("other-root", otherCA.RootPEM())
		return signature.Trust{CosignKeys: []signature.Key{k}, NotationRoots: []signature.Root{r}}
	}(t)
	tagSig := signature.TagFor(subject.Digest, "sig")
	notation, err := st.Notation(ca, subject.Desc(), st.NotationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrongTarget, _ := st.Notation(ca, subject.Desc(), st.NotationOptions{Target: ptr(other.Desc())})
	tampered, _ := st.Notation(ca, subject.Desc(), st.NotationOptions{Tamper: true})
	old, _ := st.Notation(ca, subject.Desc(), st.NotationOptions{SigningTime: time.Now().Add(-48 * time.Hour)})
	cose, err := st.Notation(ca, subject.Desc(), st.NotationOptions{COSE: true})
	if err != nil {
		t.Fatal(err)
	}
	coseTampered, _ := st.Notation(ca, subject.Desc(), st.NotationOptions{COSE: true, Tamper: true})
	coseWrong, _ := st.Notation(ca, subject.Desc(), st.NotationOptions{COSE: true, Target: ptr(other.Desc())})

	type want struct {
		format, kind string
		verified     bool
		problem      string // substring; "" = none
		signer       string // substring
	}
	cases := []struct {
		name  string
		m     st.Manifest
		tag   string
		trust signature.Trust
		want  []want
	}{
		{"tag scheme, no keys: present", st.SimpleSigning(key, "p/app", subject.Digest), tagSig, signature.Trust{},
			[]want{{"cosign", "signature", false, "", ""}}},
		{"tag scheme, trusted key", st.SimpleSigning(key, "p/app", subject.Digest), tagSig, trusted,
			[]want{{"cosign", "signature", true, "", "key SHA256:"}}},
		{"tag scheme, untrusted key", st.SimpleSigning(key, "p/app", subject.Digest), tagSig, untrusted,
			[]want{{"cosign", "signature", false, "does not verify", ""}}},
		{"tag scheme, payload about another image", st.SimpleSigning(key, "p/app", other.Digest), tagSig, trusted,
			[]want{{"cosign", "signature", false, "not the subject", ""}}},
		{"tag scheme, not a .sig tag", st.SimpleSigning(key, "p/app", subject.Digest), "latest", trusted, nil},
		{"tag scheme .att is an attestation", st.SimpleSigning(key, "p/app", subject.Digest), signature.TagFor(subject.Digest, "att"), trusted,
			[]want{{"cosign", "attestation", false, "", ""}}},
		{"bundle signature, trusted", st.Bundle(key, subject.Desc(), signature.PredicateCosignSign), "", trusted,
			[]want{{"cosign", "signature", true, "", "key SHA256:"}}},
		{"bundle signature, untrusted", st.Bundle(key, subject.Desc(), signature.PredicateCosignSign), "", untrusted,
			[]want{{"cosign", "signature", false, "does not verify", ""}}},
		{"bundle SLSA provenance is an attestation", st.Bundle(key, subject.Desc(), "https://slsa.dev/provenance/v1"), "", trusted,
			[]want{{"cosign", "attestation", false, "", ""}}},
		{"bundle SPDX is an SBOM", st.Bundle(key, subject.Desc(), "https://spdx.dev/Document/v2.3"), "", trusted,
			[]want{{"cosign", "sbom", false, "", ""}}},
		{"bundle about another image", relink(st.Bundle(key, other.Desc(), signature.PredicateCosignSign), subject.Desc()), "", trusted,
			[]want{{"cosign", "signature", false, "not the subject", ""}}},
		{"notation, trusted root", notation, "", trusted,
			[]want{{"notation", "signature", true, "", "CN=release signer"}}},
		{"notation, no roots: present", notation, "", signature.Trust{},
			[]want{{"notation", "signature", false, "", "CN=release signer"}}},
		{"notation, root not in the store", notation, "", untrusted,
			[]want{{"notation", "signature", false, "trusted root", ""}}},
		{"notation, payload about another image", wrongTarget, "", trusted,
			[]want{{"notation", "signature", false, "not the subject", ""}}},
		{"notation, tampered signature", tampered, "", trusted,
			[]want{{"notation", "signature", false, "does not verify", ""}}},
		{"notation, signed before the chain was valid", old, "", trusted,
			[]want{{"notation", "signature", false, "trusted root", ""}}},
		{"notation COSE, trusted root", cose, "", trusted,
			[]want{{"notation", "signature", true, "", "CN=release signer"}}},
		{"notation COSE, root not in the store", cose, "", untrusted,
			[]want{{"notation", "signature", false, "trusted root", ""}}},
		{"notation COSE, tampered", coseTampered, "", trusted,
			[]want{{"notation", "signature", false, "does not verify", ""}}},
		{"notation COSE, payload about another image", coseWrong, "", trusted,
			[]want{{"notation", "signature", false, "not the subject", ""}}},
		{"an image under a .att tag is nothing", withLayer, signature.TagFor(other.Digest, "att"), trusted, nil},
		{"plain image with a subject is nothing", st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{}`)), nil, ptr(subject.Desc()), nil), "", trusted, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := signature.Inspect(candidate(c.m, c.tag), reader(c.m), c.trust)
			if len(got) != len(c.want) {
				t.Fatalf("got %d signatures %+v, want %d", len(got), got, len(c.want))
			}
			for i, w := range c.want {
				g := got[i]
				if g.Format != w.format || g.Kind != w.kind || g.Verified != w.verified {
					t.Errorf("got %s/%s verified=%v (%s), want %s/%s verified=%v", g.Format, g.Kind, g.Verified, g.Problem, w.format, w.kind, w.verified)
				}
				if w.problem == "" && g.Problem != "" || !strings.Contains(g.Problem, w.problem) {
					t.Errorf("problem = %q, want %q", g.Problem, w.problem)
				}
				if !strings.Contains(g.Signer, w.signer) {
					t.Errorf("signer = %q, want it to contain %q", g.Signer, w.signer)
				}
				if g.Accessory != c.m.Digest || g.SignedAt.IsZero() {
					t.Errorf("accessory %s signed at %v", g.Accessory, g.SignedAt)
				}
				if g.Verified && g.TrustedBy == "" {
					t.Errorf("verified without naming the trusted key or root")
				}
			}
		})
	}
}

// TestInspectCorruptLayer: a layer whose bytes do not match its digest
// is reported, not trusted.
func TestInspectCorruptLayer(t *testing.T) {
	subject := st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{}`)), nil, nil, nil)
	key, _ := st.NewCosignKey()
	k, _ := signature.ParseKey("k", key.PublicPEM())
	m := st.Bundle(key, subject.Desc(), signature.PredicateCosignSign)
	bad := func(d oci.Descriptor) ([]byte, error) { return []byte(`{"mediaType":"x"}`), nil }
	got := signature.Inspect(candidate(m, ""), bad, signature.Trust{CosignKeys: []signature.Key{k}})
	if len(got) != 1 || got[0].Verified || !strings.Contains(got[0].Problem, "does not match its digest") {
		t.Fatalf("got %+v", got)
	}
}

func TestSubjectOfTag(t *testing.T) {
	h := strings.Repeat("ab", 32)
	cases := []struct {
		tag    string
		d      oci.Digest
		suffix string
		ok     bool
	}{
		{"sha256-" + h + ".sig", oci.Digest("sha256:" + h), "sig", true},
		{"sha256-" + h + ".att", oci.Digest("sha256:" + h), "att", true},
		{"sha256-" + h, oci.Digest("sha256:" + h), "", true},
		{"sha256-" + h + ".txt", "", "", false},
		{"sha256-abc.sig", "", "", false},
		{"latest", "", "", false},
		{"md5-" + h + ".sig", "", "", false},
	}
	for _, c := range cases {
		d, s, ok := signature.SubjectOfTag(c.tag)
		if d != c.d || s != c.suffix || ok != c.ok {
			t.Errorf("SubjectOfTag(%q) = %q %q %v", c.tag, d, s, ok)
		}
	}
	if got := signature.TagFor(oci.Digest("sha256:"+h), "sig"); got != "sha256-"+h+".sig" {
		t.Errorf("TagFor = %q", got)
	}
}

func TestParseTrust(t *testing.T) {
	key, _ := st.NewCosignKey()
	ca, _ := st.NewCA("x")
	leafPEM := "-----BEGIN CERTIFICATE-----\n" + b64(ca.Leaf.Raw) + "\n-----END CERTIFICATE-----\n"
	if _, err := signature.ParseKey("k", key.PublicPEM()); err != nil {
		t.Errorf("cosign key: %v", err)
	}
	for _, bad := range []string{"", "not pem", ca.RootPEM()} {
		if _, err := signature.ParseKey("k", bad); err == nil {
			t.Errorf("ParseKey(%.20q) accepted", bad)
		}
	}
	if _, err := signature.ParseRoot("r", ca.RootPEM()); err != nil {
		t.Errorf("root: %v", err)
	}
	for _, bad := range []string{"", key.PublicPEM(), leafPEM, ca.RootPEM() + ca.RootPEM()} {
		if _, err := signature.ParseRoot("r", bad); err == nil {
			t.Errorf("ParseRoot(%.30q) accepted", bad)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// relink moves m's layers into a manifest whose subject is subject.
func relink(m st.Manifest, subject oci.Descriptor) st.Manifest {
	return st.NewManifest(signature.TypeSigstoreBundle, st.Empty(), m.Blobs[1:], &subject, nil)
}

// TestCosignKeyTypes: simple-signing signatures made with Ed25519, RSA
// and ECDSA P-384 keys verify with their public key and with no other.
func TestCosignKeyTypes(t *testing.T) {
	subject := oci.FromBytes([]byte("subject"))
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	other, _ := st.NewCosignKey()
	otherKey, _ := signature.ParseKey("other", other.PublicPEM())
	for name, signer := range map[string]crypto.Signer{"ed25519": edKey, "rsa": rsaKey, "ecdsa-p384": p384} {
		t.Run(name, func(t *testing.T) {
			m, pub, err := st.SimpleSigningWith(signer, "p/app", subject)
			if err != nil {
				t.Fatal(err)
			}
			k, err := signature.ParseKey(name, pub)
			if err != nil {
				t.Fatal(err)
			}
			c := candidate(m, signature.TagFor(subject, "sig"))
			got := signature.Inspect(c, reader(m), signature.Trust{CosignKeys: []signature.Key{otherKey, k}})
			if len(got) != 1 || !got[0].Verified || got[0].TrustedBy != name {
				t.Fatalf("with its key: %+v", got)
			}
			got = signature.Inspect(c, reader(m), signature.Trust{CosignKeys: []signature.Key{otherKey}})
			if len(got) != 1 || got[0].Verified || got[0].Problem == "" {
				t.Fatalf("with another key: %+v", got)
			}
		})
	}
}

// FuzzInspectEnvelope: any bytes as a Notation envelope (JWS or COSE),
// a bundle or a simple-signing payload give a Signature with a Problem or
// a verdict, never a panic.
func FuzzInspectEnvelope(f *testing.F) {
	subject := st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{}`)), nil, nil, nil)
	ca, err := st.NewCA("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	for _, cose := range []bool{false, true} {
		m, _ := st.Notation(ca, subject.Desc(), st.NotationOptions{COSE: cose})
		f.Add(m.Blobs[1].Content, uint8(0))
	}
	key, _ := st.NewCosignKey()
	f.Add(st.Bundle(key, subject.Desc(), signature.PredicateCosignSign).Blobs[1].Content, uint8(2))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"x"}}}`), uint8(3))
	root, _ := signature.ParseRoot("fuzz", ca.RootPEM())
	k, _ := signature.ParseKey("k", key.PublicPEM())
	trust := signature.Trust{CosignKeys: []signature.Key{k}, NotationRoots: []signature.Root{root}}
	f.Fuzz(func(t *testing.T, content []byte, kind uint8) {
		var m st.Manifest
		tag := ""
		switch kind % 4 {
		case 0:
			m = st.NewManifest(signature.TypeNotationSignature, st.Empty(), []st.Blob{st.NewBlob(signature.TypeJWS, content)}, ptr(subject.Desc()), nil)
		case 1:
			m = st.NewManifest(signature.TypeNotationSignature, st.Empty(), []st.Blob{st.NewBlob(signature.TypeCOSE, content)}, ptr(subject.Desc()), nil)
		case 2:
			m = st.NewManifest(signature.TypeSigstoreBundle, st.Empty(), []st.Blob{st.NewBlob(signature.TypeSigstoreBundle, content)}, ptr(subject.Desc()), nil)
		default:
			l := st.NewBlob(signature.TypeCosignSimpleSigning, content)
			l.Desc.Annotations = map[string]string{signature.AnnotationCosignSignature: "AAAA"}
			m = st.NewManifest("", st.NewBlob(oci.MediaTypeImageConfig, []byte(`{}`)), []st.Blob{l}, nil, nil)
			tag = signature.TagFor(subject.Digest, "sig")
		}
		for _, s := range signature.Inspect(candidate(m, tag), reader(m), trust) {
			if s.Verified && s.Problem != "" {
				t.Fatalf("verified with a problem: %+v", s)
			}
		}
	})
}

// FuzzParseTrust feeds arbitrary text (a project admin's upload) to the
// trust-key parsers: a key or root is accepted only as one whole PEM
// block of the right type.
func FuzzParseTrust(f *testing.F) {
	ca, err := st.NewCA("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	key, _ := st.NewCosignKey()
	for _, s := range []string{key.PublicPEM(), ca.RootPEM(), "junk\n" + key.PublicPEM(), key.PublicPEM() + ca.RootPEM(),
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		trimmed := strings.TrimSpace(text)
		if k, err := signature.ParseKey("k", text); err == nil {
			if k.Fingerprint == "" || !strings.HasPrefix(trimmed, "-----BEGIN PUBLIC KEY-----") {
				t.Fatalf("accepted key %q with fingerprint %q", text, k.Fingerprint)
			}
		}
		if r, err := signature.ParseRoot("r", text); err == nil {
			if r.Fingerprint == "" || !r.Cert.IsCA || !strings.HasPrefix(trimmed, "-----BEGIN CERTIFICATE-----") {
				t.Fatalf("accepted root %q", text)
			}
		}
	})
}
