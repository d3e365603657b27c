package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// client talks to one registry's /v2/ API. It answers the registry's
// challenge: Basic credentials directly, or the Docker token flow (GET the
// realm with service and scope, Basic credentials, then Bearer), with one
// token cached per scope until shortly before it expires.
type client struct {
	base       string // http://host:port
	user, pass string
	hc         *http.Client

	once    sync.Once
	onceErr error
	scheme  string // "", "basic" or "bearer"
	realm   string
	service string

	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
}

func newClient(base, user, pass string, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never a proxy
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
	return &client{
		base: strings.TrimRight(base, "/"), user: user, pass: pass,
		hc:     &http.Client{Transport: tr},
		tokens: map[string]cachedToken{},
	}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// probe reads the challenge of GET /v2/ once.
func (c *client) probe(ctx context.Context) error {
	c.once.Do(func() {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v2/", nil)
		if err != nil {
			c.onceErr = err
			return
		}
		res, err := c.hc.Do(req)
		if err != nil {
			c.onceErr = err
			return
		}
		drain(res)
		switch res.StatusCode {
		case http.StatusOK:
		case http.StatusUnauthorized:
			scheme, params := parseChallenge(res.Header.Get("WWW-Authenticate"))
			switch scheme {
			case "basic":
				c.scheme = "basic"
			case "bearer":
				c.scheme, c.realm, c.service = "bearer", params["realm"], params["service"]
				if c.realm == "" {
					c.onceErr = errors.New("GET /v2/: Bearer challenge without realm")
				}
			default:
				c.onceErr = fmt.Errorf("GET /v2/: unknown challenge %q", res.Header.Get("WWW-Authenticate"))
			}
		default:
			c.onceErr = fmt.Errorf("GET /v2/: %s", res.Status)
		}
	})
	return c.onceErr
}

// parseChallenge splits `Bearer realm="…",service="…"` into the lower-cased
// scheme and its parameters.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				params[k] = v[1:]
				break
			}
			params[k], rest = v[1:1+end], v[2+end:]
		} else {
			val, r, _ := strings.Cut(v, ",")
			params[k], rest = strings.TrimSpace(val), r
		}
	}
	return strings.ToLower(scheme), params
}

// token returns a Bearer token for scope, from the cache or the realm.
func (c *client) token(ctx context.Context, scope string, fresh bool) (string, error) {
	c.mu.Lock()
	t, ok := c.tokens[scope]
	c.mu.Unlock()
	if ok && !fresh && time.Now().Before(t.expires) {
		return t.token, nil
	}
	q := url.Values{}
	if c.service != "" {
		q.Set("service", c.service)
	}
	for _, sc := range strings.Fields(scope) {
		q.Add("scope", sc)
	}
	u := c.realm
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return "", err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	defer drain(res)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return "", fmt.Errorf("token for %q: %s %s", scope, res.Status, b)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("token for %q: %w", scope, err)
	}
	tok := body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	if tok == "" {
		return "", fmt.Errorf("token for %q: empty", scope)
	}
	life := time.Duration(body.ExpiresIn) * time.Second
	if life <= 0 {
		life = 60 * time.Second // the token spec's default
	}
	// Renew at 80 % of the lifetime so that no request carries a token
	// expiring on the way.
	c.mu.Lock()
	c.tokens[scope] = cachedToken{tok, time.Now().Add(life * 8 / 10)}
	c.mu.Unlock()
	return tok, nil
}

// do sends req with the credentials scope needs. A 401 gets one retry
// with a fresh token when the body can be replayed.
func (c *client) do(req *http.Request, scope string) (*http.Response, error) {
	if err := c.probe(req.Context()); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		switch c.scheme {
		case "basic":
			req.SetBasicAuth(c.user, c.pass)
		case "bearer":
			tok, err := c.token(req.Context(), scope, attempt > 0)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusUnauthorized || c.scheme != "bearer" || attempt > 0 {
			return res, nil
		}
		if req.Body != nil && req.GetBody == nil {
			return res, nil
		}
		drain(res)
		if req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = b
		}
	}
	panic("unreachable")
}

// resolve makes a Location header absolute.
func (c *client) resolve(loc string) (string, error) {
	if loc == "" {
		return "", errors.New("no Location header")
	}
	base, err := url.Parse(c.base + "/")
	if err != nil {
		return "", err
	}
	u, err := base.Parse(loc)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func drain(res *http.Response) {
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
}

// statusErr describes an unexpected answer.
func statusErr(what string, res *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	res.Body.Close()
	return fmt.Errorf("%s: %s %s", what, res.Status, strings.TrimSpace(string(b)))
}

func pushScope(repo string) string { return "repository:" + repo + ":pull,push" }
func pullScope(repo string) string { return "repository:" + repo + ":pull" }
