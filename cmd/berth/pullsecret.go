package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/pullsecret"
)

// pullSecret is `berth pull-secret`: it asks a running berth, through
// its API, for a Kubernetes image-pull Secret of a robot account (which
// gives the robot a new secret) and prints it as YAML with the
// equivalent kubectl command, or in one form.
func pullSecret(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("pull-secret", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("url", getenv("BERTH_URL"), "")
	user := fs.String("username", or(getenv("BERTH_USERNAME"), "admin"), "")
	robot := fs.String("robot", "", "")
	namespace := fs.String("namespace", "", "")
	name := fs.String("name", "", "")
	registry := fs.String("registry", "", "")
	format := fs.String("format", "both", "")
	caFile := fs.String("ca-file", getenv("BERTH_CA_FILE"), "")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		pullSecretUsage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "berth pull-secret: %v\n\n", err)
		pullSecretUsage(stderr)
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "berth pull-secret: unexpected argument %q\n\n", fs.Arg(0))
		pullSecretUsage(stderr)
		return exitUsage
	}
	password := getenv("BERTH_PASSWORD")
	var problems []string
	if *base == "" {
		problems = append(problems, "--url (or BERTH_URL) is required")
	}
	if *robot == "" {
		problems = append(problems, "--robot (an id or a name) is required")
	}
	if password == "" {
		problems = append(problems, "BERTH_PASSWORD must hold the password of --username")
	}
	switch *format {
	case "both", "yaml", "json", "kubectl":
	default:
		problems = append(problems, fmt.Sprintf("--format must be both, yaml, json or kubectl, got %q", *format))
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "berth pull-secret: %s\n\n", strings.Join(problems, "; "))
		pullSecretUsage(stderr)
		return exitUsage
	}
	c, err := newAPIClient(*base, *user, password, *caFile)
	if err != nil {
		fmt.Fprintf(stderr, "berth pull-secret: %v\n", err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := c.robotID(ctx, *robot)
	if err != nil {
		fmt.Fprintf(stderr, "berth pull-secret: %v\n", err)
		return exitError
	}
	body, _ := json.Marshal(map[string]string{"namespace": *namespace, "name": *name, "registry": *registry})
	raw, err := c.call(ctx, "POST", "/api/v2.0/robots/"+strconv.FormatInt(id, 10)+"/pullsecret", body)
	if err != nil {
		fmt.Fprintf(stderr, "berth pull-secret: %v\n", err)
		return exitError
	}
	sec, err := pullsecret.Parse(raw)
	if err != nil {
		fmt.Fprintf(stderr, "berth pull-secret: the server's answer: %v\n", err)
		return exitError
	}
	switch *format {
	case "yaml":
		_, _ = stdout.Write(sec.YAML())
	case "json":
		_, _ = stdout.Write(append(sec.JSON(), '\n'))
	case "kubectl":
		fmt.Fprint(stdout, sec.Kubectl())
	default:
		// YAML that kubectl apply -f - takes as is, the command as a comment.
		fmt.Fprintf(stdout, "# The robot's secret was renewed; its earlier one no longer works.\n"+
			"# Apply this with: kubectl apply -f -   or create the same Secret with:\n# %s", sec.Kubectl())
		_, _ = stdout.Write(sec.YAML())
	}
	return exitOK
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// apiClient calls berth's management API with basic credentials.
type apiClient struct {
	base, user, pass string
	http             *http.Client
}

func newAPIClient(base, user, pass, caFile string) (*apiClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q is not an http or https URL", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &apiClient{base: strings.TrimRight(base, "/"), user: user, pass: pass,
		http: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

// call makes one request and returns the body of a 2xx answer, or the
// error message of Harbor's error body.
func (c *apiClient) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.user, c.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 == 2 {
		return b, nil
	}
	var e struct {
		Errors []struct{ Code, Message string }
	}
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, e.Errors[0].Message)
	}
	return nil, fmt.Errorf("%s %s: %s", method, path, res.Status)
}

// robotID takes a robot's id as given, or finds it by its full name
// ("robot$project+name" for a project robot, "robot$name" for a system
// one, with the default prefix).
func (c *apiClient) robotID(ctx context.Context, robot string) (int64, error) {
	if id, err := strconv.ParseInt(robot, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	q := "Level=system"
	if i := strings.LastIndexByte(robot, '+'); i > 0 {
		project := robot[:i]
		if j := strings.IndexByte(project, '$'); j >= 0 {
			project = project[j+1:]
		}
		raw, err := c.call(ctx, "GET", "/api/v2.0/projects/"+url.PathEscape(project), nil)
		if err != nil {
			return 0, fmt.Errorf("robot %q: project %q: %w", robot, project, err)
		}
		var p struct {
			ProjectID int64 `json:"project_id"`
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.ProjectID <= 0 {
			return 0, fmt.Errorf("robot %q: project %q: unexpected answer", robot, project)
		}
		q = "Level=project,ProjectID=" + strconv.FormatInt(p.ProjectID, 10)
	}
	const pageSize = 100
	for page := 1; page <= 100; page++ { // bounded: 10,000 robots
		raw, err := c.call(ctx, "GET", fmt.Sprintf("/api/v2.0/robots?q=%s&page=%d&page_size=%d", url.QueryEscape(q), page, pageSize), nil)
		if err != nil {
			return 0, fmt.Errorf("find robot %q: %w", robot, err)
		}
		var list []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return 0, fmt.Errorf("find robot %q: unexpected answer: %w", robot, err)
		}
		for _, r := range list {
			if r.Name == robot {
				return r.ID, nil
			}
		}
		if len(list) < pageSize {
			break
		}
	}
	return 0, fmt.Errorf("no robot named %q (give its full name, e.g. robot$project+name, or its id)", robot)
}

func pullSecretUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: berth pull-secret --url URL --robot ID|NAME [flags]

Asks a running berth for a Kubernetes image-pull Secret
(kubernetes.io/dockerconfigjson) of a robot account and prints it as YAML,
with the equivalent kubectl command as a comment:
  BERTH_PASSWORD=… berth pull-secret --url https://registry.example.com \
      --robot 'robot$apps+deploy' --namespace apps | kubectl apply -f -
The robot's secret is renewed: its earlier secret stops working.

Flags:
  --url URL           berth's URL (BERTH_URL)
  --username NAME     an admin, or a project admin of the robot's project
                      (BERTH_USERNAME; default admin); the password comes
                      from BERTH_PASSWORD only
  --robot ID|NAME     the robot's id, or its full name (robot$project+name)
  --namespace NS      the Secret's namespace (default "default")
  --name NAME         the Secret's name (default from the robot's name)
  --registry HOST     the registry host[:port] in the Secret (default the
                      host berth is reached at)
  --format FORMAT     both (default), yaml, json or kubectl
  --ca-file FILE      a CA to trust for https (BERTH_CA_FILE), e.g. from
                      berth ca
`)
}
