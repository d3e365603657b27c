package pullsecret

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/google/go-cmp/cmp"
)

var robot = Secret{Name: "robot-alpha-ci", Namespace: "apps", Server: "registry.example:5000",
	Username: "robot$alpha+ci", Password: "it's a $ecret"}

func TestRoundTrip(t *testing.T) {
	got, err := Parse(robot.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(robot, got); diff != "" {
		t.Errorf("Parse(JSON) (-want +got):\n%s", diff)
	}
	var fromYAML, fromJSON manifest
	if err := yaml.Unmarshal(robot.YAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(robot.JSON(), &fromJSON); err != nil { // JSON is YAML
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromJSON, fromYAML); diff != "" {
		t.Errorf("YAML and JSON differ (-json +yaml):\n%s", diff)
	}
}

// TestKubectlQuoting runs the command through sh with a fake kubectl
// that prints its arguments: each value arrives as it was.
func TestKubectlQuoting(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-c", robot.Kubectl())
	cmd.Env = []string{"PATH=" + dir}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "create\nsecret\ndocker-registry\nrobot-alpha-ci\n--namespace\napps\n--docker-server=registry.example:5000\n" +
		"--docker-username=robot$alpha+ci\n--docker-password=it's a $ecret\n"
	if string(out) != want {
		t.Errorf("arguments:\n%s\nwant:\n%s", out, want)
	}
}
