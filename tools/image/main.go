// Command image assembles berth's container image without a Docker build:
// one layer holding the static binary at /berth, an /etc/passwd and
// /etc/group naming the non-root user 65532, and an empty /data, on no
// base image. It writes an OCI image layout directory (--layout) and/or
// pushes the image (--push REF, with Basic credentials from
// BERTH_IMAGE_USERNAME and BERTH_IMAGE_PASSWORD when set).
//
//	go run ./tools/image --binary bin/berth --layout .tmp/image
//	go run ./tools/image --binary bin/berth --push registry.example.com/library/berth:dev
//
// The image is reproducible: every timestamp is SOURCE_DATE_EPOCH (0 when
// unset), so the same binary always gives the same digest.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user berth runs as: distroless's "nonroot".
const (
	uid     = 65532
	port    = "5000/tcp"
	dataDir = "/data"
)

type options struct {
	binary   string
	arch     string
	layout   string
	push     string
	insecure bool
	created  time.Time
	username string
	password string
}

func main() {
	o := options{}
	flag.StringVar(&o.binary, "binary", "bin/berth", "the static berth binary to put at /berth")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "the binary's architecture (GOARCH)")
	flag.StringVar(&o.layout, "layout", "", "write the image to this OCI image layout directory")
	flag.StringVar(&o.push, "push", "", "push the image to this reference (credentials from BERTH_IMAGE_USERNAME/BERTH_IMAGE_PASSWORD)")
	flag.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP for --push")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments %q", flag.Args()))
	}
	o.username, o.password = os.Getenv("BERTH_IMAGE_USERNAME"), os.Getenv("BERTH_IMAGE_PASSWORD")
	var err error
	if o.created, err = sourceDate(os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		fail(err)
	}
	if err := run(o, os.Stdout); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "image:", err)
	os.Exit(1)
}

func sourceDate(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

func run(o options, out io.Writer) error {
	if o.layout == "" && o.push == "" {
		return errors.New("nothing to do: give --layout DIR and/or --push REF")
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return err
	}
	img, err := build(bin, o.arch, o.created)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if o.layout != "" {
		if err := writeLayout(o.layout, img); err != nil {
			return fmt.Errorf("write %s: %w", o.layout, err)
		}
		fmt.Fprintf(out, "wrote %s@%s\n", o.layout, digest)
	}
	if o.push != "" {
		if err := push(o, img); err != nil {
			return fmt.Errorf("push %s: %w", o.push, err)
		}
		fmt.Fprintf(out, "pushed %s@%s\n", o.push, digest)
	}
	return nil
}

// build assembles the image around the binary bin.
func build(bin []byte, arch string, created time.Time) (v1.Image, error) {
	fs, err := rootFS(bin, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(fs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "berth tools/image", Comment: "berth binary"},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint:   []string{"/berth", "serve"},
		User:         strconv.Itoa(uid),
		WorkingDir:   dataDir,
		Env:          []string{"BERTH_DATA_DIR=" + dataDir},
		ExposedPorts: map[string]struct{}{port: {}},
		Volumes:      map[string]struct{}{dataDir: {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":  "berth",
			"org.opencontainers.image.source": "https://github.com/berth-registry/berth",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// rootFS is the uncompressed tar of the image's only layer.
func rootFS(bin []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode,
			Uid: owner, Gid: owner, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode,
			Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", uid, uid, dataDir)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid)
	for _, step := range []func() error{
		func() error { return file("berth", 0o755, bin) },
		func() error { return dir("etc/", 0o755, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("data/", 0o750, uid) },
		func() error { return dir("tmp/", 0o1777, 0) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayout writes img into a fresh (or existing) OCI layout at dir.
func writeLayout(dir string, img v1.Image) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return err
		}
	}
	return p.AppendImage(img)
}

func push(o options, img v1.Image) error {
	var nopts []name.Option
	if o.insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(o.push, nopts...)
	if err != nil {
		return err
	}
	auth := authn.Anonymous
	if o.username != "" {
		auth = authn.FromConfig(authn.AuthConfig{Username: o.username, Password: o.password})
	}
	return remote.Write(ref, img, remote.WithAuth(auth))
}
