package scan

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Package databases and binaries of known versions, written the way the
// real tools write them.

const alpineRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"

// apkInstalled is lib/apk/db/installed: P name, V version, o origin.
func apkInstalled(pkgs ...[3]string) string {
	var b strings.Builder
	for _, p := range pkgs {
		b.WriteString("C:Q1abc=\nP:" + p[0] + "\nV:" + p[1] + "\nA:x86_64\nS:1000\nI:2000\nT:test\nL:MIT\no:" + p[2] + "\nm:Someone\n\n")
	}
	return b.String()
}

const debianRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

// dpkgStanza is one package of var/lib/dpkg/status.
func dpkgStanza(name, version, source string) string {
	s := "Package: " + name + "\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: " + version + "\n"
	if source != "" {
		s += "Source: " + source + "\n"
	}
	return s + "Maintainer: Someone <a@b.c>\nDescription: test\n\n"
}

const almaRelease = "NAME=\"AlmaLinux\"\nVERSION=\"9.3 (Shamrock Pampas Cat)\"\nID=\"almalinux\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"AlmaLinux 9.3\"\nCPE_NAME=\"cpe:/o:almalinux:almalinux:9::baseos\"\n"

type rpmPkg struct {
	name, version, release, arch, srpm string
	epoch                              int32
}

// rpmHeader encodes an rpm header blob (as rpmdb.sqlite stores it): the
// index entries, big-endian, then the data store.
func rpmHeader(p rpmPkg) []byte {
	const (
		typeInt32  = 4
		typeString = 6
	)
	type ent struct {
		tag, typ int32
		data     []byte
	}
	str := func(s string) []byte { return append([]byte(s), 0) }
	epoch := make([]byte, 4)
	binary.BigEndian.PutUint32(epoch, uint32(p.epoch))
	ents := []ent{
		{1003, typeInt32, epoch}, // EPOCH first: int32 wants 4-byte alignment
		{1000, typeString, str(p.name)},
		{1001, typeString, str(p.version)},
		{1002, typeString, str(p.release)},
		{1022, typeString, str(p.arch)},
		{1044, typeString, str(p.srpm)},
		{1014, typeString, str("MIT")},
		{1011, typeString, str("AlmaLinux")},
	}
	var index, store bytes.Buffer
	for _, e := range ents {
		binary.Write(&index, binary.BigEndian, []int32{e.tag, e.typ, int32(store.Len()), 1})
		store.Write(e.data)
	}
	var out bytes.Buffer
	binary.Write(&out, binary.BigEndian, []int32{int32(len(ents)), int32(store.Len())})
	out.Write(index.Bytes())
	out.Write(store.Bytes())
	return out.Bytes()
}

// rpmSQLite writes an rpmdb.sqlite with pkgs and returns its bytes.
func rpmSQLite(t testing.TB, pkgs ...rpmPkg) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if _, err := db.Exec(`INSERT INTO Packages (blob) VALUES (?)`, rpmHeader(p)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	goBinOnce sync.Once
	goBin     []byte
	goBinErr  error
)

// goBinary builds a small program that depends on
// github.com/google/uuid v1.6.0 (from the module cache; no network), so
// its build info names that module and version.
func goBinary(t testing.TB) []byte {
	t.Helper()
	goBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-gobin-*")
		if err != nil {
			goBinErr = err
			return
		}
		defer os.RemoveAll(dir)
		files := map[string]string{
			"go.mod": "module example.com/hello\n\ngo 1.22\n\nrequire github.com/google/uuid v1.6.0\n",
			"go.sum": "github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n" +
				"github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n",
			"main.go": "package main\n\nimport \"github.com/google/uuid\"\n\nfunc main() { println(uuid.NewString()) }\n",
		}
		for n, s := range files {
			if goBinErr = os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); goBinErr != nil {
				return
			}
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			goBinErr = &buildError{err, string(out)}
			return
		}
		goBin, goBinErr = os.ReadFile(filepath.Join(dir, "hello"))
	})
	if goBinErr != nil {
		t.Fatalf("build test Go binary: %v", goBinErr)
	}
	return goBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// jarWithPom returns a jar holding Maven's pom.properties.
func jarWithPom(t testing.TB, group, artifact, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("META-INF/MANIFEST.MF")
	w.Write([]byte("Manifest-Version: 1.0\r\nImplementation-Title: " + artifact + "\r\nImplementation-Version: " + version + "\r\n\r\n"))
	w, _ = zw.Create("META-INF/maven/" + group + "/" + artifact + "/pom.properties")
	w.Write([]byte("groupId=" + group + "\nartifactId=" + artifact + "\nversion=" + version + "\n"))
	w, _ = zw.Create("org/example/A.class")
	w.Write(bytes.Repeat([]byte{0xca, 0xfe, 0xba, 0xbe}, 64))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pyMetadata(name, version string) string {
	return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: test\nLicense: BSD\n\n"
}

func npmPackage(name, version string) string {
	return `{"name":"` + name + `","version":"` + version + `","license":"MIT"}`
}

var _ = context.Background
