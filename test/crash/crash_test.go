// Package crash runs the real berth binary, kills it in the middle of
// work and starts it again on the same data, to prove DESIGN.md's
// invariant 4: nothing that was acknowledged is lost, nothing
// half-written becomes visible, and the server sweeps its own leftovers
// without a repair step.
//
// Environment:
//
//	BERTH_BIN   use this berth binary instead of building ./cmd/berth
package crash

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver, to read the rows berth wrote
	_ "modernc.org/sqlite"             // "sqlite" driver, likewise

	"github.com/berth-registry/berth/internal/testutil/berthproc"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// The binary under test, set once by TestMain. binFile keeps the built
// binary open after its directory is gone (see buildBerth).
var (
	berthBin string
	binFile  *os.File
)

func TestMain(m *testing.M) {
	bin, err := berthBinary()
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash: %v\n", err)
		os.Exit(1)
	}
	berthBin = bin
	pgtest.Main(m)
}

// berthBinary returns BERTH_BIN or builds ./cmd/berth.
func berthBinary() (string, error) {
	if bin, ok, err := berthproc.EnvBinary(false); ok || err != nil {
		return bin, err
	}
	return buildBerth()
}

// buildBerth builds the binary into a temporary directory. pgtest.Main
// ends the process without running deferred calls, so the directory is
// removed at once and the binary is run through an open descriptor
// (/proc/self/fd/N names it in the child until it execs). Where there is
// no /proc the directory is left behind.
func buildBerth() (string, error) {
	dir, err := os.MkdirTemp("", "berth-crash-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "berth")
	if err := berthproc.Build(bin); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return bin, nil
	}
	f, err := os.Open(bin)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	os.RemoveAll(dir)
	binFile = f
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd()), nil
}

// eachBackend runs f on SQLite (a file in the data dir) and on a fresh
// PostgreSQL database, in parallel.
func eachBackend(t *testing.T, f func(t *testing.T, dataDir, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		f(t, dir, filepath.Join(dir, "berth.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.DSN(t)
		f(t, t.TempDir(), dsn)
	})
}

// proc is one running berth process.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string // host:port it listens on
	base    string // http://addr
	client  *http.Client
	logPath string
	done    chan struct{} // closed when the process has exited
}

// The admin account every test talks as; "library" is the project that
// exists from the first start.
const (
	adminUser     = "admin"
	adminPassword = "Crash-test-0"
)

var servingRE = regexp.MustCompile(`msg="berth is serving".* addr=(\S+)`)

// start runs `berth serve` on a free loopback port and waits until it
// answers /healthz. The process is killed when the test ends, and its log
// is shown when the test failed.
func start(t *testing.T, dataDir, dsn string, env ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "berth.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{w: logFile, ready: make(chan string, 1)}
	cmd := exec.Command(berthBin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--tls=off", "--database", dsn)
	cmd.Env = append(hermeticEnv(), "BERTH_LOG_FORMAT=text", "BERTH_ADMIN_PASSWORD="+adminPassword)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = sink
	cmd.Stderr = sink
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start berth: %v", err)
	}
	p := &proc{
		t:       t,
		cmd:     cmd,
		logPath: logPath,
		done:    make(chan struct{}),
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true},
		},
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		p.client.CloseIdleConnections()
		logFile.Close()
		if t.Failed() {
			t.Logf("berth log %s, last lines:\n%s", logPath, tail(logPath, 30))
		}
	})
	select {
	case p.addr = <-sink.ready:
	case <-p.done:
		t.Fatalf("berth exited during start-up (%v):\n%s", cmd.ProcessState, tail(logPath, 30))
	case <-time.After(30 * time.Second):
		t.Fatalf("berth did not log that it is serving within 30s:\n%s", tail(logPath, 30))
	}
	p.base = "http://" + p.addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := p.client.Get(p.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth on %s: /healthz did not answer 200 within 10s (%v)", p.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hermeticEnv is this process's environment without BERTH_ settings, so
// that a developer's configuration cannot change what is tested.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_") {
			env = append(env, kv)
		}
	}
	return env
}

// kill ends the process with SIGKILL (if it still runs) and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("berth pid %d did not exit 10s after SIGKILL", p.cmd.Process.Pid)
	}
}

// exited waits up to d for the process to end and returns its exit code,
// or -1 and false when it is still running.
func (p *proc) exited(d time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(d):
		return -1, false
	}
}

func (p *proc) signal(s syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatalf("signal %v to berth: %v", s, err)
	}
}

// reply is a complete HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) errCode() string {
	var b struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(r.Body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

// send makes one request. body may be nil, a []byte (sent with its
// Content-Length) or an io.Reader (streamed with chunked encoding). hdr
// holds header name and value pairs. Only transport failures are errors.
func (p *proc) send(method, path string, body any, hdr ...string) (reply, error) {
	var rd io.Reader
	length := int64(0)
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, length = bytes.NewReader(b), int64(len(b))
	case io.Reader:
		rd, length = b, -1
	default:
		panic(fmt.Sprintf("send: body of type %T", body))
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.ContentLength = length
	req.SetBasicAuth(adminUser, adminPassword)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := p.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// must is send for the test goroutine: a transport failure is fatal.
func (p *proc) must(method, path string, body any, hdr ...string) reply {
	p.t.Helper()
	r, err := p.send(method, path, body, hdr...)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// logSink copies berth's output to a file and reports the address from
// the "berth is serving" line.
type logSink struct {
	mu      sync.Mutex
	w       io.Writer
	partial []byte
	ready   chan string
	found   bool
}

func (s *logSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err != nil {
		return 0, err
	}
	if s.found {
		return len(b), nil
	}
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := s.partial[:i]
		s.partial = s.partial[i+1:]
		if m := servingRE.FindSubmatch(line); m != nil {
			s.found = true
			s.partial = nil
			s.ready <- string(m[1])
			break
		}
	}
	return len(b), nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string { return berthproc.Tail(path, n) }

// withQuery adds a query parameter to a Location value.
func withQuery(loc, key, value string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// content is the deterministic data of a layer, so that the test can
// remember what it pushed by seed instead of holding every byte.
func content(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// blobSpec describes a pushed blob: data, or content(seed, size).
type blobSpec struct {
	Digest string
	Size   int
	Seed   uint64
	Data   []byte
}

func (b blobSpec) bytes() []byte {
	if b.Data != nil {
		return b.Data
	}
	return content(b.Seed, b.Size)
}

func newBlob(seed uint64, size int) blobSpec {
	return blobSpec{Digest: sha256Digest(content(seed, size)), Size: size, Seed: seed}
}

func dataBlob(b []byte) blobSpec { return blobSpec{Digest: sha256Digest(b), Size: len(b), Data: b} }

// image is a pushed image.
type image struct {
	Repo, Tag, Digest string
	Manifest          []byte
	Blobs             []blobSpec // config first
}

type repoBlob struct {
	Repo string
	Blob blobSpec
}

// ledger records what berth acknowledged, and every answer that no
// correct server would give.
type ledger struct {
	mu          sync.Mutex
	images      []image
	blobs       []repoBlob
	abandoned   []string // Locations of upload sessions left unfinished
	problems    []string
	interrupted int // requests cut off by the kill
}

func (l *ledger) problem(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.problems = append(l.problems, msg)
	l.mu.Unlock()
	return errors.New(msg)
}

// Shared layers are pushed by every worker into many repositories at
// once, so that concurrent commits of one digest are killed too.
var sharedLayers = func() []blobSpec {
	var out []blobSpec
	for i := range 4 {
		out = append(out, newBlob(uint64(1000+i), 3000+i*200_000))
	}
	return out
}()

const sharedRepo = "library/crash/shared"

// worker pushes images in a loop until the server stops answering.
type worker struct {
	p     *proc
	led   *ledger
	r     *rand.Rand
	id    int
	cycle int
}

// expect checks an answer; a wrong one is recorded as a problem.
func (w *worker) expect(r reply, status int, what string) error {
	if r.Status != status {
		return w.led.problem("%s: status %d, want %d: %s", what, r.Status, status, bytes.TrimSpace(r.Body))
	}
	return nil
}

// call sends a request; a transport failure means the server is gone.
func (w *worker) call(method, path string, body any, hdr ...string) (reply, error) {
	r, err := w.p.send(method, path, body, hdr...)
	if err != nil {
		w.led.mu.Lock()
		w.led.interrupted++
		w.led.mu.Unlock()
	}
	return r, err
}

func (w *worker) run(stop <-chan struct{}) {
	for i := 0; i < 500; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if i%3 == 1 {
			if err := w.abandonUpload(); err != nil {
				return
			}
		}
		if err := w.pushImage(i); err != nil {
			return
		}
	}
}

// layerSize is log-uniform between 1 KiB and 2 MiB: mostly small, some large.
func (w *worker) layerSize() int {
	return int(1024 * math.Pow(2048, w.r.Float64()))
}

func (w *worker) pushImage(i int) error {
	repo := fmt.Sprintf("library/crash/w%d", w.id)
	if i%2 == 1 {
		repo = sharedRepo
	}
	tag := fmt.Sprintf("c%d-w%d-i%d", w.cycle, w.id, i)
	cfg := dataBlob([]byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"crash":%q}`, tag)))
	blobs := []blobSpec{cfg}
	for range 2 + w.r.IntN(2) {
		if w.r.IntN(4) == 0 {
			blobs = append(blobs, sharedLayers[w.r.IntN(len(sharedLayers))])
		} else {
			blobs = append(blobs, newBlob(w.r.Uint64(), w.layerSize()))
		}
	}
	for _, b := range blobs {
		if err := w.pushBlob(repo, b); err != nil {
			return err
		}
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json"}
	m.Config = desc{"application/vnd.oci.image.config.v1+json", cfg.Digest, cfg.Size}
	for _, b := range blobs[1:] {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar", b.Digest, b.Size})
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	r, err := w.call("PUT", "/v2/"+repo+"/manifests/"+tag, body, "Content-Type", m.MediaType)
	if err != nil {
		return err
	}
	if err := w.expect(r, http.StatusCreated, "PUT manifest "+repo+":"+tag); err != nil {
		return err
	}
	d := sha256Digest(body)
	if got := r.Header.Get("Docker-Content-Digest"); got != d {
		return w.led.problem("PUT manifest %s:%s: Docker-Content-Digest %q, want %s", repo, tag, got, d)
	}
	w.led.mu.Lock()
	w.led.images = append(w.led.images, image{Repo: repo, Tag: tag, Digest: d, Manifest: body, Blobs: blobs})
	w.led.mu.Unlock()
	return nil
}

// pushBlob uploads b by one of the ways the spec allows, picked at random.
func (w *worker) pushBlob(repo string, b blobSpec) error {
	data := b.bytes()
	uploads := "/v2/" + repo + "/blobs/uploads/"
	what := fmt.Sprintf("push %s to %s", b.Digest, repo)
	method := w.r.IntN(5)
	var r reply
	var err error
	if method == 0 {
		// Monolithic POST.
		if r, err = w.call("POST", uploads+"?digest="+b.Digest, data, "Content-Type", "application/octet-stream"); err != nil {
			return err
		}
		return w.blobDone(r, repo, b, what+" (monolithic POST)")
	}
	if method == 4 && b.Seed >= 1000 && b.Seed < 1000+uint64(len(sharedLayers)) && repo != sharedRepo {
		// Mount from the shared repository, uploading if it is not there.
		q := url.Values{"mount": {b.Digest}, "from": {sharedRepo}}
		if r, err = w.call("POST", uploads+"?"+q.Encode(), nil); err != nil {
			return err
		}
		if r.Status == http.StatusCreated {
			return w.blobDone(r, repo, b, what+" (mount)")
		}
	} else if r, err = w.call("POST", uploads, nil); err != nil {
		return err
	}
	if err := w.expect(r, http.StatusAccepted, what+": POST"); err != nil {
		return err
	}
	loc := r.Header.Get("Location")
	switch method {
	case 1:
		// Chunks with Content-Range, then an empty PUT.
		for off := 0; off < len(data); {
			n := min(len(data)-off, 64<<10+w.r.IntN(512<<10))
			r, err = w.call("PATCH", loc, data[off:off+n],
				"Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
			if err != nil {
				return err
			}
			if err := w.expect(r, http.StatusAccepted, what+": PATCH chunk"); err != nil {
				return err
			}
			off += n
			if got, want := r.Header.Get("Range"), fmt.Sprintf("0-%d", off-1); got != want {
				return w.led.problem("%s: PATCH chunk: Range %q, want %q", what, got, want)
			}
			loc = r.Header.Get("Location")
		}
		r, err = w.call("PUT", withQuery(loc, "digest", b.Digest), nil)
	case 2:
		// One streamed PATCH (chunked transfer encoding), then an empty PUT.
		r, err = w.call("PATCH", loc, bytes.NewReader(data), "Content-Type", "application/octet-stream")
		if err != nil {
			return err
		}
		if err := w.expect(r, http.StatusAccepted, what+": streamed PATCH"); err != nil {
			return err
		}
		r, err = w.call("PUT", withQuery(r.Header.Get("Location"), "digest", b.Digest), nil)
	default:
		// Everything in the closing PUT.
		r, err = w.call("PUT", withQuery(loc, "digest", b.Digest), data, "Content-Type", "application/octet-stream")
	}
	if err != nil {
		return err
	}
	return w.blobDone(r, repo, b, what)
}

// blobDone checks the answer that completes a blob and records it.
func (w *worker) blobDone(r reply, repo string, b blobSpec, what string) error {
	if err := w.expect(r, http.StatusCreated, what); err != nil {
		return err
	}
	if got := r.Header.Get("Docker-Content-Digest"); got != b.Digest {
		return w.led.problem("%s: Docker-Content-Digest %q", what, got)
	}
	w.led.mu.Lock()
	w.led.blobs = append(w.led.blobs, repoBlob{Repo: repo, Blob: b})
	w.led.mu.Unlock()
	return nil
}

// abandonUpload starts a session, sends one chunk and walks away.
func (w *worker) abandonUpload() error {
	repo := fmt.Sprintf("library/crash/w%d", w.id)
	r, err := w.call("POST", "/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return err
	}
	if err := w.expect(r, http.StatusAccepted, "POST abandoned upload"); err != nil {
		return err
	}
	n := 1 + w.r.IntN(64<<10)
	r, err = w.call("PATCH", r.Header.Get("Location"), content(w.r.Uint64(), n),
		"Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("0-%d", n-1))
	if err != nil {
		return err
	}
	if err := w.expect(r, http.StatusAccepted, "PATCH abandoned upload"); err != nil {
		return err
	}
	w.led.mu.Lock()
	w.led.abandoned = append(w.led.abandoned, r.Header.Get("Location"))
	w.led.mu.Unlock()
	return nil
}

// pushUntilKilled runs the workers against p and kills p with SIGKILL
// after delay, while they are still pushing.
func pushUntilKilled(t *testing.T, p *proc, led *ledger, cycle int, seed uint64, delay time.Duration) {
	const workers = 8
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := range workers {
		w := &worker{p: p, led: led, r: rand.New(rand.NewPCG(seed, uint64(cycle*workers+id))), id: id, cycle: cycle}
		wg.Go(func() { w.run(stop) })
	}
	time.Sleep(delay)
	p.kill()
	close(stop)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(40 * time.Second):
		t.Fatal("push workers did not stop within 40s of the kill")
	}
}

func TestKillDuringPushes(t *testing.T) {
	eachBackend(t, func(t *testing.T, dataDir, dsn string) {
		seed := rand.Uint64()
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, math.MaxUint64))
		// A session untouched for longer than this is swept at start-up.
		const expiry = time.Second
		env := []string{"BERTH_UPLOADS_EXPIRY=" + expiry.String()}
		led := &ledger{}
		p := start(t, dataDir, dsn, env...)
		for cycle := range 3 {
			delay := time.Second + time.Duration(r.Int64N(int64(2*time.Second)))
			pushUntilKilled(t, p, led, cycle, seed, delay)
			for _, msg := range led.problems {
				t.Errorf("cycle %d: %s", cycle, msg)
			}
			if t.Failed() {
				return
			}
			t.Logf("cycle %d: killed after %v; so far %d images and %d blob uploads acknowledged, %d sessions abandoned, %d requests cut off",
				cycle, delay.Round(time.Millisecond), len(led.images), len(led.blobs), len(led.abandoned), led.interrupted)
			// Let every session left behind outlive the expiry.
			time.Sleep(expiry + 500*time.Millisecond)
			planted := plantLeftovers(t, dataDir, cycle)
			p = start(t, dataDir, dsn, env...)
			verifyAcknowledged(t, p, led)
			verifyVisible(t, p, dataDir, dsn)
			verifySwept(t, p, dataDir, dsn, led, planted)
			if t.Failed() {
				return
			}
		}
	})
}

// checker fetches and checks content, each (repository, digest) once.
type checker struct {
	t    *testing.T
	p    *proc
	seen map[string]bool
}

// blob checks that digest d of repo is served whole and correct; want
// may be nil when only the digest is known.
func (c *checker) blob(repo, d string, size int, want []byte) {
	c.t.Helper()
	key := repo + "@" + d
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	r := c.p.must("GET", "/v2/"+repo+"/blobs/"+d, nil)
	if r.Status != http.StatusOK {
		c.t.Errorf("GET blob %s@%s: status %d: %s", repo, d, r.Status, bytes.TrimSpace(r.Body))
		return
	}
	if got := r.Header.Get("Docker-Content-Digest"); got != d {
		c.t.Errorf("GET blob %s@%s: Docker-Content-Digest %q", repo, d, got)
	}
	switch {
	case want != nil && !bytes.Equal(r.Body, want):
		c.t.Errorf("GET blob %s@%s: %d bytes differ from the %d pushed", repo, d, len(r.Body), len(want))
	case sha256Digest(r.Body) != d:
		c.t.Errorf("GET blob %s@%s: content hashes to %s", repo, d, sha256Digest(r.Body))
	case size >= 0 && len(r.Body) != size:
		c.t.Errorf("GET blob %s@%s: %d bytes, want %d", repo, d, len(r.Body), size)
	}
}

// manifest checks that ref resolves in repo to a manifest whose blobs are
// all served correctly, and returns its content.
func (c *checker) manifest(repo, ref string) []byte {
	c.t.Helper()
	r := c.p.must("GET", "/v2/"+repo+"/manifests/"+ref, nil,
		"Accept", "application/vnd.oci.image.manifest.v1+json")
	if r.Status != http.StatusOK {
		c.t.Errorf("GET manifest %s:%s: status %d: %s", repo, ref, r.Status, bytes.TrimSpace(r.Body))
		return nil
	}
	d := sha256Digest(r.Body)
	if got := r.Header.Get("Docker-Content-Digest"); got != d {
		c.t.Errorf("GET manifest %s:%s: Docker-Content-Digest %q, content hashes to %s", repo, ref, got, d)
	}
	var m struct {
		Config struct {
			Digest string
			Size   int
		}
		Layers []struct {
			Digest string
			Size   int
		}
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		c.t.Errorf("GET manifest %s:%s: %v", repo, ref, err)
		return nil
	}
	c.blob(repo, m.Config.Digest, m.Config.Size, nil)
	for _, l := range m.Layers {
		c.blob(repo, l.Digest, l.Size, nil)
	}
	return r.Body
}

// verifyAcknowledged: every acknowledged push pulls back byte for byte.
func verifyAcknowledged(t *testing.T, p *proc, led *ledger) {
	t.Helper()
	c := &checker{t: t, p: p, seen: map[string]bool{}}
	for _, img := range led.images {
		for _, ref := range []string{img.Tag, img.Digest} {
			r := p.must("GET", "/v2/"+img.Repo+"/manifests/"+ref, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			if r.Status != http.StatusOK {
				t.Errorf("acknowledged manifest %s:%s: status %d: %s", img.Repo, ref, r.Status, bytes.TrimSpace(r.Body))
				continue
			}
			if !bytes.Equal(r.Body, img.Manifest) || r.Header.Get("Docker-Content-Digest") != img.Digest {
				t.Errorf("acknowledged manifest %s:%s: got %d bytes with digest %q, want %d bytes with %s",
					img.Repo, ref, len(r.Body), r.Header.Get("Docker-Content-Digest"), len(img.Manifest), img.Digest)
			}
		}
		for _, b := range img.Blobs {
			c.blob(img.Repo, b.Digest, b.Size, b.bytes())
		}
	}
	for _, rb := range led.blobs {
		c.blob(rb.Repo, rb.Blob.Digest, rb.Blob.Size, rb.Blob.bytes())
	}
}

// list follows a paginated listing and returns every item under key.
func list(t *testing.T, p *proc, path, key string) []string {
	t.Helper()
	var out []string
	for range 1000 {
		r := p.must("GET", path, nil)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s: status %d: %s", path, r.Status, bytes.TrimSpace(r.Body))
			return out
		}
		var page map[string]json.RawMessage
		var items []string
		if err := json.Unmarshal(r.Body, &page); err != nil || json.Unmarshal(page[key], &items) != nil {
			t.Errorf("GET %s: body %s", path, r.Body)
			return out
		}
		out = append(out, items...)
		link := r.Header.Get("Link")
		if link == "" {
			return out
		}
		start, end := strings.IndexByte(link, '<'), strings.IndexByte(link, '>')
		if start < 0 || end < start {
			t.Errorf("GET %s: Link %q", path, link)
			return out
		}
		path = link[start+1 : end]
	}
	t.Errorf("listing %s did not end", path)
	return out
}

// openSQL opens the metadata database berth uses, read-only on SQLite.
func openSQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, src := "pgx", dsn
	if !strings.HasPrefix(dsn, "postgres://") {
		driver, src = "sqlite", "file:"+dsn+"?mode=ro&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatalf("open %s database: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rows runs a query whose columns are all text or integers, as strings.
func rows(t *testing.T, db *sql.DB, query string) [][]string {
	t.Helper()
	rs, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rs.Next() {
		row := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// blobFile is where the fs store keeps a committed blob: the store's root
// is <data-dir>/blobs, and blobs sit at <root>/blobs/<alg>/<2 hex>/<hex>.
func blobFile(dataDir, d string) string {
	alg, h, _ := strings.Cut(d, ":")
	if len(h) < 2 {
		return filepath.Join(dataDir, "blobs", "blobs", alg, "invalid")
	}
	return filepath.Join(dataDir, "blobs", "blobs", alg, h[:2], h)
}

// verifyVisible: whatever the API and the database show is whole.
func verifyVisible(t *testing.T, p *proc, dataDir, dsn string) {
	t.Helper()
	c := &checker{t: t, p: p, seen: map[string]bool{}}
	repos := list(t, p, "/v2/_catalog?n=50", "repositories")
	if len(repos) == 0 {
		t.Error("the catalog is empty after pushes were acknowledged")
	}
	for _, repo := range repos {
		for _, tag := range list(t, p, "/v2/"+repo+"/tags/list?n=100", "tags") {
			c.manifest(repo, tag)
		}
	}
	db := openSQL(t, dsn)
	// Untagged manifests too (a PUT whose answer the kill swallowed).
	for _, row := range rows(t, db, `SELECT r.name, m.digest FROM manifests m JOIN repositories r ON r.id = m.repo_id`) {
		c.manifest(row[0], row[1])
	}
	for _, row := range rows(t, db, `SELECT r.name, l.digest FROM repo_blobs l JOIN repositories r ON r.id = l.repo_id`) {
		c.blob(row[0], row[1], -1, nil)
	}
	// No row says bytes exist that are not there, whole, under the digest.
	blobRows := rows(t, db, `SELECT digest, size, state FROM blobs`)
	for _, row := range blobRows {
		d, state := row[0], row[2]
		size, _ := strconv.ParseInt(row[1], 10, 64)
		if state != "live" {
			t.Errorf("blob %s is in state %q with no garbage collection running", d, state)
		}
		f, err := os.Open(blobFile(dataDir, d))
		if err != nil {
			t.Errorf("blob row %s has no file: %v", d, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil || n != size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != d {
			t.Errorf("blob %s: the file holds %d bytes (row says %d) hashing to sha256:%x (%v)", d, n, size, h.Sum(nil), err)
		}
	}
	t.Logf("visible: %d repositories, %d blob rows, %d (repository, digest) pairs fetched", len(repos), len(blobRows), len(c.seen))
}

// plantLeftovers adds what a crash at a worse moment would leave: the
// temporary file of an interrupted Put, an hour old, and upload data
// whose session row is gone. It returns their paths.
func plantLeftovers(t *testing.T, dataDir string, cycle int) []string {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	paths := []string{
		filepath.Join(dataDir, "blobs", "tmp", fmt.Sprintf("put-crash%d", cycle)),
		filepath.Join(dataDir, "blobs", "uploads", fmt.Sprintf("00000000-0000-4000-8000-%012d", cycle)),
	}
	for _, p := range paths {
		if err := os.WriteFile(p, []byte("left behind"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// verifySwept: sessions left unfinished before the kill are gone soon
// after the restart, rows and data alike, and so are planted leftovers.
func verifySwept(t *testing.T, p *proc, dataDir, dsn string, led *ledger, planted []string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the start-up sweep to remove "+strings.Join(planted, ", "), func() bool {
		for _, f := range planted {
			if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
				return false
			}
		}
		return true
	})
	db := openSQL(t, dsn)
	uploadDir := filepath.Join(dataDir, "blobs", "uploads")
	var sessions int
	var files []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := db.QueryRow(`SELECT count(*) FROM uploads`).Scan(&sessions); err != nil {
			t.Fatalf("count uploads: %v", err)
		}
		files = files[:0]
		entries, err := os.ReadDir(uploadDir)
		if err != nil {
			t.Fatalf("read %s: %v", uploadDir, err)
		}
		for _, e := range entries {
			files = append(files, e.Name())
		}
		if sessions == 0 && len(files) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("10s after the restart: %d upload sessions and %d files in %s remain: %v", sessions, len(files), uploadDir, files)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, loc := range led.abandoned {
		r := p.must("GET", loc, nil)
		if r.Status != http.StatusNotFound || r.errCode() != "BLOB_UPLOAD_UNKNOWN" {
			t.Errorf("GET abandoned upload %s: status %d code %q, want 404 BLOB_UPLOAD_UNKNOWN", loc, r.Status, r.errCode())
		}
	}
}
