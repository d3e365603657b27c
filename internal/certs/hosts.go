package certs

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"time"
)

// fqdnTimeout bounds the look-up of the host's full name: start-up must
// not wait on a slow or absent DNS server.
const fqdnTimeout = 500 * time.Millisecond

// hostSet is a set of names and IP addresses for a certificate's subject
// alternative names, in the order they were first added. Names compare
// case-insensitively, addresses by value.
type hostSet struct {
	names []string
	ips   []net.IP
}

// add puts each host in the set: an IP address as one, anything else as
// a DNS name (lower-cased).
func (s *hostSet) add(hosts ...string) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			s.addIP(ip)
			continue
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !s.hasName(h) {
			s.names = append(s.names, h)
		}
	}
}

func (s *hostSet) addIP(ip net.IP) {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	if !s.hasIP(ip) {
		s.ips = append(s.ips, ip)
	}
}

// addCert adds the subject alternative names of c.
func (s *hostSet) addCert(c *x509.Certificate) {
	s.add(c.DNSNames...)
	for _, ip := range c.IPAddresses {
		s.addIP(ip)
	}
}

func (s *hostSet) hasName(n string) bool {
	for _, have := range s.names {
		if strings.EqualFold(have, n) {
			return true
		}
	}
	return false
}

func (s *hostSet) hasIP(ip net.IP) bool {
	for _, have := range s.ips {
		if have.Equal(ip) {
			return true
		}
	}
	return false
}

// missingFrom returns the hosts of s that c does not name, as text.
func (s *hostSet) missingFrom(c *x509.Certificate) []string {
	var have hostSet
	have.addCert(c)
	var out []string
	for _, n := range s.names {
		if !have.hasName(n) {
			out = append(out, n)
		}
	}
	for _, ip := range s.ips {
		if !have.hasIP(ip) {
			out = append(out, ip.String())
		}
	}
	return out
}

// strings returns every host as text, names first.
func (s *hostSet) strings() []string {
	out := append([]string(nil), s.names...)
	for _, ip := range s.ips {
		out = append(out, ip.String())
	}
	return out
}

// LocalHosts returns the names under which this machine is reached: its
// host name, its fully qualified name when the resolver knows it at once
// (from /etc/hosts or a quick DNS answer), every address of its network
// interfaces except loopback and link-local ones, and the loopback names
// localhost, 127.0.0.1 and ::1.
func LocalHosts(ctx context.Context) []string {
	var s hostSet
	if h, err := os.Hostname(); err == nil && h != "" {
		s.add(h)
		if fqdn := lookupFQDN(ctx, h); fqdn != "" {
			s.add(fqdn)
		}
	}
	s.add("localhost", "127.0.0.1", "::1")
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := n.IP
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
				continue
			}
			s.addIP(ip)
		}
	}
	return s.strings()
}

// lookupFQDN returns the canonical name of host if it is longer than
// host itself, or "" when there is none or the answer takes too long.
func lookupFQDN(ctx context.Context, host string) string {
	if strings.Contains(host, ".") {
		return "" // already qualified
	}
	ctx, cancel := context.WithTimeout(ctx, fqdnTimeout)
	defer cancel()
	cname, err := net.DefaultResolver.LookupCNAME(ctx, host)
	if err != nil {
		return ""
	}
	cname = strings.TrimSuffix(cname, ".")
	if !strings.Contains(cname, ".") || strings.EqualFold(cname, host) {
		return ""
	}
	return cname
}
