package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Chart layout in pixels (basicfont.Face7x13 is 7 px wide, 13 high).
const (
	chartWidth  = 1100
	labelWidth  = 300
	barHeight   = 14
	barGap      = 3
	groupGap    = 12
	chartMargin = 16
	valueWidth  = 90
)

// registry colours, in the order of rep.Registries (berth first).
var chartColors = []color.RGBA{
	{0x1f, 0x6f, 0xd0, 0xff}, {0xe0, 0x7b, 0x20, 0xff}, {0x3a, 0xa0, 0x50, 0xff},
	{0xb0, 0x3a, 0x8c, 0xff}, {0x80, 0x80, 0x80, 0xff},
}

// chartRows are the figures drawn: each workload's higher-is-better
// metrics, with every registry as a bar scaled to the best of its group.
func chartRows(rep *report) []metric {
	var out []metric
	for _, m := range allMetrics(rep) {
		if m.higherBetter {
			out = append(out, m)
		}
	}
	return out
}

// writeChart draws rep as a PNG: one group of bars per figure.
func writeChart(path string, rep *report) error {
	rows := chartRows(rep)
	n := len(rep.Registries)
	groupH := n*(barHeight+barGap) + groupGap
	height := 2*chartMargin + 3*18 + len(rows)*groupH
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	black := image.NewUniform(color.Black)
	// basicfont has ASCII only.
	ascii := strings.NewReplacer("×", "x", "—", "-", "…", "...")
	text := func(x, y int, s string) {
		d := font.Drawer{Dst: img, Src: black, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(ascii.Replace(s))
	}
	y := chartMargin + 12
	title := fmt.Sprintf("berth benchmark %s — bars scaled to the best registry of each row (higher is better)", rep.Started)
	if rep.Rounds > 1 {
		title = fmt.Sprintf("berth benchmark %s — medians of %d rounds, lines their range (higher is better)", rep.Started, rep.Rounds)
	}
	text(chartMargin, y, title)
	y += 18
	text(chartMargin, y, fmt.Sprintf("machine: sha256 %.0f MB/s, fsync'd disk %.0f MB/s, loopback %.0f MB/s, %d CPUs",
		rep.Machine.SHA256MBps, rep.Machine.DiskMBps, rep.Machine.LoopbackMBps, rep.Machine.CPUs))
	y += 18
	x := chartMargin
	for i, r := range rep.Registries {
		c := chartColors[i%len(chartColors)]
		draw.Draw(img, image.Rect(x, y-10, x+12, y+2), image.NewUniform(c), image.Point{}, draw.Src)
		text(x+16, y, r.Name)
		x += 16 + 7*len(r.Name) + 24
	}
	y += 18
	barMax := chartWidth - labelWidth - valueWidth - chartMargin
	for _, m := range rows {
		best := 0.0
		vals := make([]float64, n)
		spans := make([][2]float64, n)
		for i, r := range rep.Registries {
			vals[i], _ = value(r, m)
			best = max(best, vals[i])
			if lo, hi, ok := roundSpan(r, m); ok {
				spans[i] = [2]float64{lo, hi}
				best = max(best, hi)
			}
		}
		text(chartMargin, y+barHeight-3, truncLabel(m.workload+", "+m.name, (labelWidth-8)/7))
		px := func(v float64) int {
			if best <= 0 {
				return 0
			}
			return int(float64(barMax) * v / best)
		}
		for i, v := range vals {
			top := y + i*(barHeight+barGap)
			w := px(v)
			c := chartColors[i%len(chartColors)]
			draw.Draw(img, image.Rect(labelWidth, top, labelWidth+max(w, 1), top+barHeight), image.NewUniform(c), image.Point{}, draw.Src)
			end := w
			if sp := spans[i]; sp[1] > 0 {
				// The rounds' range: a line across the bar's middle,
				// with a tick at each end.
				lo, hi := labelWidth+px(sp[0]), labelWidth+px(sp[1])
				mid := top + barHeight/2
				draw.Draw(img, image.Rect(lo, mid-1, hi+1, mid+1), black, image.Point{}, draw.Src)
				draw.Draw(img, image.Rect(lo, top+2, lo+1, top+barHeight-2), black, image.Point{}, draw.Src)
				draw.Draw(img, image.Rect(hi, top+2, hi+1, top+barHeight-2), black, image.Point{}, draw.Src)
				end = max(end, hi-labelWidth)
			}
			text(labelWidth+end+6, top+barHeight-3, num(v))
		}
		y += groupH
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// roundSpan is the lowest and highest of r's per-round figures for m,
// when m is its workload's main figure and it ran in several rounds.
func roundSpan(reg regResult, m metric) (lo, hi float64, ok bool) {
	r, found := find(reg.Results, m.workload)
	if !found || len(r.Rounds) < 2 || metricsFor(m.workload)[0].name != m.name {
		return 0, 0, false
	}
	lo, hi = r.Rounds[0], r.Rounds[0]
	for _, v := range r.Rounds[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi, true
}

func truncLabel(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
