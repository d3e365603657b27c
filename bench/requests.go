package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// pushReader is a monolithic push (POST, then PUT) of size bytes that
// body() yields; body may be called twice when a token must be renewed.
func (c *client) pushReader(ctx context.Context, repo, digest string, size int64, body func() io.Reader) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	u, err := withDigest(loc, digest)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", u, body())
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body()), nil }
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := c.do(req, pushScope(repo))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return statusErr("PUT blob", res)
	}
	drain(res)
	return nil
}

// mount asks for blob digest of repository from to be linked into repo
// and reports whether the registry did so (201) rather than opening an
// upload (202, which is cancelled).
func (c *client) mount(ctx context.Context, repo, from, digest string) (bool, error) {
	q := url.Values{"mount": {digest}, "from": {from}}
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/v2/"+repo+"/blobs/uploads/?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	res, err := c.do(req, pushScope(repo)+" "+pullScope(from))
	if err != nil {
		return false, err
	}
	drain(res)
	switch res.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusAccepted:
		if loc, err := c.resolve(res.Header.Get("Location")); err == nil {
			if req, err := http.NewRequestWithContext(ctx, "DELETE", loc, nil); err == nil {
				if res, err := c.do(req, pushScope(repo)); err == nil {
					drain(res)
				}
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("POST mount: %s", res.Status)
}

// putManifest stores manifest m under ref (a tag or its digest).
func (c *client) putManifest(ctx context.Context, repo, ref string, m []byte) error {
	req, err := http.NewRequestWithContext(ctx, "PUT", c.base+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(m))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ociManifest)
	res, err := c.do(req, pushScope(repo))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return statusErr("PUT manifest "+repo+":"+ref, res)
	}
	drain(res)
	return nil
}

// getManifest GETs an image manifest and returns its body.
func (c *client) getManifest(ctx context.Context, repo, ref string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", ociManifest)
	res, err := c.do(req, pullScope(repo))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, statusErr("GET manifest", res)
	}
	defer res.Body.Close()
	return io.ReadAll(io.LimitReader(res.Body, 4<<20))
}

// headBlob checks that a blob exists, as clients do before pushing it.
func (c *client) headBlob(ctx context.Context, repo, digest string) error {
	req, err := http.NewRequestWithContext(ctx, "HEAD", c.base+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		return err
	}
	res, err := c.do(req, pullScope(repo))
	if err != nil {
		return err
	}
	drain(res)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HEAD blob: %s", res.Status)
	}
	return nil
}

// listAll GETs path (a tag list or the catalog) and follows its Link
// headers to the end, at most 10,000 pages; it returns the entries seen.
func (c *client) listAll(ctx context.Context, path, field, scope string) (int, error) {
	total := 0
	next := c.base + path
	for page := 0; next != "" && page < 10_000; page++ {
		req, err := http.NewRequestWithContext(ctx, "GET", next, nil)
		if err != nil {
			return total, err
		}
		res, err := c.do(req, scope)
		if err != nil {
			return total, err
		}
		if res.StatusCode != http.StatusOK {
			return total, statusErr("GET "+path, res)
		}
		var body map[string]json.RawMessage
		err = json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&body)
		drain(res)
		if err != nil {
			return total, fmt.Errorf("GET %s: %w", path, err)
		}
		var items []string
		if raw, ok := body[field]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &items); err != nil {
				return total, fmt.Errorf("GET %s: %w", path, err)
			}
		}
		total += len(items)
		next = ""
		if link := res.Header.Get("Link"); link != "" {
			if i, j := strings.Index(link, "<"), strings.Index(link, ">"); i >= 0 && j > i {
				if next, err = c.resolve(link[i+1 : j]); err != nil {
					return total, err
				}
			}
		}
	}
	return total, nil
}

func catalogScope() string { return "registry:catalog:*" }
