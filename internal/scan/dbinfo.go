package scan

import (
	"context"
	"encoding/json"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// errNoDB is returned by lookups before any import.
var errNoDB = errs.New(errs.Unavailable, "", "no vulnerability database has been imported; run `berth scanner import` or configure scanner.db_urls")

// DBInfo describes the vulnerability database in use; Loaded is false
// when none has been imported.
func (e *Engine) DBInfo(ctx context.Context) (DBInfo, error) {
	g, err := e.db.Q().CurrentVulnGeneration(ctx)
	if errs.Is(err, errs.NotFound) {
		return DBInfo{Ecosystems: map[string]int{}}, nil
	}
	if err != nil {
		return DBInfo{}, err
	}
	return genInfo(g), nil
}

func genInfo(g meta.VulnGeneration) DBInfo {
	info := DBInfo{Loaded: true, Source: g.Source, Checksum: g.Checksum, ImportedAt: g.ImportedAt,
		UpdatedAt: g.UpdatedAt, Records: int(g.Records), Ecosystems: map[string]int{}}
	if err := json.Unmarshal([]byte(g.Ecosystems), &info.Ecosystems); err != nil {
		info.Ecosystems = map[string]int{}
	}
	return info
}
