// Package matrix proves berth's permission matrix over HTTP: every kind of
// caller (anonymous, system administrator, each of Harbor's five roles, a
// non-member, a disabled user, robots) against every protected action, in
// a public and in a private project, on SQLite and on PostgreSQL, through
// the very handler `berth serve` runs (app.NewHandler). Each cell asserts
// the status and then the state: the effect when the action was allowed,
// nothing changed when it was refused.
package matrix

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// password is every account's password and every robot's secret.
const password = "Matrix0Passw0rd"

// sourceHeader lets a request choose the client address the server sees.
// Failed logins are slowed down per address and per account; giving each
// cell its own address and accounts keeps one cell's refusals from
// throttling another's.
const sourceHeader = "X-Matrix-Source"

// fastHash hashes like access.HashSecret but with the smallest work factor
// access.VerifySecret accepts. Stored hashes carry their own count, so
// this is a hash berth accepts; the real factor would spend minutes of CPU
// on the matrix's hundreds of accounts.
func fastHash(t testing.TB, secret string) string {
	t.Helper()
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, secret, salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawStdEncoding
	h := "pbkdf2_sha256$1000$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key)
	if !access.VerifySecret(h, secret) {
		t.Fatal("fastHash no longer makes hashes that access.VerifySecret accepts")
	}
	return h
}

// env is one berth, in process, over a fresh database.
type env struct {
	ctx    context.Context
	db     *meta.DB // a second handle on berth's database, for fixtures and checks
	srv    *httptest.Server
	hash   string    // fastHash(password), shared by every account
	admin  meta.User // the system administrator
	target meta.User // a user that cells add as a member
	subnet byte      // second octet of this env's client addresses
	seq    atomic.Int64
}

func newEnv(t *testing.T, dsn, dir string, subnet byte) *env {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{ctx: ctx, db: db, hash: fastHash(t, password), subnet: subnet}
	// The admin exists before berth starts, so its first-start bootstrap
	// leaves it alone (and prints no generated password).
	if e.admin, err = db.Q().CreateUser(ctx, meta.User{Username: access.AdminName, PasswordHash: e.hash, SysAdmin: true}); err != nil {
		t.Fatal(err)
	}
	e.target = e.user(t, "target")
	cfg, err := config.Load([]string{"--data-dir", dir, "--database", dsn, "--tls", "off"}, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h, closeApp, err := app.NewHandler(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("app.NewHandler: %v", err)
	}
	t.Cleanup(closeApp)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.Header.Get(sourceHeader); s != "" {
			r.RemoteAddr = net.JoinHostPort(s, "40000")
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// user creates an account with password.
func (e *env) user(t testing.TB, name string) meta.User {
	t.Helper()
	u, err := e.db.Q().CreateUser(e.ctx, meta.User{Username: name, PasswordHash: e.hash})
	if err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// nextSource returns a client address no other cell uses.
func (e *env) nextSource() (int64, string) {
	n := e.seq.Add(1)
	return n, fmt.Sprintf("10.%d.%d.%d", e.subnet, n>>8&255, n&255)
}

// authz is how a request authenticates: Basic credentials, a bearer
// token, or neither; and from which address it comes.
type authz struct {
	user, pass string
	bearer     string
	source     string
}

func (a authz) withBearer(tok string) authz { return authz{bearer: tok, source: a.source} }

func (e *env) adminAuth() authz {
	return authz{user: access.AdminName, pass: password, source: "10.250.0.1"}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	b := r.body
	if len(b) > 300 {
		b = b[:300]
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(b))
}

func (e *env) do(t testing.TB, a authz, method, path string, body []byte, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case a.bearer != "":
		req.Header.Set("Authorization", "Bearer "+a.bearer)
	case a.user != "":
		req.SetBasicAuth(a.user, a.pass)
	}
	if a.source != "" {
		req.Header.Set(sourceHeader, a.source)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

func (e *env) doJSON(t testing.TB, a authz, method, path string, body any) reply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, a, method, path, b, "Content-Type", "application/json")
}

// token asks the token service for scope "repository:<repo>:<actions>" and
// returns the answer's status, the token and the actions it grants on repo.
func (e *env) token(t testing.TB, a authz, repo, actions string) (int, string, []string) {
	t.Helper()
	q := url.Values{"service": {"berth"}, "scope": {"repository:" + repo + ":" + actions}}
	r := e.do(t, a, "GET", "/service/token?"+q.Encode(), nil)
	if r.status != http.StatusOK {
		return r.status, "", nil
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("token answer %s: %v", r, err)
	}
	return r.status, body.Token, grantedActions(t, body.Token, repo)
}

// grantedActions reads the actions a token grants on repo from its claims
// (the signature is the server's business; this only reads).
func grantedActions(t testing.TB, tok, repo string) []string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var c access.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("token claims: %v", err)
	}
	for _, ra := range c.Access {
		if ra.Type == "repository" && ra.Name == repo {
			return ra.Actions
		}
	}
	return nil
}

// image is the one small image every push uses: a config blob and a
// manifest without layers.
var (
	imageConfig   = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	imageManifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[]}`,
		spec.MediaTypeImageManifest, spec.MediaTypeImageConfig, spec.FromBytes(imageConfig), len(imageConfig)))
	imageDigest = string(spec.FromBytes(imageManifest))
)

// push uploads the image's config blob (monolithically) and puts its
// manifest under tag, stopping at the first refusal; it returns that
// answer or the manifest PUT's.
func (e *env) push(t testing.TB, a authz, repo, tag string) reply {
	t.Helper()
	r := e.do(t, a, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+string(spec.FromBytes(imageConfig)), imageConfig,
		"Content-Type", "application/octet-stream")
	if r.status != http.StatusCreated {
		return r
	}
	return e.putManifest(t, a, repo, tag)
}

func (e *env) putManifest(t testing.TB, a authz, repo, ref string) reply {
	t.Helper()
	return e.do(t, a, "PUT", "/v2/"+repo+"/manifests/"+ref, imageManifest, "Content-Type", spec.MediaTypeImageManifest)
}

// exists reports whether admin can fetch the manifest repo:ref.
func (e *env) exists(t testing.TB, repo, ref string) bool {
	t.Helper()
	r := e.do(t, e.adminAuth(), "GET", "/v2/"+repo+"/manifests/"+ref, nil)
	switch r.status {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		return false
	}
	t.Fatalf("admin GET %s:%s: %s", repo, ref, r)
	return false
}
