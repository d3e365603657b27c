package berthproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiPrefix is where berth serves its management API; Admin's paths are
// below it.
const apiPrefix = "/api/v2.0"

// Admin calls a berth's management API with admin's Basic credentials,
// for the set-up every black-box test shares: users, projects, members.
// What a test asserts about the API it checks itself, with Do.
type Admin struct {
	base, password string
	client         *http.Client
}

// NewAdmin returns a client of the berth at base (http://host:port).
// Every request has 30 seconds.
func NewAdmin(base, password string) *Admin {
	return &Admin{base: base, password: password, client: &http.Client{Timeout: 30 * time.Second}}
}

// Reply is one answer of the API.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Location is the Location header as an API path (without /api/v2.0),
// ready to pass to Do again.
func (r *Reply) Location() string {
	return strings.TrimPrefix(r.Header.Get("Location"), apiPrefix)
}

// Do sends body (nil for none) as JSON to /api/v2.0+path and returns the
// answer whatever its status; the error is for transport failures only.
func (a *Admin) Do(method, path string, body any) (*Reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+apiPrefix+path, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("admin", a.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Call is Do for a request that must answer status (0: any 2xx); it
// decodes the body into out unless out is nil.
func (a *Admin) Call(status int, method, path string, body, out any) (*Reply, error) {
	r, err := a.Do(method, path, body)
	if err != nil {
		return nil, err
	}
	if status == 0 && r.Status/100 != 2 || status != 0 && r.Status != status {
		want := "2xx"
		if status != 0 {
			want = fmt.Sprint(status)
		}
		return r, fmt.Errorf("%s %s: status %d, want %s: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return r, fmt.Errorf("%s %s: decode %s: %w", method, path, r.Body, err)
		}
	}
	return r, nil
}

// CreateProject creates a project, private unless metadata says
// "public": "true", and returns its API path.
func (a *Admin) CreateProject(name string, metadata map[string]string) (string, error) {
	md := map[string]string{"public": "false"}
	for k, v := range metadata {
		md[k] = v
	}
	r, err := a.Call(http.StatusCreated, "POST", "/projects", map[string]any{"project_name": name, "metadata": md}, nil)
	if err != nil {
		return "", fmt.Errorf("create project %s: %w", name, err)
	}
	return r.Location(), nil
}

// CreateUser creates a local user (email name@example.com) and returns
// its API path.
func (a *Admin) CreateUser(name, password string) (string, error) {
	r, err := a.Call(http.StatusCreated, "POST", "/users", map[string]string{
		"username": name, "email": name + "@example.com", "realname": name, "password": password}, nil)
	if err != nil {
		return "", fmt.Errorf("create user %s: %w", name, err)
	}
	return r.Location(), nil
}

// AddMember makes user a member of project with role, a Harbor role id
// (1 project admin, 2 developer, 3 guest, 4 maintainer).
func (a *Admin) AddMember(project, user string, role int) error {
	_, err := a.Call(http.StatusCreated, "POST", "/projects/"+project+"/members", map[string]any{
		"role_id": role, "member_user": map[string]string{"username": user}}, nil)
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", user, project, err)
	}
	return nil
}
