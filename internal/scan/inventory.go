package scan

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	archivemeta "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/simplefileapi"
	scalibrfs "github.com/google/osv-scalibr/fs"
)

// Package discovery uses OSV-SCALIBR's extractors: each one says which
// files it wants (by path and mode) and parses them. The engine feeds
// them the flattened image instead of a live file system.

// finder is one extractor with the package type it reports.
type finder struct {
	typ string
	x   filesystem.Extractor
}

// finders builds the extractors, bounded to the engine's file size limit.
func (e *Engine) finders() ([]finder, error) {
	cfg := &cpb.PluginConfig{MaxFileSizeBytes: e.limits.MaxFileSize, DisableGoogleAuth: true,
		PluginSpecific: []*cpb.PluginSpecificConfig{{Config: &cpb.PluginSpecificConfig_JavaArchive{
			// Archives inside archives are read into memory: bound how
			// deep and how much, against zip bombs.
			JavaArchive: &cpb.JavaArchiveConfig{MaxZipDepth: 4, MaxOpenedBytes: e.limits.MaxFileSize},
		}}}}
	list := []struct {
		typ string
		new func(*cpb.PluginConfig) (filesystem.Extractor, error)
	}{
		{"apk", apk.New},
		{"dpkg", dpkg.New},
		{"rpm", rpm.New},
		{"go-binary", gobinary.New},
		{"npm", packagejson.New},
		{"python", wheelegg.New},
		{"java-archive", archive.New},
	}
	out := make([]finder, 0, len(list))
	for _, l := range list {
		x, err := l.new(cfg)
		if err != nil {
			return nil, fmt.Errorf("scan: set up %s finder: %w", l.typ, err)
		}
		out = append(out, finder{l.typ, x})
	}
	return out, nil
}

// osReleasePaths are where os-release(5) lives, in the order read.
var osReleasePaths = []string{"etc/os-release", "usr/lib/os-release"}

// Inventory finds the packages in img without matching them.
func (e *Engine) Inventory(ctx context.Context, img Image) (Inventory, error) {
	fds, err := e.finders()
	if err != nil {
		return Inventory{}, err
	}
	want := func(name string, fi fs.FileInfo) bool {
		if slices.Contains(osReleasePaths, name) {
			return true
		}
		api := simplefileapi.New(name, fi)
		for _, f := range fds {
			if f.x.FileRequired(api) {
				return true
			}
		}
		return false
	}
	t, err := e.flatten(ctx, img, want)
	if err != nil {
		return Inventory{}, err
	}
	defer t.close()
	if t.skipped > 0 {
		e.log.Warn("scan: files left out by the size limits", "digest", img.Digest, "files", t.skipped)
	}
	inv := Inventory{Distro: t.distro(), Packages: []Package{}}
	names := make([]string, 0, len(t.files))
	for n := range t.files {
		names = append(names, n)
	}
	sort.Strings(names)
	sfs := scalibrfs.DirFS(t.dir)
	for _, name := range names {
		k := t.files[name]
		api := simplefileapi.New(name, k.info)
		for _, f := range fds {
			if !f.x.FileRequired(api) {
				continue
			}
			pkgs, err := t.extract(ctx, sfs, f, name, k.info)
			if err != nil {
				// One unreadable database must not hide the rest.
				e.log.Warn("scan: cannot read package file", "digest", img.Digest, "path", name,
					"finder", f.typ, "err", err)
				continue
			}
			inv.Packages = append(inv.Packages, pkgs...)
		}
	}
	inv.Packages = sortPackages(inv.Packages)
	return inv, nil
}

func (t *tree) extract(ctx context.Context, sfs scalibrfs.FS, f finder, name string, info fs.FileInfo) ([]Package, error) {
	r, err := t.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res, err := f.x.Extract(ctx, &filesystem.ScanInput{FS: sfs, Path: name, Root: t.dir, Info: info, Reader: r})
	if err != nil {
		return nil, err
	}
	out := make([]Package, 0, len(res.Packages))
	for _, p := range res.Packages {
		if p == nil || p.Name == "" {
			continue
		}
		out = append(out, convert(f.typ, name, p))
	}
	return out, nil
}

// convert maps a SCALIBR package to the engine's, working out the name
// and version OSV records use for it.
func convert(typ, location string, p *extractor.Package) Package {
	pkg := Package{Name: p.Name, Version: p.Version, Type: typ, Location: location,
		Ecosystem: osvEcosystem(p.Ecosystem().String()), Licenses: p.Licenses}
	if u := p.PURL(); u != nil {
		// SCALIBR marks npm packages whose registry it could not tell;
		// that says nothing to an SBOM reader.
		pkg.PURL = strings.TrimSuffix(u.String(), "?source=UNKNOWN")
	}
	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		if m.SourceName != "" && m.SourceName != p.Name {
			pkg.SourceName = m.SourceName
		}
		if m.SourceVersion != "" && m.SourceVersion != p.Version {
			pkg.SourceVersion = m.SourceVersion
		}
	case *apkmeta.Metadata:
		if m.OriginName != "" && m.OriginName != p.Name {
			pkg.SourceName = m.OriginName
		}
	case *rpmmeta.Metadata:
		if m.Epoch > 0 {
			// OSV's Red Hat family records write epochs; others compare
			// the version as the rpm database holds it.
			switch ecosystemBase(pkg.Ecosystem) {
			case "Red Hat", "AlmaLinux", "Rocky Linux":
				pkg.Version = fmt.Sprintf("%d:%s", m.Epoch, p.Version)
			}
		}
	case *archivemeta.Metadata:
		if m.GroupID != "" && m.ArtifactID != "" {
			pkg.Name = m.GroupID + ":" + m.ArtifactID
		}
	}
	if typ == "go-binary" && p.Name == "go" {
		pkg.Name = "stdlib"
	}
	return pkg
}

// osvEcosystem adds what OSV's ecosystem names need beyond the distro
// release: Ubuntu's LTS releases (YY.04 of even years) are
// "Ubuntu:22.04:LTS".
func osvEcosystem(eco string) string {
	base, release, ok := strings.Cut(eco, ":")
	if !ok || base != "Ubuntu" || strings.Contains(release, ":") {
		return eco
	}
	yy, mm, ok := strings.Cut(release, ".")
	if n, err := strconv.Atoi(yy); ok && err == nil && mm == "04" && n%2 == 0 {
		return eco + ":LTS"
	}
	return eco
}

// matchName and matchVersion are what a package is looked up by.
func (p *Package) matchName() string {
	n := p.Name
	if p.SourceName != "" {
		n = p.SourceName
	}
	return normalizeName(p.Ecosystem, n)
}

func (p *Package) matchVersion() string {
	if p.SourceVersion != "" {
		return p.SourceVersion
	}
	return p.Version
}

// sortPackages orders packages and drops exact duplicates (the same
// package found twice at one location).
func sortPackages(ps []Package) []Package {
	key := func(p Package) string {
		return p.Type + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Location + "\x00" + p.PURL
	}
	sort.SliceStable(ps, func(i, j int) bool { return key(ps[i]) < key(ps[j]) })
	out := ps[:0]
	for _, p := range ps {
		if len(out) > 0 && key(p) == key(out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// distro reads os-release from the flattened image.
func (t *tree) distro() Distro {
	for _, p := range osReleasePaths {
		f, err := t.root.Open(p)
		if err != nil {
			continue
		}
		defer f.Close()
		d := Distro{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				d.ID = v
			case "VERSION_ID":
				d.VersionID = v
			case "PRETTY_NAME":
				d.Pretty = v
			}
		}
		return d
	}
	return Distro{}
}
