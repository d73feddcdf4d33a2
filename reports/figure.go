package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// palette gives each model one colour in every chart: the Okabe–Ito
// colour-blind-safe set (without its yellow, too pale on white), then more:
// 14 in all, one per model of the full study (4 Go models, 10 foreign stacks).
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	{0x00, 0x00, 0x00, 0xff}, // black
	{0x88, 0x22, 0x55, 0xff}, // wine
	{0x44, 0xAA, 0x99, 0xff}, // teal
	{0x99, 0x99, 0x33, 0xff}, // olive
	{0x33, 0x22, 0x88, 0xff}, // indigo
	{0x8C, 0x51, 0x0A, 0xff}, // brown
	{0xEE, 0x66, 0x77, 0xff}, // rose
	{0x66, 0xAA, 0x00, 0xff}, // lime
}

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.RingGlyph{}}

// modelStyle is a model's colour and glyph: its index in Analysis.Models.
func (a *Analysis) modelStyle(model string) (color.RGBA, draw.GlyphDrawer) {
	for i, m := range a.Models {
		if m == model {
			// Past the palette, the glyph keeps models apart.
			return palette[i%len(palette)], glyphs[(i/len(palette)+i)%len(glyphs)]
		}
	}
	return color.RGBA{0x77, 0x77, 0x77, 0xff}, draw.CrossGlyph{}
}

// ModelColor is the CSS colour of a model, the same as in the charts.
func (a *Analysis) ModelColor(model string) string {
	c, _ := a.modelStyle(model)
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// Chart is one rendered chart.
type Chart struct {
	Name  string // file stem, e.g. "throughput"
	Title string
	// Caption explains how to read it, for the HTML report.
	Caption string
	PNG     []byte
	SVG     []byte
}

// figure is a grid of plots with a title and an environment footnote.
type figure struct {
	name, title, caption string
	footnote             string
	plots                [][]*plot.Plot // rows of columns
	rowHeight            vg.Length
	// legend names the models once for every panel, under the title.
	legend []string
	a      *Analysis
}

const (
	figWidth    = 10 * vg.Inch
	titleHeight = 0.45 * vg.Inch
	footHeight  = 0.45 * vg.Inch
)

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	sans := func(s *text.Style, size vg.Length) {
		s.Font = font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, size)
	}
	sans(&p.Title.TextStyle, 12)
	sans(&p.X.Label.TextStyle, 10)
	sans(&p.Y.Label.TextStyle, 10)
	sans(&p.X.Tick.Label, 9)
	sans(&p.Y.Tick.Label, 9)
	sans(&p.Legend.TextStyle, 9)
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Y.Tick.Marker = numTicks{plot.DefaultTicks{}}
	p.Add(plotter.NewGrid())
	return p
}

func (f figure) render(withPNG bool) (Chart, error) {
	c := Chart{Name: f.name, Title: f.title, Caption: f.caption}
	rows := len(f.plots)
	rh := f.rowHeight
	if rh == 0 {
		rh = 3.4 * vg.Inch
	}
	h := titleHeight + f.legendHeight() + footHeight + vg.Length(rows)*rh
	var err error
	svg := vgsvg.New(figWidth, h)
	if err = f.draw(draw.New(svg), h); err != nil {
		return c, err
	}
	var b bytes.Buffer
	if _, err = svg.WriteTo(&b); err != nil {
		return c, fmt.Errorf("chart %s: svg: %w", f.name, err)
	}
	c.SVG = b.Bytes()
	if !withPNG {
		return c, nil
	}
	img := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(figWidth, h), vgimg.UseDPI(110))}
	if err = f.draw(draw.New(img), h); err != nil {
		return c, err
	}
	var pb bytes.Buffer
	if _, err = img.WriteTo(&pb); err != nil {
		return c, fmt.Errorf("chart %s: png: %w", f.name, err)
	}
	c.PNG = pb.Bytes()
	return c, nil
}

func (f figure) draw(dc draw.Canvas, h vg.Length) (err error) {
	// gonum/plot panics on some degenerate inputs (e.g. a log axis over
	// non-positive values); a broken chart must not take the report down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart %s: %v", f.name, r)
		}
	}()
	dc.SetColor(color.White)
	var bg vg.Path
	bg.Move(vg.Point{})
	bg.Line(vg.Point{X: figWidth})
	bg.Line(vg.Point{X: figWidth, Y: h})
	bg.Line(vg.Point{Y: h})
	bg.Close()
	dc.Fill(bg)

	title := text.Style{Color: color.Black, Font: font.From(font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}, 14),
		XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(title, vg.Point{X: figWidth / 2, Y: h - 0.12*vg.Inch}, f.title)
	f.drawLegend(dc, h-titleHeight-0.05*vg.Inch)
	foot := text.Style{Color: color.Gray{0x55}, Font: font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, 8),
		XAlign: draw.XLeft, YAlign: draw.YBottom, Handler: plot.DefaultTextHandler}
	dc.FillText(foot, vg.Point{X: 0.15 * vg.Inch, Y: 0.1 * vg.Inch}, f.footnote)

	body := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: dc.Min.X, Y: dc.Min.Y + footHeight},
		Max: vg.Point{X: dc.Max.X, Y: dc.Max.Y - titleHeight - f.legendHeight()},
	}}
	cols := 0
	for _, r := range f.plots {
		cols = max(cols, len(r))
	}
	grid := make([][]*plot.Plot, len(f.plots))
	for i, r := range f.plots {
		grid[i] = make([]*plot.Plot, cols)
		copy(grid[i], r)
		for _, p := range r {
			if p != nil {
				padLogAxis(&p.X)
				padLogAxis(&p.Y)
			}
		}
	}
	tiles := draw.Tiles{Rows: len(grid), Cols: cols, PadX: 0.3 * vg.Inch, PadY: 0.3 * vg.Inch,
		PadTop: 0.05 * vg.Inch, PadBottom: 0.05 * vg.Inch, PadLeft: 0.1 * vg.Inch, PadRight: 0.2 * vg.Inch}
	canvases := plot.Align(grid, tiles, body)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	return nil
}

const (
	legendRow    = 0.3 * vg.Inch
	legendSwatch = 0.32 * vg.Inch
	legendGap    = 0.25 * vg.Inch
	legendPad    = 0.06 * vg.Inch // between a swatch and its name
	legendMargin = 0.3 * vg.Inch  // kept clear at each side of the figure
)

func legendStyle() text.Style {
	return text.Style{Color: color.Black, Font: font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, 10),
		XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
}

// legendEntryWidth is the width one model takes in the legend, with the gap
// after it.
func legendEntryWidth(sty text.Style, model string) vg.Length {
	return legendSwatch + legendPad + sty.Width(model) + legendGap
}

// legendRows splits the legend into rows that fit the figure's width: the
// full study's 13 models do not fit in one.
func (f figure) legendRows() [][]string {
	sty := legendStyle()
	var rows [][]string
	var row []string
	width := vg.Length(0)
	for _, m := range f.legend {
		w := legendEntryWidth(sty, m)
		if len(row) > 0 && width+w-legendGap > figWidth-2*legendMargin {
			rows = append(rows, row)
			row, width = nil, 0
		}
		row = append(row, m)
		width += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

func (f figure) legendHeight() vg.Length {
	return vg.Length(len(f.legendRows())) * legendRow
}

// drawLegend draws centred rows of model swatches (line and glyph in the
// model's colour) with their names, top at y.
func (f figure) drawLegend(dc draw.Canvas, y vg.Length) {
	sty := legendStyle()
	for r, row := range f.legendRows() {
		total := vg.Length(0)
		for _, m := range row {
			total += legendEntryWidth(sty, m)
		}
		x := (figWidth - total + legendGap) / 2
		cy := y - vg.Length(r)*legendRow - legendRow/2
		for _, m := range row {
			col, g := f.a.modelStyle(m)
			dc.StrokeLine2(draw.LineStyle{Color: col, Width: vg.Points(2)}, x, cy, x+legendSwatch, cy)
			dc.DrawGlyph(draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: g}, vg.Point{X: x + legendSwatch/2, Y: cy})
			x += legendSwatch + legendPad
			dc.FillText(sty, vg.Point{X: x, Y: cy}, m)
			x += sty.Width(m) + legendGap
		}
	}
}

// numTicks relabels another ticker's labels with num: "150k", not "150000".
type numTicks struct{ plot.Ticker }

func (t numTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := t.Ticker.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = tickNum(ts[i].Value)
		}
	}
	return ts
}

// tickNum is num without padding zeros: "2k", "1.5k", "500".
func tickNum(v float64) string {
	av := math.Abs(v)
	f := func(x float64, suffix string) string { return strconv.FormatFloat(x, 'g', 3, 64) + suffix }
	switch {
	case av >= 1e9:
		return f(v/1e9, "G")
	case av >= 1e6:
		return f(v/1e6, "M")
	case av >= 1e3:
		return f(v/1e3, "k")
	}
	return f(v, "")
}

// errXYs is a series with asymmetric Y error bars from lo to hi.
type errXYs struct {
	plotter.XYs
	lo, hi []float64
}

func (e errXYs) YError(i int) (float64, float64) {
	return e.XYs[i].Y - e.lo[i], e.hi[i] - e.XYs[i].Y
}

// series adds one model's line, points and optional error bars to p. flagged
// points get a cross so that a reader sees they are not ranked.
func (a *Analysis) series(p *plot.Plot, model string, xys plotter.XYs, lo, hi []float64, flagged []bool, dashed bool) error {
	if len(xys) == 0 {
		return nil
	}
	col, g := a.modelStyle(model)
	line, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("line %s: %w", model, err)
	}
	line.Color = col
	line.Width = vg.Points(1.6)
	if dashed {
		line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(line)
	ok, bad := plotter.XYs{}, plotter.XYs{}
	for i, xy := range xys {
		if flagged != nil && flagged[i] {
			bad = append(bad, xy)
		} else {
			ok = append(ok, xy)
		}
	}
	if len(ok) > 0 {
		sc, err := plotter.NewScatter(ok)
		if err != nil {
			return fmt.Errorf("points %s: %w", model, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: g}
		p.Add(sc)
	}
	if len(bad) > 0 {
		sc, err := plotter.NewScatter(bad)
		if err != nil {
			return fmt.Errorf("flagged points %s: %w", model, err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(5), Shape: draw.CrossGlyph{}}
		p.Add(sc)
	}
	if lo != nil {
		eb, err := plotter.NewYErrorBars(errXYs{xys, lo, hi})
		if err != nil {
			return fmt.Errorf("error bars %s: %w", model, err)
		}
		eb.Color = col
		eb.Width = vg.Points(1)
		p.Add(eb)
	}
	return nil
}

// logTicks labels a log axis at 1, 2, 5 × powers of ten that fall in range.
type logTicks struct{ format func(float64) string }

func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	if lo <= 0 || hi <= 0 || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			lab := ""
			if m == 1 || hi/lo < 1000 {
				lab = t.format(v)
			}
			out = append(out, plot.Tick{Value: v, Label: lab})
		}
	}
	return out
}

// valueTicks labels an axis exactly at the values the matrix used.
func valueTicks(vals []float64, format func(float64) string) plot.ConstantTicks {
	var out plot.ConstantTicks
	for _, v := range vals {
		out = append(out, plot.Tick{Value: v, Label: format(v)})
	}
	return out
}

func intLabel(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// padLogAxis widens a log axis whose data is one value (all repeats and
// models equal): gonum would widen it by ±1, below zero for a value under 1,
// and a log scale cannot draw that.
func padLogAxis(a *plot.Axis) {
	if _, ok := a.Scale.(plot.LogScale); ok && a.Min == a.Max && a.Min > 0 {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
}

func setLogY(p *plot.Plot) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{format: tickNum}
}
