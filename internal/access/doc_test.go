package access

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/permissions.md from the matrix in rbac.go")

// TestPermissionsDocUpToDate keeps docs/permissions.md equal to what
// PermissionsMarkdown renders from the code. Run it with -update (or
// BERTH_UPDATE_DOCS=1) to rewrite the file after changing rbac.go.
func TestPermissionsDocUpToDate(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "permissions.md")
	want := PermissionsMarkdown()
	if *updateDocs || os.Getenv("BERTH_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with BERTH_UPDATE_DOCS=1 go test ./internal/access -run TestPermissionsDocUpToDate)", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Fatalf("docs/permissions.md is out of date with rbac.go (-rendered +file):\n%s\n"+
			"regenerate it with BERTH_UPDATE_DOCS=1 go test ./internal/access -run TestPermissionsDocUpToDate", diff)
	}
}

// TestPermissionsMarkdownCoversTheMatrix checks the renderer itself: one
// row per project permission, and a tick exactly where the matrix grants.
func TestPermissionsMarkdownCoversTheMatrix(t *testing.T) {
	md := PermissionsMarkdown()
	rows := map[string][]string{}
	for _, line := range strings.Split(md, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 9 { // "" + 7 columns + ""
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[cells[1]] = cells[2:8]
	}
	for _, p := range ProjectPerms() {
		cells, ok := rows[p.String()]
		if !ok {
			t.Errorf("no row for %s", p)
			continue
		}
		for i, role := range docRoles {
			if got, want := cells[i] == "✓", RoleAllows(role, p.Resource, p.Action); got != want {
				t.Errorf("%s, %s: rendered %v, matrix %v", p, RoleName(role), got, want)
			}
		}
		if got, want := cells[5] == "✓", PublicAllows(p.Resource, p.Action); got != want {
			t.Errorf("%s, public: rendered %v, matrix %v", p, got, want)
		}
	}
	// The header row and the separator are the only other 7-column lines.
	if n := len(rows) - 2; n != len(ProjectPerms()) {
		t.Errorf("%d permission rows, want %d", n, len(ProjectPerms()))
	}
}
