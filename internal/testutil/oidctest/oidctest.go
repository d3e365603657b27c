// Package oidctest runs a real OpenID provider in the test process:
// zitadel/oidc's certified example OP (exampleop), with users and clients
// the test chooses, a "groups" claim, and users that can be disabled (the
// provider then refuses their refresh tokens). Its login form is plain
// HTML that Login drives with net/http.
package oidctest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is an account at the provider.
type User struct {
	ID, Username, Password, Email, First, Last string
	Groups                                     []string
}

// Provider is a running OP.
type Provider struct {
	Issuer string // also its URL: http://127.0.0.1:<port>
	srv    *httptest.Server
	users  *users
}

// Start runs a provider until the test ends, with the clients given
// (storage.WebClient(id, secret, redirectURIs...)).
func Start(t testing.TB, clients ...*storage.Client) *Provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	return start(t, l, issuer, false, clients...)
}

// StartTLS runs a provider over HTTPS with a certificate nobody trusts
// (httptest's), to test certificate checks.
func StartTLS(t testing.TB, clients ...*storage.Client) *Provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return start(t, l, "https://"+l.Addr().String(), true, clients...)
}

// StartOn runs a provider on l that calls itself issuer (which may differ
// from where it is reached, to test issuer checks).
func StartOn(t testing.TB, l net.Listener, issuer string, clients ...*storage.Client) *Provider {
	t.Helper()
	return start(t, l, issuer, false, clients...)
}

func start(t testing.TB, l net.Listener, issuer string, tls bool, clients ...*storage.Client) *Provider {
	t.Helper()
	p := Serve(l, issuer, tls, clients...)
	t.Cleanup(p.Close)
	return p
}

// Serve runs a provider on l that calls itself issuer, over HTTPS with
// httptest's certificate when tls is set, until Close. Tests use Start;
// Serve is for programs (cmd/oidc-provider) that have no testing.TB.
func Serve(l net.Listener, issuer string, tls bool, clients ...*storage.Client) *Provider {
	us := &users{byID: map[string]*User{}, disabled: map[string]bool{}}
	cm := map[string]*storage.Client{}
	for _, c := range clients {
		cm[c.GetID()] = c
	}
	st := &store{Storage: storage.NewStorageWithClients(us, cm), users: us}
	router := exampleop.SetupServer(issuer, st, nil, false)
	srv := httptest.NewUnstartedServer(router)
	srv.Listener.Close()
	srv.Listener = l
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return &Provider{Issuer: issuer, srv: srv, users: us}
}

// Close stops the provider.
func (p *Provider) Close() { p.srv.Close() }

// URL is where the provider is reached.
func (p *Provider) URL() string { return p.srv.URL }

// AddUser adds (or replaces) a user.
func (p *Provider) AddUser(u User) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.byID[u.ID] = &u
	delete(p.users.disabled, u.ID)
}

// SetGroups changes a user's groups.
func (p *Provider) SetGroups(id string, groups ...string) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.byID[id].Groups = groups
}

// Disable makes the provider refuse the user: no login, no refresh.
func (p *Provider) Disable(id string) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.disabled[id] = true
}

// Login signs user in at the provider's login page, which authURL (an
// authorization request) leads to, with client (which must carry the
// cookies of the flow), and returns the URL the provider sends the
// browser back to (the client's redirect URI with code and state),
// without following it.
func (p *Provider) Login(client *http.Client, authURL, username, password string) (string, error) {
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	next := authURL
	for range 10 {
		res, err := noFollow.Get(next)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if res.StatusCode/100 == 3 {
			loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
			if err != nil {
				return "", err
			}
			if !strings.HasPrefix(loc.String(), p.srv.URL) {
				return loc.String(), nil // back to the client
			}
			next = loc.String()
			continue
		}
		if res.StatusCode != 200 {
			return "", fmt.Errorf("GET %s: %d %s", next, res.StatusCode, body)
		}
		m := idField.FindSubmatch(body)
		if m == nil {
			return "", fmt.Errorf("no login form at %s: %s", next, body)
		}
		form := url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}}
		res, err = noFollow.PostForm(p.srv.URL+"/login/username", form)
		if err != nil {
			return "", err
		}
		body, _ = io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if res.StatusCode/100 != 3 {
			return "", fmt.Errorf("login as %s refused: %d %s", username, res.StatusCode, errText(body))
		}
		loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
		if err != nil {
			return "", err
		}
		next = loc.String()
	}
	return "", fmt.Errorf("too many redirects from %s", authURL)
}

var (
	idField  = regexp.MustCompile(`name="id" value="([^"]+)"`)
	errField = regexp.MustCompile(`color:red[^>]*>([^<]*)<`)
)

func errText(body []byte) string {
	if m := errField.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return string(body)
}

// users is the provider's user store.
type users struct {
	mu       sync.Mutex
	byID     map[string]*User
	disabled map[string]bool
}

func (u *users) toStorage(x *User) *storage.User {
	return &storage.User{ID: x.ID, Username: x.Username, Password: x.Password, FirstName: x.First, LastName: x.Last,
		Email: x.Email, EmailVerified: true}
}

func (u *users) GetUserByID(id string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.byID[id]
	if !ok || u.disabled[id] {
		return nil
	}
	return u.toStorage(x)
}

func (u *users) GetUserByUsername(name string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, x := range u.byID {
		if x.Username == name && !u.disabled[id] {
			return u.toStorage(x)
		}
	}
	return nil
}

func (u *users) ExampleClientID() string { return storage.ServiceUserID }

func (u *users) groups(id string) ([]string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.byID[id]
	if !ok || u.disabled[id] {
		return nil, false
	}
	return append([]string(nil), x.Groups...), true
}

// store adds groups and disabled users to the example storage.
type store struct {
	*storage.Storage
	users *users
}

// SetUserinfoFromScopes puts the groups claim into ID tokens.
func (s *store) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if g, ok := s.users.groups(userID); ok {
		ui.AppendClaims("groups", g)
	}
	return s.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes)
}

// TokenRequestByRefreshToken refuses the refresh tokens of disabled users.
func (s *store) TokenRequestByRefreshToken(ctx context.Context, rt string) (op.RefreshTokenRequest, error) {
	r, err := s.Storage.TokenRequestByRefreshToken(ctx, rt)
	if err != nil {
		return nil, err
	}
	if _, ok := s.users.groups(r.GetSubject()); !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	return r, nil
}
