package ldapdn

import "testing"

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cn=devs,ou=x", "cn=devs,ou=x"},
		{"cn=devs, ou=x", "cn=devs,ou=x"},
		{"CN=Devs ,  OU=X", "cn=devs,ou=x"},
		{`cn=a\,b,ou=x`, `cn=a\,b,ou=x`},
		{`cn=a\2cb,ou=x`, `cn=a\,b,ou=x`},
		{"cn=a+uid=B,ou=x", "cn=a+uid=b,ou=x"},
	} {
		got, err := Canonical(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"cn", "=x", "cn=a,,ou=x"} {
		if got, err := Canonical(bad); err == nil {
			t.Errorf("Canonical(%q) = %q, want an error", bad, got)
		}
	}
	if got := Key("not a dn"); got != "not a dn" {
		t.Errorf("Key of a non-DN = %q", got)
	}
}
