package scan

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// dbErr turns "no database" into the error scans report.
func dbErr(err error) error {
	if errs.Is(err, errs.NotFound) {
		return errNoDB
	}
	return err
}

// Match matches an inventory of img against the vulnerability database
// in use. Packages whose ecosystem is unknown (no distro release found)
// are not matched. A package is reported once per advisory, under the
// advisory's CVE id when it has one.
func (e *Engine) Match(ctx context.Context, img Image, inv Inventory) (Report, error) {
	q := e.db.Q()
	gen, err := q.CurrentVulnGeneration(ctx)
	if err != nil {
		return Report{}, dbErr(err)
	}
	e.warnIfStale(gen)
	rep := Report{GeneratedAt: e.now().UTC(), Scanner: e.scanner, Severity: SeverityNone,
		Vulnerabilities: []Vulnerability{}}
	if img.Repository != "" || img.Digest != "" {
		rep.Artifact = &Artifact{Repository: img.Repository, Digest: img.Digest, MimeType: img.MediaType}
	}

	// Group by ecosystem, then look every name up at once.
	byEco := map[string][]int{}
	for i, p := range inv.Packages {
		if p.Ecosystem == "" || p.Version == "" {
			continue
		}
		byEco[p.Ecosystem] = append(byEco[p.Ecosystem], i)
	}
	ecos := make([]string, 0, len(byEco))
	for eco := range byEco {
		ecos = append(ecos, eco)
	}
	sort.Strings(ecos)
	records := map[string]*osvRecord{}
	var zr gzip.Reader       // reused: a new reader per record costs more than the record
	seen := map[string]int{} // package|version|id -> index in rep.Vulnerabilities
	for _, eco := range ecos {
		idx := byEco[eco]
		names := make([]string, 0, len(idx))
		for _, i := range idx {
			names = append(names, inv.Packages[i].matchName())
		}
		// A package whose ecosystem has no release (SCALIBR gives none
		// for Rocky Linux, Wolfi, …, or when os-release has no
		// VERSION_ID) matches records of any release, as OSV-SCALIBR's
		// own matcher does.
		base, _, hasRelease := strings.Cut(eco, ":")
		rows, err := q.VulnRecordsFor(ctx, gen.ID, eco, !hasRelease, names)
		if err != nil {
			return Report{}, err
		}
		if hasRelease { // and records that name no release
			more, err := q.VulnRecordsFor(ctx, gen.ID, base, false, names)
			if err != nil {
				return Report{}, err
			}
			rows = append(rows, more...)
		}
		byName := map[string][]string{}
		for _, row := range rows {
			if _, ok := records[row.ID]; !ok {
				rec, err := decodeRecord(&zr, row.Data)
				if err != nil {
					return Report{}, fmt.Errorf("scan: record %s: %w", row.ID, err)
				}
				records[row.ID] = rec
			}
			byName[row.Name] = append(byName[row.Name], row.ID)
		}
		for _, i := range idx {
			p := &inv.Packages[i]
			for _, id := range byName[p.matchName()] {
				rec := records[id]
				v, ok := findingFor(rec, p, eco)
				if !ok {
					continue
				}
				key := p.Name + "\x00" + p.Version + "\x00" + p.Location + "\x00" + v.ID
				if j, dup := seen[key]; dup {
					// Two advisories for one CVE (e.g. a distro's and
					// GitHub's): keep the more severe.
					if v.Severity.Code() > rep.Vulnerabilities[j].Severity.Code() {
						rep.Vulnerabilities[j] = v
					}
					continue
				}
				seen[key] = len(rep.Vulnerabilities)
				rep.Vulnerabilities = append(rep.Vulnerabilities, v)
			}
		}
	}
	for _, v := range rep.Vulnerabilities {
		rep.Severity = MaxSeverity(rep.Severity, v.Severity)
	}
	sort.SliceStable(rep.Vulnerabilities, func(i, j int) bool {
		a, b := rep.Vulnerabilities[i], rep.Vulnerabilities[j]
		if a.Severity.Code() != b.Severity.Code() {
			return a.Severity.Code() > b.Severity.Code()
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Version < b.Version
	})
	return rep, nil
}

// warnIfStale logs, at most hourly, that the database has not been
// imported for a week: findings published since are missed.
func (e *Engine) warnIfStale(g meta.VulnGeneration) {
	now := e.now()
	age := now.Sub(g.ImportedAt)
	if age < staleAfter {
		return
	}
	last := e.lastStaleWarn.Load()
	if now.Unix()-last < 3600 || !e.lastStaleWarn.CompareAndSwap(last, now.Unix()) {
		return
	}
	e.log.Warn("the vulnerability database is old; run `berth scanner import` or set scanner.db_urls",
		"imported_at", g.ImportedAt, "age", age.Round(time.Hour).String(), "source", g.Source)
}

// findingFor checks rec against p, returning the finding when p's
// installed version is affected.
func findingFor(rec *osvRecord, p *Package, eco string) (Vulnerability, bool) {
	name, ver := p.matchName(), p.matchVersion()
	for i := range rec.Affected {
		a := &rec.Affected[i]
		if !sameEcosystem(a.Package.Ecosystem, eco) || normalizeName(eco, a.Package.Name) != name {
			continue
		}
		hit, fixed := a.affects(ver)
		if !hit {
			continue
		}
		sev, cv := rec.severity(a)
		id := rec.cveID()
		attrs := map[string]any{"osv_id": rec.ID, "ecosystem": eco}
		var aliases []string
		for _, x := range append(append([]string{rec.ID}, rec.Aliases...), rec.Upstream...) {
			if x != id && !contains(aliases, x) {
				aliases = append(aliases, x)
			}
		}
		if len(aliases) > 0 {
			attrs["aliases"] = aliases
		}
		if p.SourceName != "" {
			attrs["source_package"] = p.SourceName
		}
		if cv != nil {
			osv := map[string]any{}
			if cv.VectorV3 != "" {
				osv["V3Vector"], osv["V3Score"] = cv.VectorV3, *cv.ScoreV3
			}
			if cv.VectorV2 != "" {
				osv["V2Vector"], osv["V2Score"] = cv.VectorV2, *cv.ScoreV2
			}
			attrs["CVSS"] = map[string]any{"osv": osv}
		}
		return Vulnerability{ID: id, Package: p.Name, Version: p.Version, FixVersion: fixed,
			Severity: sev, Description: rec.description(), Links: rec.links(), PURL: p.PURL,
			PreferredCVSS: cv, CWEIDs: rec.cweIDs(), VendorAttributes: attrs}, true
	}
	return Vulnerability{}, false
}

// sameEcosystem compares OSV ecosystems; a side without a release
// matches every release of the other.
func sameEcosystem(record, pkg string) bool {
	if record == pkg {
		return true
	}
	rb, _, rok := strings.Cut(record, ":")
	pb, _, pok := strings.Cut(pkg, ":")
	return rb == pb && (!rok || !pok)
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// cweIDs reads GitHub's database_specific.cwe_ids.
func (r *osvRecord) cweIDs() []string {
	var ds struct {
		CWEIDs []string `json:"cwe_ids"`
	}
	if len(r.DatabaseSpecific) > 0 {
		_ = json.Unmarshal(r.DatabaseSpecific, &ds)
	}
	if ds.CWEIDs == nil {
		return []string{}
	}
	return ds.CWEIDs
}

func decodeRecord(zr *gzip.Reader, data []byte) (*osvRecord, error) {
	if err := zr.Reset(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxRecordSize))
	if err != nil {
		return nil, err
	}
	var rec osvRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}
