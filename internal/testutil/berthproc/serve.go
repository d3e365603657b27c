package berthproc

import (
	"net/http"
	"os"
	"time"
)

// ServeOptions says how to run one plain-HTTP `berth serve`.
type ServeOptions struct {
	Password string   // BERTH_ADMIN_PASSWORD; only the first start of DataDir uses it
	DataDir  string   // --data-dir
	LogPath  string   // berth's stdout and stderr go there
	Args     []string // more arguments after `serve --addr A --data-dir D --tls=off`
	Env      []string // added to the test's environment
}

// Server is a `berth serve` that answered /healthz on a free loopback port.
type Server struct {
	Addr     string // host:port
	Password string // admin's
	LogPath  string
	Proc     *Proc
}

// Serve starts bin as `berth serve` with TLS off on a free loopback port
// and waits up to a minute for /healthz to answer 200. When it does not,
// the process is stopped and the error is a *StartError.
func Serve(bin string, o ServeOptions) (*Server, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	argv := append([]string{bin, "serve", "--addr", addr, "--data-dir", o.DataDir, "--tls=off"}, o.Args...)
	env := append(append(os.Environ(), "BERTH_ADMIN_PASSWORD="+o.Password), o.Env...)
	p, err := Start(Options{Argv: argv, Env: env, LogPath: o.LogPath})
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: addr, Password: o.Password, LogPath: o.LogPath, Proc: p}
	if err := p.WaitHealthy(&http.Client{Timeout: 2 * time.Second}, s.URL()+"/healthz", time.Minute, 100*time.Millisecond); err != nil {
		p.Stop(stopGrace)
		return nil, err
	}
	return s, nil
}

// stopGrace is how long Stop waits after SIGTERM before it kills.
const stopGrace = 20 * time.Second

// URL is the server's base URL, http://host:port.
func (s *Server) URL() string { return "http://" + s.Addr }

// Stop ends the server with SIGTERM, or SIGKILL after 20s, and reports
// whether it had to kill.
func (s *Server) Stop() (killed bool) { return s.Proc.Stop(stopGrace) }

// Admin is a client of the server's /api/v2.0 as admin.
func (s *Server) Admin() *Admin { return NewAdmin(s.URL(), s.Password) }
