package gc

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// The plan is the mark phase: which manifests, links and blobs look
// collectible, read from the metadata without locks. It may be stale by
// the time a step acts on it; every deletion re-checks its candidate
// under a lock (sweep.go), so a stale plan can only skip or postpone
// work, never delete something in use.

type manifestKey struct {
	repo int64
	d    oci.Digest
}

// blobRef is a blob with the size its row (or its file) gives.
type blobRef struct {
	d    oci.Digest
	size int64
}

type plan struct {
	// waves of manifests to delete, in order: deleting one wave can make
	// manifests of the next collectible (children of a deleted index,
	// referrers of a deleted subject).
	waves [][]manifestKey
	// links of repositories to blobs that no manifest of the repository
	// needs any more.
	links []manifestKey
	// blobs that nothing will reference once the above are gone.
	blobs []blobRef
	// leftovers are blobs in state deleting: a run stopped between
	// deleting their bytes and their row.
	leftovers []blobRef
	// rows names every blob with a row, for finding bytes without one.
	rows map[oci.Digest]struct{}
}

func (p *plan) manifestCount() int {
	n := 0
	for _, w := range p.waves {
		n += len(w)
	}
	return n
}

type manifestInfo struct {
	subject oci.Digest
	tagged  bool
	created time.Time
	parents int  // indexes of the repository that list it and survive
	deleted bool // planned for deletion
	queued  bool
}

// makePlan reads the metadata and decides what a run with this cutoff
// (now minus the grace period) would collect.
func (c *Collector) makePlan(ctx context.Context, cutoff time.Time, untagged bool) (*plan, error) {
	q := c.db.Q()
	ms := map[manifestKey]*manifestInfo{}
	if err := q.EachGCManifest(ctx, func(m meta.GCManifest) error {
		subject := m.Subject
		if subject == "" && !m.Tagged {
			// Only cosign's sha256-<hex>.sig (.att, .sbom) tag names it:
			// an accessory of that subject, collected when it is gone.
			subject = m.TagSubject
		}
		ms[manifestKey{m.RepoID, m.Digest}] = &manifestInfo{subject: subject, tagged: m.Tagged, created: m.CreatedAt}
		return nil
	}); err != nil {
		return nil, err
	}
	children := map[manifestKey][]oci.Digest{}
	if err := q.EachGCEdge(ctx, func(e meta.GCEdge) error {
		if info := ms[manifestKey{e.RepoID, e.Child}]; info != nil {
			info.parents++
		}
		k := manifestKey{e.RepoID, e.Parent}
		children[k] = append(children[k], e.Child)
		return nil
	}); err != nil {
		return nil, err
	}
	referrers := map[manifestKey][]oci.Digest{}
	for k, m := range ms {
		if m.subject != "" {
			s := manifestKey{k.repo, m.subject}
			referrers[s] = append(referrers[s], k.d)
		}
	}

	p := &plan{rows: map[oci.Digest]struct{}{}}
	present := func(k manifestKey) bool { m := ms[k]; return m != nil && !m.deleted }
	collectible := func(k manifestKey) bool {
		m := ms[k]
		if m == nil || m.deleted || m.tagged || m.parents > 0 || !m.created.Before(cutoff) {
			return false
		}
		if m.subject != "" {
			return !present(manifestKey{k.repo, m.subject})
		}
		return untagged
	}
	var wave []manifestKey
	for k := range ms {
		if collectible(k) {
			ms[k].queued = true
			wave = append(wave, k)
		}
	}
	for len(wave) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, k := range wave {
			ms[k].deleted = true
		}
		p.waves = append(p.waves, wave)
		var next []manifestKey
		consider := func(k manifestKey) {
			if m := ms[k]; m != nil && !m.queued && collectible(k) {
				m.queued = true
				next = append(next, k)
			}
		}
		for _, k := range wave {
			for _, child := range children[k] {
				ck := manifestKey{k.repo, child}
				if m := ms[ck]; m != nil {
					m.parents--
				}
				consider(ck)
			}
			for _, r := range referrers[k] {
				consider(manifestKey{k.repo, r})
			}
		}
		wave = next
	}

	// What the surviving manifests reference stays, and so do the links
	// that let their repositories use it.
	keepLink := map[manifestKey]struct{}{}
	keepBlob := map[oci.Digest]struct{}{}
	if err := q.EachGCBlobRef(ctx, func(repo int64, m, b oci.Digest) error {
		if info := ms[manifestKey{repo, m}]; info != nil && info.deleted {
			return nil
		}
		keepLink[manifestKey{repo, b}] = struct{}{}
		keepBlob[b] = struct{}{}
		return nil
	}); err != nil {
		return nil, err
	}
	linked := map[oci.Digest]struct{}{}
	if err := q.EachGCLink(ctx, func(l meta.GCLink) error {
		k := manifestKey{l.RepoID, l.Digest}
		_, keep := keepLink[k]
		if !keep && l.CreatedAt.Before(cutoff) && l.LastSeen.Before(cutoff) {
			p.links = append(p.links, k)
		} else {
			linked[l.Digest] = struct{}{}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := q.EachBlob(ctx, func(b meta.Blob) error {
		p.rows[b.Digest] = struct{}{}
		if b.State == meta.BlobDeleting {
			p.leftovers = append(p.leftovers, blobRef{b.Digest, b.Size})
			return nil
		}
		_, keep := keepBlob[b.Digest]
		_, link := linked[b.Digest]
		if !keep && !link && b.LastSeen.Before(cutoff) {
			p.blobs = append(p.blobs, blobRef{b.Digest, b.Size})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Digest order: each batch then takes its row locks in the order
	// manifest pushes take theirs, so the two do not deadlock.
	byDigest := func(a, b manifestKey) int {
		if c := strings.Compare(string(a.d), string(b.d)); c != 0 {
			return c
		}
		return cmp.Compare(a.repo, b.repo)
	}
	for _, w := range p.waves {
		slices.SortFunc(w, byDigest)
	}
	slices.SortFunc(p.links, byDigest)
	for _, list := range [][]blobRef{p.blobs, p.leftovers} {
		slices.SortFunc(list, func(a, b blobRef) int { return strings.Compare(string(a.d), string(b.d)) })
	}
	return p, nil
}
