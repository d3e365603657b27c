// Package ldaptest gives tests a real LDAP server: a private OpenLDAP
// slapd (Debian package slapd; scripts/deps.sh installs it) started per
// test on free loopback ports, with its own configuration, an mdb database
// in a temporary directory, a certificate made for the test (LDAPS and
// StartTLS) and the memberOf overlay. The directory starts with the base
// entry, ou=people, ou=groups and a read-only search account; tests add
// the users and groups they need. Not being able to run slapd is a
// failure, not a skip.
package ldaptest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The fixed names of every test directory.
const (
	BaseDN    = "dc=berth,dc=test"
	PeopleDN  = "ou=people," + BaseDN
	GroupsDN  = "ou=groups," + BaseDN
	AdminDN   = "cn=admin," + BaseDN  // the rootdn: may write anything
	SearchDN  = "cn=search," + BaseDN // read-only account, cannot read passwords
	adminPass = "admin-secret"
)

// Server is one running slapd.
type Server struct {
	URL            string // ldap://127.0.0.1:port (StartTLS offered)
	LDAPSURL       string // ldaps://127.0.0.1:port
	SearchPassword string // password of SearchDN
	CAPEM          []byte // the CA that signed the server certificate
	CAFile         string // CAPEM written to a file
	Dir            string // configuration, database, certificates

	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// Start runs a slapd for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("ldaptest: slapd is required and could not run: %v\n(install the Debian packages slapd and ldap-utils: scripts/deps.sh)", err)
	}
	t.Cleanup(s.stop)
	if err := s.seed(); err != nil {
		t.Fatalf("ldaptest: load the base directory: %v", err)
	}
	return s
}

// Binary is the slapd program: $BERTH_TEST_SLAPD, the PATH, or /usr/sbin.
func Binary() (string, error) {
	if p := os.Getenv("BERTH_TEST_SLAPD"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("slapd"); err == nil {
		return p, nil
	}
	if fi, err := os.Stat("/usr/sbin/slapd"); err == nil && !fi.IsDir() {
		return "/usr/sbin/slapd", nil
	}
	return "", errors.New("no slapd on PATH or in /usr/sbin")
}

func start(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, log: filepath.Join(dir, "slapd.log")}
	s.SearchPassword = randomWord()
	if err := s.writeCerts(); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o600); err != nil {
		return nil, err
	}
	// A free port may be taken between probing and binding; try again.
	for attempt := 0; ; attempt++ {
		err = s.run(bin, conf)
		if err == nil {
			return s, nil
		}
		if attempt == 4 {
			return nil, err
		}
	}
}

func (s *Server) config() string {
	return fmt.Sprintf(`# berth ldaptest: a private slapd for one test
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server-key.pem
TLSVerifyClient never

database mdb
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
maxsize 33554432
dbnosync
# Passwords may be used to bind, never read; the search account and
# users read everything else; anonymous reads nothing.
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by users read
  by * none
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint true
`, s.Dir, BaseDN, AdminDN, adminPass)
}

func (s *Server) run(bin, conf string) error {
	plain, err1 := freePort()
	secure, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", plain)
	s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", secure)
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// -d 0 keeps slapd in the foreground without debug output, so that the
	// test owns the process.
	cmd := exec.Command(bin, "-f", conf, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "0")
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Setpgid keeps ^C in the terminal from reaching slapd; Pdeathsig
	// stops it if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := s.dialAdmin()
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("slapd exited at start: %s%s", s.logTail(), s.diagnose(conf))
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("slapd not ready after 30s: %v: %s", err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// diagnose asks slaptest why a configuration does not start, since slapd
// in the foreground logs nothing at debug level 0.
func (s *Server) diagnose(conf string) string {
	out, _ := exec.Command("slaptest", "-f", conf, "-u").CombinedOutput()
	if len(out) == 0 {
		return ""
	}
	return "\nslaptest: " + string(bytes.TrimSpace(out))
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	str := strings.TrimSpace(string(b))
	if len(str) > 2000 {
		str = "…" + str[len(str)-2000:]
	}
	return str
}

func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *Server) stop() { s.kill() }

// Stop stops slapd before the test ends (to test an unreachable server).
func (s *Server) Stop() { s.kill() }

// dialAdmin connects on the plain port and binds as the rootdn.
func (s *Server) dialAdmin() (*ldap.Conn, error) {
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(AdminDN, adminPass); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// CAPool is a pool holding the test CA.
func (s *Server) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.CAPEM)
	return p
}

// TLSConfig trusts the test CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CAPool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Port is the port of a ldap:// or ldaps:// URL of this server.
func Port(url string) int {
	i := strings.LastIndexByte(url, ':')
	p, _ := strconv.Atoi(url[i+1:])
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SSHA hashes a password the way slapd's {SSHA} scheme checks it.
func SSHA(password string) string {
	salt := make([]byte, 8)
	rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

func randomWord() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
