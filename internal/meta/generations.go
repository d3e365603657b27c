package meta

import (
	"context"
	"maps"
	"sync"
	"time"
)

// Generations let hot read paths cache rows without serving stale ones
// after a change made on this node: a cache reads the generation first,
// then the rows, and keeps the result only while the generation is the
// same. A generation moves after every committed change of its kind made
// through this DB:
//
//   - the identity generation: users, robots, groups and group
//     memberships (and projects' deletion, which deletes their robots);
//   - the project generation: projects' rows (metadata, public flag,
//     storage limit), creation and deletion.
//
// Other nodes' changes are not seen, so such caches also expire: a change
// made on one node of a cluster is seen by the others within the cache's
// lifetime.

// changes is what a transaction changed.
type changes uint8

const (
	identityChange changes = 1 << iota
	projectChange
)

// IdentityGeneration is the current identity generation.
func (db *DB) IdentityGeneration() uint64 { return db.identGen.Load() }

func (db *DB) moveGenerations(c changes) {
	if c&identityChange != 0 {
		db.identGen.Add(1)
	}
	if c&projectChange != 0 {
		db.projGen.Add(1)
	}
}

// changed moves the generations of c once the change is committed: at
// once outside a transaction (the statement has committed; call it
// deferred), at the end of the transaction otherwise.
func (q *Q) changedKinds(c changes) {
	if q.tx && q.changed != nil {
		*q.changed |= c
		return
	}
	q.db.moveGenerations(c)
}

func (q *Q) identityChanged() { q.changedKinds(identityChange) }
func (q *Q) projectChanged()  { q.changedKinds(projectChange) }

// ProjectCacheTTL bounds how long CachedProjectByName reuses a row.
const ProjectCacheTTL = 5 * time.Second

const projectCacheMax = 10000

type projectEntry struct {
	p   Project
	gen uint64
	exp time.Time
}

type projectCache struct {
	mu sync.RWMutex
	m  map[string]projectEntry
}

// CachedProjectByName is GetProjectByName for hot read paths (the pull
// policies of every manifest GET): it reuses a row read less than
// ProjectCacheTTL ago unless a project changed on this node since. In a
// transaction it reads the row.
func (q *Q) CachedProjectByName(ctx context.Context, name string) (Project, error) {
	if q.tx {
		return q.GetProjectByName(ctx, name)
	}
	c := &q.db.projects
	gen := q.db.projGen.Load() // before the row: see above
	now := time.Now()
	c.mu.RLock()
	e, ok := c.m[name]
	c.mu.RUnlock()
	if ok && e.gen == gen && now.Before(e.exp) {
		p := e.p
		p.Metadata = maps.Clone(p.Metadata) // the caller may change its copy
		return p, nil
	}
	p, err := q.GetProjectByName(ctx, name)
	if err != nil {
		return Project{}, err
	}
	e = projectEntry{p: p, gen: gen, exp: now.Add(ProjectCacheTTL)}
	e.p.Metadata = maps.Clone(p.Metadata)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= projectCacheMax {
		c.m = make(map[string]projectEntry)
	}
	c.m[name] = e
	c.mu.Unlock()
	return p, nil
}
