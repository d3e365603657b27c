package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// ociImage is a small multi-layer image: config, layers and the manifest
// that names them.
type ociImage struct {
	config   []byte
	layers   [][]byte
	manifest []byte
	digests  []string // config first, then layers
}

// pseudoRandom returns n bytes that differ for every seed: content that
// no registry has seen, made without a system call per byte.
func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6265727468))
	b := make([]byte, (n+7)&^7)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

// makeImage builds image number seed with the given layer sizes.
func makeImage(seed uint64, layerSizes []int) ociImage {
	im := ociImage{config: []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"bench":%d}`, seed))}
	im.digests = append(im.digests, digestOf(im.config))
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	var ls []desc
	for i, n := range layerSizes {
		b := pseudoRandom(seed<<8|uint64(i), n)
		im.layers = append(im.layers, b)
		d := digestOf(b)
		im.digests = append(im.digests, d)
		ls = append(ls, desc{"application/vnd.oci.image.layer.v1.tar", d, n})
	}
	im.manifest, _ = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        desc{"application/vnd.oci.image.config.v1+json", im.digests[0], len(im.config)},
		"layers":        ls,
	})
	return im
}

func (im ociImage) size() int64 {
	n := int64(len(im.config) + len(im.manifest))
	for _, l := range im.layers {
		n += int64(len(l))
	}
	return n
}

// pushImage pushes every blob of im, then its manifest under tag.
func (c *client) pushImage(ctx context.Context, repo, tag string, im ociImage) error {
	if err := c.pushMonolithic(ctx, repo, im.config, im.digests[0]); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for i, l := range im.layers {
		if err := c.pushMonolithic(ctx, repo, l, im.digests[i+1]); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return c.putManifest(ctx, repo, tag, im.manifest)
}

// pullImage GETs the manifest by tag, then the config and every layer.
func (c *client) pullImage(ctx context.Context, repo, tag string, im ociImage) error {
	if _, err := c.getManifest(ctx, repo, tag); err != nil {
		return err
	}
	if err := c.pull(ctx, repo, im.digests[0], int64(len(im.config))); err != nil {
		return err
	}
	for i, l := range im.layers {
		if err := c.pull(ctx, repo, im.digests[i+1], int64(len(l))); err != nil {
			return err
		}
	}
	return nil
}

// imageLayerSizes are the layers of every image of the image workloads:
// a spread like a small application image.
func imageLayerSizes(o options) []int {
	s := o.imageLayerSize
	return []int{s, s / 4, s / 16, 4 << 10}
}

// imageWorkloads pushes and then pulls 2×clients (at least 48, so that one client runs for about a second) images with
// `clients` concurrent clients, for each level of concurrency.
func imageWorkloads(c *client, d *workloadData, o options) []step {
	var steps []step
	for _, n := range o.imageClients {
		count := max(48, 2*n)
		var images []ociImage
		name := fmt.Sprintf("image push ×%d", n)
		// run times op on every image with n clients.
		run := func(ctx context.Context, name string, op func(cx context.Context, repo, tag string, im ociImage) error) (result, error) {
			var bytes int64
			for _, im := range images {
				bytes += im.size()
			}
			cx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			lat, el, err := parallel(cx, count, n, func(cx context.Context, i int) error {
				return op(cx, fmt.Sprintf("bench/img%d-%d", n, i%4), fmt.Sprintf("v%d", i), images[i])
			})
			return summarize(name, lat, bytes*int64(len(lat))/int64(count), el), err
		}
		steps = append(steps, step{name: name, f: func(ctx context.Context) (result, error) {
			images = images[:0]
			for i := range count {
				images = append(images, makeImage(d.seed+uint64(n)<<32+uint64(i), imageLayerSizes(o)))
			}
			return run(ctx, name, c.pushImage)
		}})
		pname := fmt.Sprintf("image pull ×%d", n)
		steps = append(steps, step{name: pname, f: func(ctx context.Context) (result, error) {
			return run(ctx, pname, c.pullImage)
		}})
	}
	return steps
}

// listWorkloads fill one repository with o.tags tags and the registry
// with o.repos repositories (mounting one image's blobs; setup is not
// timed), then time complete listings of each, following Link headers.
func listWorkloads(c *client, d *workloadData, o options) []step {
	base := makeImage(d.seed^0x7a6, []int{4 << 10})
	const tagRepo = "bench/tags"
	tagName := fmt.Sprintf("tag list %d", o.tags)
	catName := fmt.Sprintf("catalog %d repos", o.repos)
	measure := func(ctx context.Context, name string, want int, path, field, scope string) (result, error) {
		cx, cancel := context.WithTimeout(ctx, 2*time.Minute+o.duration)
		defer cancel()
		list := func(cx context.Context) error {
			n, err := c.listAll(cx, path, field, scope)
			if err == nil && n < want {
				return fmt.Errorf("listed %d entries, want at least %d", n, want)
			}
			return err
		}
		// One listing always completes, however long it takes (bounded by
		// cx), so that a slow registry gets a figure rather than none.
		first, err := timed(func() error { return list(cx) })
		if err != nil {
			return result{}, err
		}
		lat, el, err := forDuration(cx, o.duration, 1, 200, list)
		return summarize(name, append(lat, first), 0, el+first), err
	}
	return []step{
		{name: tagName, once: true, setup: func(ctx context.Context) error {
			cx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			t := time.Now()
			if err := c.pushImage(cx, tagRepo, "base", base); err != nil {
				return err
			}
			if _, _, err := parallel(cx, o.tags, o.clients, func(cx context.Context, i int) error {
				return c.putManifest(cx, tagRepo, fmt.Sprintf("t%05d", i), base.manifest)
			}); err != nil {
				return err
			}
			logf("    (setup: %d tags in %.1fs)", o.tags, time.Since(t).Seconds())
			return nil
		}, f: func(ctx context.Context) (result, error) {
			return measure(ctx, tagName, o.tags, "/v2/"+tagRepo+"/tags/list", "tags", pullScope(tagRepo))
		}},
		{name: catName, once: true, setup: func(ctx context.Context) error {
			cx, cancel := context.WithTimeout(ctx, 15*time.Minute)
			defer cancel()
			t := time.Now()
			if _, _, err := parallel(cx, o.repos, o.clients, func(cx context.Context, i int) error {
				repo := fmt.Sprintf("bench/c%05d", i)
				for j, dg := range base.digests {
					ok, err := c.mount(cx, repo, tagRepo, dg)
					if err != nil {
						return err
					}
					if !ok { // no cross-repository mount: upload instead
						b := base.config
						if j > 0 {
							b = base.layers[j-1]
						}
						if err := c.pushMonolithic(cx, repo, b, dg); err != nil {
							return err
						}
					}
				}
				return c.putManifest(cx, repo, "v1", base.manifest)
			}); err != nil {
				return err
			}
			logf("    (setup: %d repositories in %.1fs)", o.repos, time.Since(t).Seconds())
			return nil
		}, f: func(ctx context.Context) (result, error) {
			return measure(ctx, catName, o.repos, "/v2/_catalog", "repositories", catalogScope())
		}},
	}
}

// mixedWorkload is a CI-like mix for o.duration on o.clients clients:
// per ten operations, four image pulls, two "is it up to date" checks
// (HEAD of the manifest and of every blob), two pushes of a new small
// image, one new tag and one tag list. Latencies are per operation.
func mixedWorkload(c *client, d *workloadData, o options) step {
	const name = "mixed CI"
	return step{name: name, f: func(ctx context.Context) (result, error) {
		cx, cancel := context.WithTimeout(ctx, 2*time.Minute+o.duration)
		defer cancel()
		const repo = "bench/ci"
		seedImgs := make([]ociImage, 8)
		for i := range seedImgs {
			seedImgs[i] = makeImage(d.seed^0xc1<<16+uint64(i), imageLayerSizes(o))
			if err := c.pushImage(cx, repo, fmt.Sprintf("base%d", i), seedImgs[i]); err != nil {
				return result{}, fmt.Errorf("setup: %w", err)
			}
		}
		var seq atomic.Uint64
		var moved atomic.Int64
		lat, el, err := forDuration(cx, o.duration, o.clients, 1_000_000, func(cx context.Context) error {
			n := seq.Add(1)
			im := seedImgs[n%uint64(len(seedImgs))]
			tag := fmt.Sprintf("base%d", n%uint64(len(seedImgs)))
			switch n % 10 {
			case 0, 1, 2, 3:
				moved.Add(im.size())
				return c.pullImage(cx, repo, tag, im)
			case 4, 5:
				if err := c.headManifest(cx, repo, tag); err != nil {
					return err
				}
				for _, dg := range im.digests {
					if err := c.headBlob(cx, repo, dg); err != nil {
						return err
					}
				}
				return nil
			case 6, 7:
				nim := makeImage(d.seed^0xc2<<16+n, []int{64 << 10, 16 << 10})
				moved.Add(nim.size())
				return c.pushImage(cx, repo, fmt.Sprintf("build%d", n), nim)
			case 8:
				return c.putManifest(cx, repo, fmt.Sprintf("rel%d", n), im.manifest)
			default:
				_, err := c.listAll(cx, "/v2/"+repo+"/tags/list", "tags", pullScope(repo))
				return err
			}
		})
		return summarize(name, lat, moved.Load(), el), err
	}}
}
