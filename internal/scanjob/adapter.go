package scanjob

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan"
)

// Harbor's Pluggable Scanner API (scanner adapter v1.x) as a client.
const (
	mtAdapterMetadata = "application/vnd.scanner.adapter.metadata+json; version=1.1"
	mtScanRequest     = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
	mtScanResponse    = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
	mtAdapterError    = "application/vnd.scanner.adapter.error+json; version=1.0"
)

// maxAdapterBody bounds what berth reads from an adapter: metadata and
// scan responses are small; a report of a large image can be tens of MB.
const (
	maxAdapterSmall  = 1 << 20
	maxAdapterReport = 256 << 20
)

// adapter talks to one registered scanner adapter.
type adapter struct {
	s   *Service
	reg meta.Scanner
}

func (s *Service) backendOf(sc meta.Scanner) (backend, error) {
	if sc.Builtin {
		if s.engine == nil {
			return nil, errs.New(errs.Unavailable, "", "the built-in scanner is not enabled on this node")
		}
		return builtin{s}, nil
	}
	return adapter{s: s, reg: sc}, nil
}

func (a adapter) client() *http.Client {
	c := *a.s.client
	// The adapter API has no redirects; following one would carry the
	// credential (X-ScannerAdapter-API-Key survives cross-host redirects)
	// elsewhere. A 302 is the adapter's "not ready yet" and is read as is.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if !a.reg.SkipCertVerify {
		return &c
	}
	tr, _ := http.DefaultTransport.(*http.Transport)
	if tr != nil {
		tr = tr.Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the registration asked for it
		c.Transport = tr
	}
	return &c
}

// do sends one request to the adapter with the registration's
// credential.
func (a adapter) do(ctx context.Context, method, path, accept, contentType string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.reg.URL, "/")+"/api/v1"+path, rd)
	if err != nil {
		return nil, errs.New(errs.Invalid, "", "scanner %s: bad URL %q: %v", a.reg.Name, a.reg.URL, err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch a.reg.Auth {
	case "Basic":
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.reg.AccessCredential)))
	case "Bearer":
		req.Header.Set("Authorization", "Bearer "+a.reg.AccessCredential)
	case "X-ScannerAdapter-API-Key":
		req.Header.Set("X-ScannerAdapter-API-Key", a.reg.AccessCredential)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "scanner %s at %s cannot be reached", a.reg.Name, a.reg.URL)
	}
	return resp, nil
}

// adapterError reads an adapter's error answer into a message.
func (a adapter) adapterError(resp *http.Response, what string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	kind := errs.Unavailable
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		kind = errs.Invalid
	}
	return errs.New(kind, "", "scanner %s: %s: HTTP %d: %s", a.reg.Name, what, resp.StatusCode, msg)
}

func (a adapter) metadata(ctx context.Context) (Metadata, error) {
	resp, err := a.do(ctx, http.MethodGet, "/metadata", mtAdapterMetadata+", application/vnd.scanner.adapter.metadata+json; version=1.0", "", nil)
	if err != nil {
		return Metadata{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Metadata{}, a.adapterError(resp, "metadata")
	}
	var md Metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAdapterSmall)).Decode(&md); err != nil {
		return Metadata{}, errs.New(errs.Invalid, "", "scanner %s: metadata is not valid JSON: %v", a.reg.Name, err)
	}
	if md.Scanner.Name == "" || len(md.Capabilities) == 0 {
		return Metadata{}, errs.New(errs.Invalid, "", "scanner %s: metadata names no scanner or no capability", a.reg.Name)
	}
	return md, nil
}

// scanRequest is Harbor's ScanRequest.
type scanRequest struct {
	Registry struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization"`
	} `json:"registry"`
	Artifact struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag,omitempty"`
		MimeType   string `json:"mime_type"`
	} `json:"artifact"`
	EnabledCapabilities []enabledCapability `json:"enabled_capabilities,omitempty"`
}

type enabledCapability struct {
	Type              string   `json:"type"`
	ProducesMimeTypes []string `json:"produces_mime_types"`
	// Parameters carries sbom_media_types for an SBOM scan.
	Parameters map[string]any `json:"parameters,omitempty"`
}

// pullToken is a registry token that lets the adapter pull this one
// repository for the length of a scan, marked with the scanner-pull
// action so that the pull policy lets it fetch unscanned images.
func (s *Service) pullToken(repo, scanner string) (string, error) {
	tok, _, err := s.acc.Signer().Issue(access.Claims{
		Subject: "scanner:" + scanner, Audience: s.audience, Kind: "anonymous",
		Access: []access.ResourceActions{{Type: "repository", Name: repo,
			Actions: []string{access.ActPull, access.ActScannerPull}}},
	}, s.timeout+5*time.Minute)
	return tok, err
}

func (a adapter) scan(ctx context.Context, j meta.ScanJob, mimeType string, progress func(int)) (result, error) {
	if a.s.registryURL == "" {
		return result{}, errs.New(errs.Invalid, "", "berth does not know the URL at which scanner %s can pull; set server.external_url", a.reg.Name)
	}
	tok, err := a.s.pullToken(j.Repository, a.reg.Name)
	if err != nil {
		return result{}, fmt.Errorf("issue pull token: %w", err)
	}
	var req scanRequest
	req.Registry.URL = a.s.registryURL
	req.Registry.Authorization = "Bearer " + tok
	req.Artifact.Repository, req.Artifact.Digest, req.Artifact.MimeType = j.Repository, string(j.Digest), j.MediaType
	capab := enabledCapability{Type: j.Kind, ProducesMimeTypes: []string{mimeType}}
	reportPath := "/report"
	if j.Kind == KindSBOM {
		capab.Parameters = map[string]any{"sbom_media_types": []string{scan.MediaTypeSPDX}}
		reportPath += "?sbom_media_type=" + url.QueryEscape(scan.MediaTypeSPDX)
	}
	req.EnabledCapabilities = append(req.EnabledCapabilities, capab)
	body, _ := json.Marshal(req)
	resp, err := a.do(ctx, http.MethodPost, "/scan", mtScanResponse, mtScanRequest, body)
	if err != nil {
		return result{}, err
	}
	var accepted struct {
		ID string `json:"id"`
	}
	err = nil
	if resp.StatusCode != http.StatusAccepted {
		err = a.adapterError(resp, "scan request")
	} else if derr := json.NewDecoder(io.LimitReader(resp.Body, maxAdapterSmall)).Decode(&accepted); derr != nil || accepted.ID == "" {
		err = errs.New(errs.Invalid, "", "scanner %s: the scan response has no id", a.reg.Name)
	}
	resp.Body.Close()
	if err != nil {
		return result{}, err
	}
	progress(20)
	log := fmt.Sprintf("scanner %s accepted the scan as %s\n", a.reg.Name, accepted.ID)
	path := "/scan/" + url.PathEscape(accepted.ID) + reportPath
	for polls := 0; ; polls++ {
		resp, err := a.do(ctx, http.MethodGet, path, mimeType, "", nil)
		if err != nil {
			return result{}, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			b, err := io.ReadAll(io.LimitReader(resp.Body, maxAdapterReport+1))
			resp.Body.Close()
			if err != nil {
				return result{}, errs.Wrap(errs.Unavailable, err, "scanner %s: read report", a.reg.Name)
			}
			if len(b) > maxAdapterReport {
				return result{}, errs.New(errs.TooLarge, "", "scanner %s: the report is larger than %d bytes", a.reg.Name, maxAdapterReport)
			}
			if !json.Valid(b) {
				return result{}, errs.New(errs.Invalid, "", "scanner %s: the report is not valid JSON", a.reg.Name)
			}
			return result{report: b, log: log + fmt.Sprintf("report received after %d polls\n", polls+1)}, nil
		case http.StatusFound:
			resp.Body.Close()
			wait := a.s.poll
			// Harbor reads Refresh-After; the spec's README says Retry-After.
			for _, h := range []string{"Refresh-After", "Retry-After"} {
				if n, err := strconv.Atoi(resp.Header.Get(h)); err == nil && n >= 0 {
					wait = min(time.Duration(n)*time.Second, a.s.poll)
					break
				}
			}
			progress(min(90, 20+polls))
			t := time.NewTimer(max(wait, 50*time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return result{}, ctx.Err()
			case <-t.C:
			}
		default:
			err := a.adapterError(resp, "report")
			resp.Body.Close()
			return result{}, err
		}
	}
}
