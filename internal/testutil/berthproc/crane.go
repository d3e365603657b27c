package berthproc

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
)

// CraneOptions are crane's options for calling the registry (/v2) as
// admin over plain HTTP; every call made with them ends within timeout,
// and they expire when t ends.
func (a *Admin) CraneOptions(t testing.TB, timeout time.Duration) []crane.Option {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return []crane.Option{
		crane.Insecure,
		crane.WithContext(ctx),
		crane.WithAuth(&authn.Basic{Username: "admin", Password: a.password}),
	}
}
