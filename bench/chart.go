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
	text(chartMargin, y, fmt.Sprintf("berth benchmark %s — bars scaled to the best registry of each row (higher is better)", rep.Started))
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
		for i, r := range rep.Registries {
			vals[i], _ = value(r, m)
			best = max(best, vals[i])
		}
		text(chartMargin, y+barHeight-3, truncLabel(m.workload+", "+m.name, (labelWidth-8)/7))
		for i, v := range vals {
			top := y + i*(barHeight+barGap)
			w := 0
			if best > 0 {
				w = int(float64(barMax) * v / best)
			}
			c := chartColors[i%len(chartColors)]
			draw.Draw(img, image.Rect(labelWidth, top, labelWidth+max(w, 1), top+barHeight), image.NewUniform(c), image.Point{}, draw.Src)
			text(labelWidth+w+6, top+barHeight-3, num(v))
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

func truncLabel(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
