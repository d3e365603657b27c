package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
)

// Registry guards /v2/ with Harbor's model: every request needs a token
// (or Basic credentials) whose grants cover it; anonymous callers are
// always challenged, so that clients fetch a token even for public pulls.
type Registry struct{ a *Authn }

// NewRegistry returns the /v2/ authorizer.
func NewRegistry(a *Authn) *Registry { return &Registry{a: a} }

var _ ocihttp.Authorizer = (*Registry)(nil)

// Authorize allows the request when its credentials grant every access.
func (g *Registry) Authorize(r *http.Request, need ...ocihttp.Access) error {
	ctx := r.Context()
	tok, isBearer := bearerToken(r)
	_, _, isBasic := r.BasicAuth()
	if !isBearer && !isBasic {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required")
	}
	var (
		p      access.Principal
		claims *access.Claims
	)
	if isBearer {
		c, pr, err := g.a.Bearer(ctx, tok)
		if err != nil {
			return err
		}
		p, claims = pr, &c
	} else {
		pr, _, err := g.a.Basic(r)
		if err != nil {
			return err
		}
		p = pr
	}
	for _, n := range need {
		if err := g.check(ctx, p, claims, n); err != nil {
			return err
		}
	}
	if changes(need) && g.a.acc.ReadOnly(ctx) {
		return access.ErrReadOnly()
	}
	return nil
}

// changes reports whether an access would change content (push, delete).
func changes(need []ocihttp.Access) bool {
	for _, n := range need {
		for _, a := range n.Actions {
			if a == access.ActPush || a == access.ActDelete || a == access.ActAll {
				return true
			}
		}
	}
	return false
}

// check decides one access. With a token, the token's grants decide
// (they were computed from policy when it was issued); with Basic
// credentials, policy is asked directly.
func (g *Registry) check(ctx context.Context, p access.Principal, claims *access.Claims, n ocihttp.Access) error {
	switch n.Type {
	case "registry":
		if n.Name == "base" {
			if p.IsAnonymous() && claims == nil {
				return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required")
			}
			return nil
		}
		// The catalog is open to every authenticated caller and filtered
		// to what each may see.
		if p.IsAnonymous() {
			return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to list repositories")
		}
		return nil
	case "repository":
	default:
		return errs.New(errs.Denied, "DENIED", "unknown resource type %q", n.Type)
	}
	var missing []string
	if claims != nil {
		for _, a := range n.Actions {
			if !claims.Allows("repository", n.Name, a) {
				missing = append(missing, a)
			}
		}
	} else {
		granted, _, err := g.a.acc.RepositoryActions(ctx, p, n.Name, n.Actions)
		if err != nil {
			return err
		}
		for _, a := range n.Actions {
			if !containsAction(granted, a) {
				missing = append(missing, a)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err := g.refusal(ctx, p, n.Name, missing)
	if claims != nil && errs.Is(err, errs.Denied) {
		// The token protocol answers a token lacking scope with 401 and
		// an insufficient_scope challenge, so that the client asks for a
		// token with the scope it now needs; the message still says why.
		e, _ := errs.As(err)
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "%s", e.Msg)
	}
	return err
}

// refusal explains a denied access as precisely as is safe: anonymous
// callers are challenged; a push into a project that does not exist says
// so; everything else is "denied".
func (g *Registry) refusal(ctx context.Context, p access.Principal, repo string, missing []string) error {
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required")
	}
	project := access.ProjectOf(repo)
	pushing := containsAction(missing, access.ActPush)
	if pushing {
		if project == "" {
			return errs.New(errs.Denied, "DENIED",
				"repository %q has no project: push to <project>/<repository>, into a project created first", repo)
		}
		if _, err := g.a.acc.DB().Q().GetProjectByName(ctx, project); errs.Is(err, errs.NotFound) {
			return errs.New(errs.Denied, "DENIED",
				"project %q does not exist: a project must be created (in the UI or with POST /api/v2.0/projects) before anyone can push into it", project)
		}
	}
	return errs.New(errs.Denied, "DENIED", "requested access to the resource is denied: %s may not %s %s",
		p.Name(), strings.Join(missing, ","), repo)
}

// Challenge is the WWW-Authenticate value sending clients to the token
// service with the scope they need.
func (g *Registry) Challenge(r *http.Request, need ...ocihttp.Access) string {
	c := fmt.Sprintf(`Bearer realm=%q,service=%q`, g.a.Realm(r), Service)
	var scopes []string
	for _, n := range need {
		switch {
		case n.Type == "repository":
			scopes = append(scopes, "repository:"+n.Name+":"+strings.Join(n.Actions, ","))
		case n.Type == "registry" && n.Name == "catalog":
			scopes = append(scopes, "registry:catalog:*")
		}
	}
	if len(scopes) > 0 {
		c += fmt.Sprintf(`,scope=%q`, strings.Join(scopes, " "))
	}
	if _, ok := bearerToken(r); ok {
		c += `,error="insufficient_scope"`
	}
	return c
}

// Asked reports whether the request's token carries an entry for a (in
// which case a missing action is policy's answer, not a missing scope).
// Basic credentials are checked against policy directly, so they count.
func (g *Registry) Asked(r *http.Request, a ocihttp.Access) bool {
	tok, ok := bearerToken(r)
	if !ok {
		return true
	}
	c, err := g.a.acc.Signer().Verify(tok, Service)
	if err != nil {
		return true // a bad token gets its own answer
	}
	for _, e := range c.Access {
		if e.Type == a.Type && e.Name == a.Name {
			return true
		}
	}
	return false
}

// Visible returns the catalog filter for the request's principal.
func (g *Registry) Visible(r *http.Request) (func(ctx context.Context, repo string) (bool, error), error) {
	p, _, err := g.a.Principal(r)
	if err != nil {
		return nil, err
	}
	projects := map[string]*meta.Project{}
	return func(ctx context.Context, repo string) (bool, error) {
		return g.a.acc.CanSeeRepository(ctx, p, repo, projects)
	}, nil
}

// Record audits a registry operation.
func (g *Registry) Record(r *http.Request, op, repo, ref string) {
	p, _, err := g.a.Principal(r)
	if err != nil {
		return
	}
	resource := repo
	if ref != "" {
		if strings.Contains(ref, ":") {
			resource += "@" + ref
		} else {
			resource += ":" + ref
		}
	}
	var projectID int64
	if pr, err := g.a.acc.DB().Q().GetProjectByName(r.Context(), access.ProjectOf(repo)); err == nil {
		projectID = pr.ID
	}
	g.a.audit(r, p, op, "artifact", resource, projectID)
}

func containsAction(list []string, a string) bool {
	for _, x := range list {
		if x == a || x == access.ActAll {
			return true
		}
	}
	return false
}
