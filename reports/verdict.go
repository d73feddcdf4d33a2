package reports

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
)

// Standings of a model in a workload class, the verdict grid's cells.
const (
	StandBest        = "best"
	StandTied        = "tied"         // tied with the best: not significantly different
	StandSomePoints  = "best at some" // best at some points of a class that depends on the point
	StandBehind      = "behind"
	StandNotMeasured = "not measured"
	StandNotRanked   = "not ranked"
)

// VerdictCell is one model's standing in one class: the grid's cell.
type VerdictCell struct {
	Standing string
	// Text is what the cell says, standing and why: "behind (−23%)",
	// "not ranked: too few repeats (n=3)".
	Text string
	// Detail is the longer reason, for a tooltip.
	Detail string
	// Anchor is the id of the class's evidence in index.html.
	Anchor string
}

// Glyph is the cell's colour as a character, so the grid reads in a
// terminal and in Markdown where CSS does not reach.
func (c VerdictCell) Glyph() string {
	switch c.Standing {
	case StandBest:
		return "🟩"
	case StandTied:
		return "🟦"
	case StandSomePoints:
		return "🟪"
	case StandBehind:
		return "🟧"
	case StandNotRanked:
		return "🟨"
	}
	return "⬜"
}

// CSS is the cell's class in index.html ("v-best", "v-not-ranked", ...).
func (c VerdictCell) CSS() string { return "v-" + strings.ReplaceAll(c.Standing, " ", "-") }

// VerdictRow is one model across every class.
type VerdictRow struct {
	Model string
	Cells []VerdictCell // one per class, in Analysis.Classes order
}

// VerdictGrid is the verdict at a glance: models × workload classes. It is
// built from the recommendation (Analysis.Classes) alone, so a class added
// there appears here without more code.
func (a *Analysis) VerdictGrid() []VerdictRow {
	rows := make([]VerdictRow, 0, len(a.Models))
	for _, m := range a.candidates() {
		row := VerdictRow{Model: m}
		for i := range a.Classes {
			c := a.standing(&a.Classes[i], m)
			c.Anchor = ClassAnchor(a.Classes[i].ID)
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	return rows
}

// ClassAnchor is the id of a class's evidence section in index.html.
func ClassAnchor(classID string) string { return "class-" + classID }

// standing is model m's standing in class cr.
func (a *Analysis) standing(cr *ClassResult, m string) VerdictCell {
	if why := a.skippedWhy(m); why != "" {
		return VerdictCell{Standing: StandNotMeasured, Text: "not measured: skipped", Detail: why}
	}
	ranked, unranked, reason := presence(cr, m)
	switch {
	case !ranked && !unranked:
		return VerdictCell{Standing: StandNotMeasured, Text: StandNotMeasured, Detail: "no point of this class measured " + m}
	case cr.Status == StatusUndecided:
		return VerdictCell{Standing: StandNotRanked, Text: "not ranked: undecided", Detail: cr.Why}
	case !ranked:
		return VerdictCell{Standing: StandNotRanked, Text: "not ranked: " + shortReason(reason), Detail: reason}
	case cr.Status == StatusTooFew:
		return VerdictCell{Standing: StandNotRanked, Text: fmt.Sprintf("not ranked: too few repeats (n=%d)", rankedN(cr)), Detail: cr.Why}
	}
	inPick := slices.Contains(cr.Pick, m)
	switch {
	case inPick && cr.Status == StatusPick:
		return VerdictCell{Standing: StandBest, Text: StandBest, Detail: cr.Why}
	case inPick && cr.Status == StatusTie:
		return VerdictCell{Standing: StandTied, Text: "tied with the best", Detail: cr.Why}
	case inPick && cr.Status == StatusMixed:
		best, decided := bestAt(cr, m)
		return VerdictCell{Standing: StandSomePoints, Text: fmt.Sprintf("best at %d of %d points", best, decided), Detail: cr.Why}
	}
	return VerdictCell{Standing: StandBehind, Text: behindText(cr, m), Detail: cr.Why}
}

// skippedWhy is why model m was skipped on this machine, or "".
func (a *Analysis) skippedWhy(m string) string {
	for _, r := range a.Skipped {
		if r.Server.Name == m {
			return orDash(r.Error)
		}
	}
	return ""
}

// rankedN is the repeats of the best model at the class's first cell that
// ranked any: what "too few repeats" refers to.
func rankedN(cr *ClassResult) int {
	for _, v := range cr.Cells {
		if len(v.Ranked) > 0 {
			return v.Ranked[0].Sample.N
		}
	}
	return 0
}

// presence says whether m is ranked at some point of the class (behind the
// others counts: it was compared), unranked at some, and the first reason
// it was not ranked.
func presence(cr *ClassResult, m string) (ranked, unranked bool, reason string) {
	for _, v := range cr.Cells {
		for _, e := range append(v.Ranked[:len(v.Ranked):len(v.Ranked)], v.Behind...) {
			ranked = ranked || e.Model == m
		}
		for _, e := range v.Unranked {
			if e.Model == m && !unranked {
				unranked, reason = true, e.Unranked
			}
		}
	}
	return ranked, unranked, reason
}

// bestAt counts the decided cells of the class and those where m has the
// best median.
func bestAt(cr *ClassResult, m string) (best, decided int) {
	for _, v := range cr.Cells {
		if v.Undecided != "" {
			continue
		}
		decided++
		if v.Best() == m {
			best++
		}
	}
	return best, decided
}

// behindText is "behind", with m's change from the best at the class's
// first decided point where m was not among the winners: "behind (-23%)".
func behindText(cr *ClassResult, m string) string {
	for _, v := range cr.Cells {
		if v.Undecided != "" || slices.Contains(v.Winners, m) {
			continue
		}
		for _, e := range v.Ranked {
			if e.Model == m {
				return fmt.Sprintf("behind (%s)", signedPct(e.VsBest))
			}
		}
		for _, e := range v.Behind {
			if e.Model == m {
				return "behind: did not hold the rate"
			}
		}
	}
	return StandBehind
}

// shortReason is the first clause of an unranked reason, for a grid cell.
func shortReason(r string) string {
	first, _, _ := strings.Cut(r, ",")
	if len(first) > 40 {
		first = first[:37] + "…"
	}
	return first
}

// verdictLegend says what each standing means, once, under the grid.
const verdictLegend = "best: significantly best at every point of the class; tied: not significantly different from the best; " +
	"best at some: the class depends on the point; behind: significantly worse than the best (change of the median from the best's at the first point where it lost); " +
	"not ranked: measured but not comparable, with why; not measured: no point of the class, or the stack was skipped."

// writeVerdictMD writes the grid as a Markdown table: a glyph and the text
// in each cell, each linked to the evidence (the recommendation table).
func writeVerdictMD(b *strings.Builder, a *Analysis) {
	if len(a.Classes) == 0 {
		return
	}
	b.WriteString("## Verdict at a glance\n\n| Model |")
	for _, c := range a.Classes {
		fmt.Fprintf(b, " %s |", mdEscape(c.Name))
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(a.Classes)) + "\n")
	for _, row := range a.VerdictGrid() {
		fmt.Fprintf(b, "| **%s** |", row.Model)
		for _, c := range row.Cells {
			fmt.Fprintf(b, " %s [%s](#recommendation) |", c.Glyph(), mdEscape(c.Text))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "\n%s\n\n", verdictLegend)
}

// verdictHTML is the grid on index.html's first screen; reportHTML
// includes it with {{template "verdict" .A}}.
const verdictHTML = `<style>
#verdict{margin:12px 0 4px}
#verdict table{table-layout:fixed;font-size:12.5px}
#verdict th{font-size:11.5px;font-weight:600;line-height:1.2;overflow-wrap:anywhere;hyphens:auto}
#verdict td{padding:3px 4px;line-height:1.2;overflow-wrap:anywhere}
#verdict td a{color:inherit;text-decoration:none;display:block}
#verdict td a:hover{text-decoration:underline}
.v-best{background:#cdeed8;color:#0b5c2c;font-weight:600}
.v-tied{background:#dde9fb;color:#17407c}
.v-best-at-some{background:#efe3f7;color:#56206f}
.v-behind{background:#fde9d5;color:#7a3d0c}
.v-not-ranked{background:#fff4c8;color:#6b4c00}
.v-not-measured{background:#f0f0f0;color:#666}
#verdict .legend{font-size:12px;color:#555;margin:4px 0 0}
</style>
<section id="verdict" aria-label="Verdict at a glance">
<table>
<tr><th style="width:11%">Model</th>{{range .Classes}}<th><a href="#class-{{.ID}}">{{.Name}}</a></th>{{end}}</tr>
{{range .VerdictGrid}}<tr><th><span class="sw" style="background:{{color $ .Model}}"></span>{{.Model}}</th>{{range .Cells}}<td class="{{.CSS}}" title="{{.Detail}}"><a href="#{{.Anchor}}">{{.Text}}</a></td>{{end}}</tr>
{{end}}</table>
<p class="legend">Verdict at a glance, per workload class (each cell links to its evidence below). ` + verdictLegend + `</p>
</section>`

var _ = template.Must(reportTemplate.New("verdict").Parse(verdictHTML))
