package interop

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// bundleType is the artifact type of a Sigstore bundle that cosign v3
// stores as an OCI 1.1 referrer of the signed image.
const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// TestCosign signs an image with a key pair the test makes, verifies it,
// checks that another key and an unsigned image fail verification, and
// finds the signature through berth's referrers API.
//
// Offline: an empty signing config (no Fulcio, Rekor or TSA) and an empty
// trusted root keep cosign from asking the public Sigstore TUF
// repository, and the transparency log is neither written nor checked.
func TestCosign(t *testing.T) {
	env.matrix.track(t, "cosign")
	c := newClient(t).with("COSIGN_PASSWORD=interop-" + randomHex(4))
	reg := env.registry
	repo := project + "/cosign"
	signedImg := pushImage(t, reg+"/"+repo+":signed")
	unsignedImg := pushImage(t, reg+"/"+repo+":unsigned")
	signed, unsigned := digestOf(t, signedImg), digestOf(t, unsignedImg)

	runCmd(t, c, "", "cosign", "generate-key-pair")
	other := c
	other.dir = filepath.Join(c.dir, "other")
	if err := os.Mkdir(other.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	runCmd(t, other, "", "cosign", "generate-key-pair")
	runCmd(t, c, "", "cosign", "signing-config", "create", "--out", "signing-config.json")
	runCmd(t, c, "", "cosign", "trusted-root", "create", "--out", "trusted-root.json")

	runCmd(t, c, "", "cosign", "login", reg, "-u", "admin", "-p", env.password)
	res := runCmd(t, c, "", "cosign", "sign", "--yes", "--key", "cosign.key",
		"--signing-config", "signing-config.json", "--trusted-root", "trusted-root.json",
		"--allow-http-registry", reg+"/"+repo+"@"+signed)
	if strings.Contains(res.Stderr, "TUF") {
		t.Errorf("cosign sign reached for the TUF repository:\n%s", res.Stderr)
	}

	verify := func(key, digest string) (berthproc.Output, error) {
		return tryCmd(c, "", "cosign", "verify", "--key", key, "--insecure-ignore-tlog",
			"--trusted-root", "trusted-root.json", "--allow-http-registry", reg+"/"+repo+"@"+digest)
	}

	t.Run("verify", func(t *testing.T) {
		res, err := verify("cosign.pub", signed)
		if err != nil {
			t.Fatalf("cosign verify: %v\n%s%s", err, res.Stdout, res.Stderr)
		}
		var claims []struct {
			Critical struct {
				Identity struct {
					DockerReference string `json:"docker-reference"`
				} `json:"identity"`
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
			} `json:"critical"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &claims); err != nil {
			t.Fatalf("cosign verify output: %v\n%s", err, res.Stdout)
		}
		if len(claims) != 1 || claims[0].Critical.Image.Digest != signed {
			t.Errorf("cosign verify claims = %+v, want one for %s", claims, signed)
		}
	})

	t.Run("tamper", func(t *testing.T) {
		// Each must fail for its own reason, not for want of the registry.
		if res, err := verify(filepath.Join(other.dir, "cosign.pub"), signed); err == nil {
			t.Errorf("cosign verify with another key succeeded:\n%s", res.Stdout)
		} else if !strings.Contains(res.Stderr, "failed to verify signature") {
			t.Errorf("cosign verify with another key: want a signature failure, got:\n%s", res.Stderr)
		}
		if res, err := verify("cosign.pub", unsigned); err == nil {
			t.Errorf("cosign verify of an unsigned image succeeded:\n%s", res.Stdout)
		} else if !strings.Contains(res.Stderr, "no signatures found") {
			t.Errorf("cosign verify of an unsigned image: want no signatures found, got:\n%s", res.Stderr)
		}
	})

	t.Run("referrers", func(t *testing.T) {
		idx := referrers(t, repo, signed)
		var bundles []ociDescriptor
		for _, d := range idx.Manifests {
			if d.ArtifactType == bundleType {
				bundles = append(bundles, d)
			}
		}
		if len(bundles) != 1 {
			t.Fatalf("referrers of %s@%s = %+v, want one %s", repo, signed, idx.Manifests, bundleType)
		}
		if n := len(referrers(t, repo, unsigned).Manifests); n != 0 {
			t.Errorf("the unsigned image has %d referrers, want none", n)
		}
		checkBundle(t, repo, bundles[0].Digest, signed)

		// With referrers in place cosign must not have used the
		// sha256-<digest>.sig tag scheme.
		tags := tagList(t, repo)
		if diff := cmp.Diff([]string{"signed", "unsigned"}, tags); diff != "" {
			t.Errorf("tags of %s after signing (-want +got):\n%s", repo, diff)
		}
	})
}

// checkBundle reads the bundle manifest from berth and checks that its
// DSSE statement is about subject.
func checkBundle(t *testing.T, repo, bundle, subject string) {
	t.Helper()
	body, _ := manifest(t, repo, bundle)
	var man struct {
		ArtifactType string `json:"artifactType"`
		Subject      struct {
			Digest string `json:"digest"`
		} `json:"subject"`
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(body, &man); err != nil {
		t.Fatalf("bundle manifest: %v", err)
	}
	if man.Subject.Digest != subject {
		t.Errorf("bundle manifest subject = %s, want %s", man.Subject.Digest, subject)
	}
	if len(man.Layers) != 1 || man.Layers[0].MediaType != bundleType {
		t.Fatalf("bundle manifest layers = %+v, want one %s", man.Layers, bundleType)
	}
	status, b, _, err := adminRequest("GET", "/v2/"+repo+"/blobs/"+man.Layers[0].Digest, "", nil, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET bundle blob: %d %v", status, err)
	}
	var bundleDoc struct {
		MediaType    string `json:"mediaType"`
		DSSEEnvelope struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(b, &bundleDoc); err != nil {
		t.Fatalf("bundle: %v\n%s", err, b)
	}
	payload, err := base64.StdEncoding.DecodeString(bundleDoc.DSSEEnvelope.Payload)
	if err != nil {
		t.Fatalf("bundle payload: %v", err)
	}
	var statement struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(payload, &statement); err != nil {
		t.Fatalf("in-toto statement: %v\n%s", err, payload)
	}
	if len(statement.Subject) != 1 || "sha256:"+statement.Subject[0].Digest["sha256"] != subject {
		t.Errorf("signed statement is about %+v, want %s", statement.Subject, subject)
	}
}

func tagList(t *testing.T, repo string) []string {
	t.Helper()
	status, b, _, err := adminRequest("GET", "/v2/"+repo+"/tags/list", "", nil, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET tags of %s: %d %v %s", repo, status, err, b)
	}
	var list struct{ Tags []string }
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	slices.Sort(list.Tags)
	return list.Tags
}
