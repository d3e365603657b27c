package app

import (
	"context"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/oci"
)

// apiSystem tells the management API what only assembly knows: the
// external URL, whether a CA is offered at /api/v2.0/systeminfo/getcert
// (served by tls.go), how to measure the data volume and how to check
// the blob store.
func apiSystem(cfg config.Config, store blob.Store, tlsSrv *serverTLS) []api.Option {
	provider := "filesystem"
	if _, ok := cfg.Storage.S3(); ok {
		provider = "s3"
	}
	opts := []api.Option{
		api.WithExternalURL(cfg.Server.ExternalURL),
		api.WithCARoot(tlsSrv.ca != nil),
		api.WithStorageProvider(provider),
		api.WithHealthCheck("storage", func(ctx context.Context) error {
			// A digest nobody stores: finding nothing is an answer.
			_, err := store.Stat(ctx, oci.FromBytes([]byte("berth health check")))
			if err == nil || errs.Is(err, errs.NotFound) {
				return nil
			}
			return err
		}),
	}
	if path, ok := cfg.Storage.FilePath(); ok {
		if vol := volumeOf(path); vol != nil {
			opts = append(opts, api.WithVolumes(vol))
		}
	}
	return opts
}
