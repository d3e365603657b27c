package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// authCmdTimeout bounds every docker command of TestAuthDocker; the image
// is a few bytes, so anything slower is a hang.
const authCmdTimeout = 90 * time.Second

// TestAuthDocker proves access control with the real docker CLI: members
// push or are refused by role, anonymous callers pull only from public
// projects, a push into a missing project says so, and a robot account
// works with its secret until the secret is refreshed, it expires or it is
// disabled. Every identity has its own DOCKER_CONFIG, so logins never mix.
func TestAuthDocker(t *testing.T) {
	if env.dockerHost == "" {
		t.Skip("BERTH_SKIP_DOCKER=1: this test is about the docker CLI")
	}
	reg := env.registry
	devPass := "Dev-Pass-" + randomHex(6)
	guestPass := "Guest-Pass-" + randomHex(6)

	// 1. Set-up as admin: a private project with a Developer and a Guest,
	// a public project holding an image pushed by admin.
	devURL, err := env.admin.CreateUser("dev", devPass)
	if err != nil {
		t.Fatal(err)
	}
	guestURL, err := env.admin.CreateUser("guest", guestPass)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name, public string
	}{{"team", "false"}, {"pub", "true"}} {
		if _, err := env.admin.CreateProject(p.name, map[string]string{"public": p.public}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct {
		user string
		role int
	}{{"dev", 2}, {"guest", 3}} {
		if err := env.admin.AddMember("team", m.user, m.role); err != nil {
			t.Fatal(err)
		}
	}

	pubRef := reg + "/pub/img:v1"
	appRef, app2Ref := reg+"/team/app:v1", reg+"/team/app:v2"
	missingRef := reg + "/nosuch/app:v1"
	robotRef, robot2Ref := reg+"/team/robot:v1", reg+"/team/robot:v2"
	daemon := newDockerUser(t) // for commands that touch only the daemon's images
	t.Cleanup(func() {
		// Leave nothing behind in a shared daemon or for the other tests of
		// this berth (the catalog test counts repositories); a cleanup that
		// fails means already gone.
		_, _ = tryCmd(authCmdTimeout, "", daemon.env, "docker", "rmi", "--force",
			pubRef, appRef, app2Ref, missingRef, robotRef, robot2Ref)
		for _, p := range []string{"/projects/team/repositories/app", "/projects/team/repositories/robot",
			"/projects/pub/repositories/img", "/projects/team", "/projects/pub", devURL, guestURL} {
			if p != "" {
				_, _ = env.admin.Do("DELETE", p, nil)
			}
		}
	})

	runCmd(t, authCmdTimeout, "", daemon.env, "docker", "import", writeTinyRootfs(t), pubRef)
	for _, ref := range []string{appRef, app2Ref, missingRef, robotRef, robot2Ref} {
		runCmd(t, authCmdTimeout, "", daemon.env, "docker", "tag", pubRef, ref)
	}
	admin := newDockerUser(t)
	admin.mustLogin(t, "admin", env.password)
	pubDigest := admin.push(t, pubRef)

	dev := newDockerUser(t)
	t.Run("developer-pushes", func(t *testing.T) {
		dev.mustLogin(t, "dev", devPass)
		d := dev.push(t, appRef)
		if got := manifestDigest(t, "team/app", "v1"); got != d {
			t.Errorf("team/app:v1 in the registry is %s, want the pushed %s", got, d)
		}
	})

	t.Run("guest-may-not-push", func(t *testing.T) {
		guest := newDockerUser(t)
		guest.mustLogin(t, "guest", guestPass)
		msg := guest.fails(t, "docker", "push", app2Ref)
		t.Logf("guest push refused: %s", msg)
		wantAll(t, "guest push", msg, anyOf("denied", "unauthorized"), anyOf("may not push", "requested access"))
		if got, status := manifestStatus(t, "team/app", "v2"); status != http.StatusNotFound {
			t.Errorf("HEAD team/app:v2 after the refused push = %d (%s), want 404", status, got)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		anon := newDockerUser(t)
		runCmd(t, authCmdTimeout, "", anon.env, "docker", "logout", reg)
		runCmd(t, authCmdTimeout, "", daemon.env, "docker", "rmi", pubRef)
		res := runCmd(t, authCmdTimeout, "", anon.env, "docker", "pull", pubRef)
		if m := pullDigestRE.FindStringSubmatch(res.Stdout); m == nil || m[1] != pubDigest {
			t.Errorf("anonymous docker pull %s: want digest %s, got output:\n%s", pubRef, pubDigest, res.Stdout)
		}
		msg := anon.fails(t, "docker", "pull", appRef)
		t.Logf("anonymous pull from a private project refused: %s", msg)
		wantAll(t, "anonymous pull of a private image", msg,
			anyOf("denied", "unauthorized", "authentication required"))
	})

	t.Run("push-into-missing-project", func(t *testing.T) {
		msg := dev.fails(t, "docker", "push", missingRef)
		t.Logf("push into a missing project refused: %s", msg)
		wantAll(t, "push into nosuch", msg, anyOf("does not exist"), anyOf("nosuch"))
	})

	t.Run("robot", func(t *testing.T) {
		ci := createRobot(t, "ci")
		if want := "robot$team+ci"; ci.Name != want {
			t.Fatalf("robot name = %q, want %q", ci.Name, want)
		}
		robot := newDockerUser(t)
		robot.mustLogin(t, ci.Name, ci.Secret)
		d := robot.push(t, robotRef)
		if got := manifestDigest(t, "team/robot", "v1"); got != d {
			t.Errorf("team/robot:v1 in the registry is %s, want the pushed %s", got, d)
		}

		var refreshed struct{ Secret string }
		adminAPI(t, "PATCH", "/robots/"+strconv.FormatInt(ci.ID, 10), map[string]any{}, &refreshed)
		if refreshed.Secret == "" || refreshed.Secret == ci.Secret {
			t.Fatalf("refresh returned secret %q, want a new one", refreshed.Secret)
		}
		msg := robot.loginFails(t, ci.Name, ci.Secret)
		t.Logf("robot login with the old secret refused: %s", msg)
		wantAll(t, "login with the old secret", msg, anyOf("unauthorized", "invalid username or password"))
		robot.mustLogin(t, ci.Name, refreshed.Secret)

		expireRobot(t, ci.ID)
		// The stored credentials are the refreshed secret, which worked a
		// moment ago; only the expiry can refuse them now.
		msg = robot.fails(t, "docker", "push", robot2Ref)
		t.Logf("push by the expired robot refused: %s", msg)
		wantAll(t, "push by an expired robot", msg, anyOf("unauthorized", "denied"))
		msg = robot.loginFails(t, ci.Name, refreshed.Secret)
		t.Logf("login of the expired robot refused: %s", msg)
		wantAll(t, "login of an expired robot", msg, anyOf("unauthorized", "invalid username or password"))
		if _, status := manifestStatus(t, "team/robot", "v2"); status != http.StatusNotFound {
			t.Errorf("HEAD team/robot:v2 after the expired robot's push = %d, want 404", status)
		}

		ci2 := createRobot(t, "ci2")
		robot2 := newDockerUser(t)
		robot2.mustLogin(t, ci2.Name, ci2.Secret)
		path := "/robots/" + strconv.FormatInt(ci2.ID, 10)
		var body map[string]any
		adminAPI(t, "GET", path, nil, &body)
		body["disable"] = true
		adminAPI(t, "PUT", path, body, nil)
		msg = robot2.loginFails(t, ci2.Name, ci2.Secret)
		t.Logf("login of the disabled robot refused: %s", msg)
		wantAll(t, "login of a disabled robot", msg, anyOf("unauthorized", "invalid username or password"))
	})

	t.Run("wrong-password", func(t *testing.T) {
		msg := newDockerUser(t).loginFails(t, "dev", "Wrong-"+devPass)
		t.Logf("login with a wrong password refused: %s", msg)
		wantAll(t, "wrong password", msg, anyOf("unauthorized", "invalid username or password"))
	})

	if t.Failed() {
		t.Logf("berth log (%s), last lines:\n%s", env.berthLog, berthproc.Tail(env.berthLog, 40))
	}
}

// dockerUser is one identity of the docker CLI: its own DOCKER_CONFIG on
// the shared daemon.
type dockerUser struct {
	env []string
}

func newDockerUser(t *testing.T) dockerUser {
	t.Helper()
	return dockerUser{env: append(os.Environ(), "DOCKER_HOST="+env.dockerHost, "DOCKER_CONFIG="+t.TempDir())}
}

func (u dockerUser) login(user, secret string) (berthproc.Output, error) {
	return tryCmd(authCmdTimeout, secret+"\n", u.env, "docker", "login", env.registry,
		"--username", user, "--password-stdin")
}

func (u dockerUser) mustLogin(t *testing.T, user, secret string) {
	t.Helper()
	res, err := u.login(user, secret)
	if err != nil {
		t.Fatalf("docker login as %s: %v\n%s%s", user, err, res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "Login Succeeded") {
		t.Fatalf("docker login as %s exited 0 without saying so:\n%s%s", user, res.Stdout, res.Stderr)
	}
}

// loginFails runs a login that must be refused and returns what docker said.
func (u dockerUser) loginFails(t *testing.T, user, secret string) string {
	t.Helper()
	res, err := u.login(user, secret)
	if err == nil {
		t.Fatalf("docker login as %s succeeded, want a refusal:\n%s", user, res.Stdout)
	}
	return strings.TrimSpace(res.Stdout + res.Stderr)
}

// push pushes ref and returns the digest docker printed.
func (u dockerUser) push(t *testing.T, ref string) string {
	t.Helper()
	res := runCmd(t, authCmdTimeout, "", u.env, "docker", "push", ref)
	m := pushDigestRE.FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("docker push %s printed no digest:\n%s", ref, res.Stdout)
	}
	return m[1]
}

// fails runs a command that must exit non-zero (and not by timing out)
// and returns what it printed.
func (u dockerUser) fails(t *testing.T, name string, args ...string) string {
	t.Helper()
	res, err := tryCmd(authCmdTimeout, "", u.env, name, args...)
	if err == nil {
		t.Fatalf("%s %s succeeded, want a refusal:\n%s", name, strings.Join(args, " "), res.Stdout)
	}
	if strings.Contains(err.Error(), "timed out") {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, res.Stdout, res.Stderr)
	}
	return strings.TrimSpace(res.Stdout + res.Stderr)
}

// anyOf is a condition on a message: it holds when one of the strings is
// in it (case-insensitive).
type anyOfCond []string

func anyOf(s ...string) anyOfCond { return s }

func wantAll(t *testing.T, what, msg string, conds ...anyOfCond) {
	t.Helper()
	lower := strings.ToLower(msg)
	for _, c := range conds {
		found := false
		for _, s := range c {
			if strings.Contains(lower, strings.ToLower(s)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: docker said %q, want it to contain one of %q", what, msg, []string(c))
		}
	}
}

type robotCreated struct {
	ID     int64
	Name   string
	Secret string
}

// createRobot makes a project robot of team that may pull and push.
func createRobot(t *testing.T, name string) robotCreated {
	t.Helper()
	var r robotCreated
	adminAPI(t, "POST", "/robots", map[string]any{
		"name": name, "level": "project", "duration": 30,
		"permissions": []map[string]any{{
			"kind": "project", "namespace": "team",
			"access": []map[string]string{
				{"resource": "repository", "action": "pull"},
				{"resource": "repository", "action": "push"},
			},
		}},
	}, &r)
	if r.ID == 0 || r.Secret == "" {
		t.Fatalf("created robot %s = %+v, want an id and a secret", name, r)
	}
	return r
}

// expireRobot moves the robot's expiry an hour into the past in berth's
// SQLite database: the API only takes durations counted from creation,
// and a test cannot wait for a day to pass.
func expireRobot(t *testing.T, id int64) {
	t.Helper()
	// startBerth gives berth this data dir; the database is its default file.
	path := filepath.Join(env.workDir, "berth-data", "berth.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("berth's database: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := meta.Open(ctx, path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	r, err := db.Q().GetRobot(ctx, id)
	if err != nil {
		t.Fatalf("get robot %d: %v", id, err)
	}
	r.ExpiresAt = time.Now().Add(-time.Hour).Unix()
	if err := db.Q().UpdateRobot(ctx, r); err != nil {
		t.Fatalf("expire robot %d: %v", id, err)
	}
	var got struct {
		ExpiresAt int64 `json:"expires_at"`
	}
	adminAPI(t, "GET", "/robots/"+strconv.FormatInt(id, 10), nil, &got)
	if got.ExpiresAt != r.ExpiresAt {
		t.Fatalf("robot %d expires_at = %d after the update, want %d", id, got.ExpiresAt, r.ExpiresAt)
	}
}

// adminAPI calls berth's /api/v2.0 as admin, fails the test unless the
// answer is 2xx, decodes the body into out (when not nil) and returns the
// Location header as an API path.
func adminAPI(t *testing.T, method, path string, body, out any) string {
	t.Helper()
	r, err := env.admin.Call(0, method, path, body, out)
	if err != nil {
		t.Fatal(err)
	}
	return r.Location()
}

// manifestStatus asks the registry, as admin, for repo:ref and returns
// Docker-Content-Digest and the status.
func manifestStatus(t *testing.T, repo, ref string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "HEAD", "http://"+env.registry+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", env.password)
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.oci.image.index.v1+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("HEAD %s:%s: %v", repo, ref, err)
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest"), resp.StatusCode
}

func manifestDigest(t *testing.T, repo, ref string) string {
	t.Helper()
	d, status := manifestStatus(t, repo, ref)
	if status != http.StatusOK {
		t.Fatalf("HEAD %s:%s = %d, want 200", repo, ref, status)
	}
	return d
}

// writeTinyRootfs writes a one-file root file system whose content is new
// on every run, so that every push really uploads.
func writeTinyRootfs(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("berth auth e2e " + randomHex(16) + "\n")
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "auth-e2e.txt", Mode: 0o644, Size: int64(len(body)),
		ModTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
