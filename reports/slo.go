package reports

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// SLORate is one model's outcome of the SLO search in one open-loop group:
// per repeat the highest offered rate that held the objective
// (results.SLO.Held and results.HighestRateHeld, the rules of the
// orchestrator's search and of `echobench run`'s summary), summarised
// across repeats.
type SLORate struct {
	Group Cell // a sweep group (see sweepGroups)
	Model string
	Rate  stat.Summary
	// CapacityMsgsPerSec is the median over repeats of the closed-loop
	// capacity the group's rates were derived from; 0 when unknown.
	CapacityMsgsPerSec float64
	// Note says why the figure may not be the server's: client-limited
	// records, or no rate held in any repeat.
	Note string
}

// ShareOfCapacity is the median SLO rate over the median capacity, as
// `echobench run` prints it; NaN without a capacity.
func (s SLORate) ShareOfCapacity() float64 {
	if s.CapacityMsgsPerSec <= 0 || s.Rate.N == 0 {
		return math.NaN()
	}
	return s.Rate.Median / s.CapacityMsgsPerSec
}

// SLORates is the SLO rate of every model in every open-loop group, by group
// then model.
func (a *Analysis) SLORates() []SLORate {
	var out []SLORate
	for _, g := range sweepGroups(a) {
		for _, m := range a.Models {
			s, why, ok := sustainedSample(a, m, g)
			if !ok {
				continue
			}
			if s.Max == 0 {
				why = joinNonEmpty("no offered rate held in any repeat", why)
			}
			out = append(out, SLORate{Group: g, Model: m, Rate: s, CapacityMsgsPerSec: a.groupCapacity(m, g), Note: why})
		}
	}
	return out
}

// groupCapacity is the median over repeats of the capacity model's
// open-loop records in group g were derived from.
func (a *Analysis) groupCapacity(model string, g Cell) float64 {
	byRepeat := map[int]float64{}
	for i := range a.Run.Records {
		r := &a.Run.Records[i]
		if r.Server.Name != model || r.Scenario.CapacityMsgsPerSec <= 0 {
			continue
		}
		if sc := cellOf(r); (sc.Kind == results.KindSweep || sc.Kind == results.KindSLO) && sameGroup(sc, g) {
			byRepeat[r.Repeat] = r.Scenario.CapacityMsgsPerSec
		}
	}
	var caps []float64
	for _, c := range byRepeat {
		caps = append(caps, c)
	}
	return stat.Summarize(caps).Median // 0 for none
}

// SLOObjective states the objective the SLO rates were judged by, and
// where it came from.
func (a *Analysis) SLOObjective() string {
	o := a.Options
	s := fmt.Sprintf("p99 ≤ %s and completion ≥ %s, with the rate met, the load generator not the limit and nothing corrupted",
		usLabel(o.SLOP99Us), pctLabel(o.SLOCompletion))
	run := Options{}.withDefaults(a.Run.Records)
	if run.SLOP99Us == o.SLOP99Us && run.SLOCompletion == o.SLOCompletion {
		return s + " (the run's slo_p99 and slo_completion)"
	}
	return s + fmt.Sprintf(" (set for this report; the run searched with p99 ≤ %s and completion ≥ %s)", usLabel(run.SLOP99Us), pctLabel(run.SLOCompletion))
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// sloFigure charts the SLO rates: per open-loop group, each model's median
// with its CI, beside its closed-loop capacity.
func (a *Analysis) sloFigure() (*figure, string) {
	rates := a.SLORates()
	if len(rates) == 0 {
		return nil, "SLO rates: the run has no open-loop sweep or SLO search."
	}
	var panels []*plot.Plot
	for _, g := range sweepGroups(a) {
		p, err := a.sloPanel(g, rates)
		if err != nil {
			return nil, err.Error()
		}
		if p != nil {
			panels = append(panels, p)
		}
	}
	return &figure{name: "slo", title: "Highest open-loop rate held within the SLO (msgs/s), per model",
		caption: "Per repeat, the highest offered rate that held " + a.SLOObjective() +
			" (the sweep's fixed loads and the SLO search's steps together; a miss below a success is noise); the dot is the median over repeats, the bar its 95% CI (min–max below 6 repeats), the ring the model's closed-loop capacity (median). Higher is better.",
		plots: grid(panels, 2), rowHeight: 3 * vg.Inch}, ""
}

// sloPanel is one group's panel: nil when no model has a rate in it.
func (a *Analysis) sloPanel(g Cell, rates []SLORate) (*plot.Plot, error) {
	var models []string
	for _, r := range rates {
		if r.Group == g {
			models = append(models, r.Model)
		}
	}
	if len(models) == 0 {
		return nil, nil
	}
	p := newPlot(fmt.Sprintf("c=%d%s %s d=%d%s", g.Conns, g.extraLabel(), sizeLabel(g.SizeBytes), g.Depth, g.workLabel()), "", "msgs/s")
	var capXYs plotter.XYs
	i := 0
	for _, r := range rates {
		if r.Group != g {
			continue
		}
		col, glyph := a.modelStyle(r.Model)
		xy := plotter.XYs{{X: float64(i), Y: r.Rate.Median}}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: glyph}
		eb, err := plotter.NewYErrorBars(errXYs{xy, []float64{r.Rate.Lo}, []float64{r.Rate.Hi}})
		if err != nil {
			return nil, err
		}
		eb.Color, eb.Width = col, vg.Points(1.4)
		p.Add(sc, eb)
		if r.CapacityMsgsPerSec > 0 {
			capXYs = append(capXYs, plotter.XY{X: float64(i), Y: r.CapacityMsgsPerSec})
		}
		i++
	}
	if len(capXYs) > 0 {
		sc, err := plotter.NewScatter(capXYs)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotter.DefaultLineStyle.Color, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
		p.Add(sc)
		p.Legend.Add("closed-loop capacity", sc)
	}
	p.NominalX(models...)
	p.X.Min, p.X.Max = -0.5, float64(len(models))-0.5
	p.Y.Min = 0
	p.Legend.Top = false
	return p, nil
}
