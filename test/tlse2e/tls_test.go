package tlse2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const cmdTimeout = 2 * time.Minute

// TestDefaultHTTPS starts berth with no TLS flag at all and checks, with
// each strict client, that it is refused before the CA from berth's own
// download endpoint is trusted and accepted after.
func TestDefaultHTTPS(t *testing.T) {
	b := startBerth(t, berthOpts{name: "default"})
	base := "https://" + b.addr
	_, port, _ := net.SplitHostPort(b.addr)

	// Go with the system pool: unknown authority.
	_, err := plainClient.Get(base + "/v2/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("GET with the system roots: %v, want x509.UnknownAuthorityError", err)
	}
	// Plain HTTP on the HTTPS port is refused.
	if resp, err := plainClient.Get("http://" + b.addr + "/v2/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %s, want 400", resp.Status)
		}
	}

	// Bootstrap: the CA, fetched without verification as a person does
	// once (and then compares the fingerprint out of band: berth ca).
	caPEM := fetchCA(t, base+"/api/v2.0/systeminfo/getcert")
	if other := fetchCA(t, base+"/ca.crt"); !bytes.Equal(other, caPEM) {
		t.Errorf("/ca.crt differs from getcert")
	}
	printed := mustRun(t, cmdTimeout, os.Environ(), "", berthBin, "ca", "--data-dir", b.dataDir)
	if printed.stdout != string(caPEM) {
		t.Errorf("berth ca printed\n%s\nwant the downloaded CA\n%s", printed.stdout, caPEM)
	}
	if file, err := os.ReadFile(filepath.Join(b.dataDir, "tls", "ca.crt")); err != nil || !bytes.Equal(file, caPEM) {
		t.Errorf("<data-dir>/tls/ca.crt: %v, or differs from the downloaded CA", err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	writeFile(t, caFile, caPEM)
	otherCA := filepath.Join(dir, "other-ca.crt")
	otherCert, _ := makeCA(t)
	writeFile(t, otherCA, otherCert)

	t.Run("go", func(t *testing.T) {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(caPEM) {
			t.Fatal("CA does not parse")
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
		}}
		for _, host := range []string{"127.0.0.1", "localhost"} {
			req, _ := http.NewRequest("GET", "https://"+net.JoinHostPort(host, port)+"/v2/", nil)
			req.SetBasicAuth("admin", b.password)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET via %s with the CA: %v", host, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("GET via %s: %s %s TLS %x, want 200 over HTTP/2 and TLS 1.2+", host, resp.Proto, resp.Status, resp.TLS.Version)
			}
		}
		// TLS 1.1 is refused even to a client that trusts the CA.
		_, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", b.addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("TLS 1.1 handshake: %v, want a protocol version alert", err)
		}
	})

	t.Run("curl", func(t *testing.T) {
		url := base + "/v2/"
		// curl's own trust store, then a CA that is not berth's: exit 60.
		for _, args := range [][]string{{url}, {"--cacert", otherCA, url}} {
			r := run(cmdTimeout, os.Environ(), "", "curl", append([]string{"-sS", "-o", "/dev/null"}, args...)...)
			if r.exitCode() != 60 {
				t.Errorf("curl %s: exit %d, want 60 (peer certificate cannot be authenticated)\n%s", args, r.exitCode(), r)
			}
		}
		creds := "admin:" + b.password
		r := mustRun(t, cmdTimeout, os.Environ(), "", "curl", "-sS", "-o", "/dev/null", "-u", creds,
			"-w", "%{http_code} %{http_version}", "--cacert", caFile, url)
		if r.stdout != "200 2" {
			t.Errorf("curl --cacert: %q, want status 200 over HTTP/2", r.stdout)
		}
		r = mustRun(t, cmdTimeout, os.Environ(), "", "curl", "-sS", "-o", "/dev/null", "-u", creds,
			"-w", "%{http_code}", "--cacert", caFile, "https://localhost:"+port+"/v2/")
		if r.stdout != "200" {
			t.Errorf("curl --cacert via localhost: %q, want 200", r.stdout)
		}
	})

	t.Run("skopeo", func(t *testing.T) {
		layout, manifestDigest := ociLayout(t)
		dest := "docker://" + b.addr + "/library/tls-skopeo:v1"
		empty, trusted := t.TempDir(), t.TempDir()
		creds := "admin:" + b.password
		writeFile(t, filepath.Join(trusted, "ca.crt"), caPEM)

		r := mustFail(t, cmdTimeout, os.Environ(), "", []string{"x509", "certificate"},
			"skopeo", "copy", "--insecure-policy", "--dest-creds", creds, "--dest-cert-dir", empty, "oci:"+layout+":v1", dest)
		t.Logf("skopeo copy without the CA: %s", strings.TrimSpace(r.stderr))
		mustRun(t, cmdTimeout, os.Environ(), "", "skopeo", "copy", "--insecure-policy", "--preserve-digests",
			"--dest-creds", creds, "--dest-cert-dir", trusted, "oci:"+layout+":v1", dest)
		r = mustRun(t, cmdTimeout, os.Environ(), "", "skopeo", "inspect", "--creds", creds, "--cert-dir", trusted, dest)
		var got struct{ Digest string }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("skopeo inspect: %v\n%s", err, r.stdout)
		}
		if got.Digest != manifestDigest {
			t.Errorf("pushed manifest digest %s, want %s", got.Digest, manifestDigest)
		}
		mustFail(t, cmdTimeout, os.Environ(), "", []string{"x509", "certificate"},
			"skopeo", "inspect", "--creds", creds, "--cert-dir", empty, dest)
	})

	// A restart serves the same CA and server certificate.
	leaf := servedLeaf(t, b.addr)
	b.stop(t)
	b2 := startBerth(t, berthOpts{name: "default", addr: b.addr, dataDir: b.dataDir})
	if again := fetchCA(t, "https://"+b2.addr+"/api/v2.0/systeminfo/getcert"); !bytes.Equal(again, caPEM) {
		t.Errorf("CA changed across a restart")
	}
	if got := servedLeaf(t, b2.addr); !bytes.Equal(got.Raw, leaf.Raw) {
		t.Errorf("server certificate changed across a restart")
	}
}

func TestTLSOff(t *testing.T) {
	b := startBerth(t, berthOpts{name: "off", args: []string{"--tls=off"}, scheme: "http"})
	req, _ := http.NewRequest("GET", "http://"+b.addr+"/v2/", nil)
	req.SetBasicAuth("admin", b.password)
	resp, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ over plain HTTP: %s", resp.Status)
	}
	if _, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", b.addr, &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("TLS handshake with --tls=off succeeded")
	}
	resp, err = plainClient.Get("http://" + b.addr + "/api/v2.0/systeminfo/getcert")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var harbor struct {
		Errors []struct{ Code, Message string }
	}
	if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &harbor) != nil ||
		len(harbor.Errors) != 1 || harbor.Errors[0].Code != "NOT_FOUND" {
		t.Errorf("getcert with --tls=off: %s %s, want 404 with a Harbor NOT_FOUND error", resp.Status, body)
	}
	if _, err := os.Stat(filepath.Join(b.dataDir, "tls")); !os.IsNotExist(err) {
		t.Errorf("--tls=off made %s/tls (%v)", b.dataDir, err)
	}
}

// TestProvidedCertificate configures a certificate and key by file,
// replaces both while berth runs and sends SIGHUP: the next handshake
// shows the new certificate, with no restart.
func TestProvidedCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	caA, keyA := makeCA(t)
	certA, leafKeyA := makeLeaf(t, caA, keyA, "first.example")
	writeFile(t, certFile, certA)
	writeFile(t, keyFile, leafKeyA)

	b := startBerth(t, berthOpts{name: "provided",
		env: []string{"BERTH_TLS_CERT=" + certFile, "BERTH_TLS_KEY=" + keyFile}})
	if got := servedLeaf(t, b.addr); got.Subject.CommonName != "first.example" {
		t.Fatalf("served %q, want the configured first.example", got.Subject.CommonName)
	}
	resp, err := insecureClient().Get("https://" + b.addr + "/api/v2.0/systeminfo/getcert")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("getcert with a provided certificate: %s, want 404", resp.Status)
	}

	certB, leafKeyB := makeLeaf(t, caA, keyA, "second.example")
	writeFile(t, keyFile, leafKeyB)
	writeFile(t, certFile, certB)
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for servedLeaf(t, b.addr).Subject.CommonName != "second.example" {
		if time.Now().After(deadline) {
			t.Fatalf("still serving the first certificate 15s after SIGHUP\n%s", tail(b.log, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-b.exited:
		t.Fatalf("berth exited after SIGHUP: %v", b.proc.Wait())
	default:
	}
	if log, _ := os.ReadFile(b.log); !bytes.Contains(log, []byte("SIGHUP: reloading TLS certificate")) {
		t.Errorf("log does not show the SIGHUP reload:\n%s", tail(b.log, 20))
	}
}

// plainClient is net/http's default client (system roots) with a bound.
var plainClient = &http.Client{Timeout: 10 * time.Second}

func insecureClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
}

// fetchCA downloads the CA from url without verifying the server, and
// checks that it comes as Harbor sends it.
func fetchCA(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := insecureClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="ca.crt"` {
		t.Errorf("GET %s: Content-Disposition %q", url, cd)
	}
	blk, rest := pem.Decode(body)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("GET %s: not one PEM certificate:\n%s", url, body)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("GET %s: not a CA certificate (%v)", url, err)
	}
	return body
}

// servedLeaf returns the certificate berth shows in a handshake.
func servedLeaf(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// makeCA makes a CA standing in for one an operator already has.
func makeCA(t *testing.T) (certPEM []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tlse2e operator CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key
}

// makeLeaf makes a server certificate for cn (and loopback) signed by
// the CA.
func makeLeaf(t *testing.T, caPEM []byte, caKey *ecdsa.PrivateKey, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	blk, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{cn, "localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// ociLayout writes a one-layer image as an OCI image layout tagged v1
// and returns the directory and the manifest digest.
func ociLayout(t *testing.T) (dir, manifestDigest string) {
	t.Helper()
	dir = t.TempDir()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		hexSum := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(blobs, hexSum), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + hexSum, len(b)
	}

	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	content := []byte("hello from " + t.Name() + " at " + time.Now().String() + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	diffID := sha256.Sum256(layerTar.Bytes())
	var layerGz bytes.Buffer
	zw := gzip.NewWriter(&layerGz)
	zw.Write(layerTar.Bytes())
	zw.Close()
	layerDigest, layerSize := put(layerGz.Bytes())

	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	configDigest, configSize := put(config)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest, "size": configSize},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
			"digest": layerDigest, "size": layerSize}},
	})
	manifestDigest, manifestSize := put(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json",
			"digest": manifestDigest, "size": manifestSize,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "v1"}}},
	})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, manifestDigest
}
