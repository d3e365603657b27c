// Command oidc-provider runs oidctest's OpenID provider (zitadel/oidc's
// example OP) as a process, for the web UI's end-to-end tests, which
// drive its login form in a browser. It is test-only: web/e2e builds it
// into .tmp and it is never shipped.
//
//	oidc-provider -redirect http://127.0.0.1:5000/c/oidc/callback \
//	    -user alice:pw-alice:devs -user bob:pw-bob:registry-admins
//
// It listens on a free loopback port (or -addr), registers one web client
// (-client-id, -client-secret) for the redirect URL, prints its issuer URL
// as the first line of standard output, and serves until SIGINT or SIGTERM
// or until its standard input closes (so it ends with the test that
// started it). Users get the e-mail <name>@example.com and their groups in
// a "groups" claim.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/berth-registry/berth/internal/testutil/oidctest"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

type userFlags []oidctest.User

func (u *userFlags) String() string { return fmt.Sprint(len(*u), " users") }

// Set parses name:password[:group,group...].
func (u *userFlags) Set(v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("want name:password[:group,...], got %q", v)
	}
	x := oidctest.User{ID: "u-" + parts[0], Username: parts[0], Password: parts[1], Email: parts[0] + "@example.com", First: parts[0], Last: "Example"}
	if len(parts) == 3 && parts[2] != "" {
		x.Groups = strings.Split(parts[2], ",")
	}
	*u = append(*u, x)
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	redirect := flag.String("redirect", "", "the client's redirect URL (berth's /c/oidc/callback); required")
	clientID := flag.String("client-id", "berth", "client ID")
	clientSecret := flag.String("client-secret", "berth-secret", "client secret")
	var users userFlags
	flag.Var(&users, "user", "a user as name:password[:group,...] (repeatable)")
	flag.Parse()
	if *redirect == "" {
		fmt.Fprintln(os.Stderr, "oidc-provider: -redirect is required")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidc-provider:", err)
		os.Exit(1)
	}
	p := oidctest.Serve(l, "http://"+l.Addr().String(), false, storage.WebClient(*clientID, *clientSecret, *redirect))
	for _, u := range users {
		p.AddUser(u)
	}
	fmt.Println(p.Issuer)

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		done <- syscall.SIGTERM
	}()
	<-done
	p.Close()
}
