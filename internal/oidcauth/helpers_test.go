package oidcauth_test

import (
	"encoding/base64"
	"regexp"
)

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
