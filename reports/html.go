package reports

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"

	"echobench/internal/results"
	"echobench/reports/stat"
)

// htmlOptions tune WriteHTML for tests.
type htmlOptions struct {
	// placeholders replaces chart images by their names, so a golden file
	// checks the structure and text, not the bytes of the SVG.
	placeholders bool
}

type htmlChart struct {
	Chart
	Src template.URL
}

type htmlAggregateRow struct {
	*Aggregate
	Color string
}

type htmlData struct {
	A          *Analysis
	RunID      string
	Charts     []htmlChart
	ChartNotes []string
	Rows       []htmlAggregateRow
	Unranked   []*Aggregate
	Alpha      float64
	MinDiff    int
	MinCI      int
	Stacks     []string
	SLO        []SLORate
}

// WriteHTML writes the self-contained report: every chart is embedded as an
// SVG data: URI, and there is no external resource.
func WriteHTML(w io.Writer, a *Analysis, charts []Chart, chartNotes []string) error {
	return writeHTML(w, a, charts, chartNotes, htmlOptions{})
}

func writeHTML(w io.Writer, a *Analysis, charts []Chart, chartNotes []string, opt htmlOptions) error {
	d := htmlData{A: a, RunID: a.runID(), ChartNotes: chartNotes, Unranked: a.unrankedAggregates(),
		Alpha: stat.Alpha, MinDiff: stat.MinForDifference, MinCI: stat.MinForCI, SLO: a.SLORates()}
	for _, c := range charts {
		src := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(c.SVG)
		if opt.placeholders {
			src = "data:image/svg+xml;base64,CHART-" + c.Name
		}
		d.Charts = append(d.Charts, htmlChart{Chart: c, Src: template.URL(src)})
	}
	for _, p := range a.Aggregates {
		d.Rows = append(d.Rows, htmlAggregateRow{Aggregate: p, Color: a.ModelColor(p.Server)})
	}
	for k, v := range a.Env.StackVersions {
		d.Stacks = append(d.Stacks, k+" "+v)
	}
	sort.Strings(d.Stacks)
	if err := reportTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	return nil
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":   num,
	"us":    usLabel,
	"pct":   func(r float64) string { return pctLabel(r) },
	"size":  sizeLabel,
	"color": func(a *Analysis, m string) template.CSS { return template.CSS(a.ModelColor(m)) },
	"label": func(s Cell) string { return s.Label() },
	"sum": func(s stat.Summary) string {
		if s.N == 0 {
			return "–"
		}
		return num(s.Median)
	},
	"ci":     func(s stat.Summary) string { return s.CIString() },
	"spread": spread,
	"kib":    func(v float64) string { return num(v/1024) + " KiB" },
	"status": func(r *results.Record) string { return statusOf(r) },
	"cell":   func(r *results.Record) string { return cellOf(r).Label() },
	"join":   strings.Join,
	"lower":  strings.ToLower,
	"isPick": func(s string) bool { return s == StatusPick || s == StatusTie },
	"delta":  signedPct,
	"share":  shareLabel,
	"facts":  TimelineFacts,
}).Parse(reportHTML))

// shareLabel is an SLO rate's share of capacity: "0.83", "–" when unknown.
func shareLabel(s SLORate) string {
	if f := s.ShareOfCapacity(); !math.IsNaN(f) {
		return fmt.Sprintf("%.2f", f)
	}
	return "–"
}

func spread(s stat.Summary) string {
	if s.N == 0 {
		return ""
	}
	return num(s.Min) + "–" + num(s.Max)
}

const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>echobench report {{.RunID}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:26px;margin:4px 0 2px}
h2{font-size:20px;margin:34px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}
.env{color:#555;font-size:13px}
table{border-collapse:collapse;background:#fff;font-size:13.5px;width:100%}
th,td{border:1px solid #e1e1e1;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pick td{font-size:14.5px}
.pick td.choice{font-size:17px;font-weight:600;white-space:nowrap}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:baseline}
.badge{display:inline-block;font-size:11.5px;padding:1px 7px;border-radius:9px;margin-left:6px;font-weight:500;vertical-align:middle}
.b-pick{background:#d9f2e3;color:#0b5c2c}.b-tie{background:#dde9fb;color:#17407c}
.b-too{background:#fff1cc;color:#6b4c00}.b-mixed{background:#efe3f7;color:#56206f}
.b-undecided{background:#fde2d8;color:#7a2a0c}.b-nodata{background:#eee;color:#555}
.why{color:#333;font-size:13px}
.box{background:#fff;border:1px solid #e5c07b;border-left:5px solid #e0a800;padding:8px 14px;margin:12px 0}
.box.bad{border-color:#e8a3a3;border-left-color:#c62828}
.box ul{margin:4px 0;padding-left:20px}
figure{margin:18px 0;background:#fff;border:1px solid #e1e1e1;padding:10px}
figure img{width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#444;margin-top:6px}
.flag{color:#b3261e}
code{font-size:12.5px;background:#f1f1f1;padding:0 3px;border-radius:3px}
nav a{margin-right:14px}
details{margin:8px 0}
</style>
</head>
<body>
<main>
<h1>echobench: which server model to pick</h1>
<div class="env">Run <code>{{.RunID}}</code> · {{len .A.Run.Records}} records · {{.A.EnvLine}}</div>
{{template "verdict" .A}}

<h2 id="pick">What to pick, per workload</h2>
<table class="pick">
<tr><th style="width:20%">Workload</th><th style="width:17%">Pick</th><th>Why (evidence)</th></tr>
{{range .A.Classes}}<tr>
<td><b>{{.Name}}</b></td>
<td class="choice">{{if isPick .Status}}{{range $i, $m := .Pick}}{{if $i}}, {{end}}<span class="sw" style="background:{{color $.A $m}}"></span>{{$m}}{{end}}{{else}}{{.Headline}}{{end}}
{{if eq .Status "pick"}}<span class="badge b-pick">significant</span>{{else if eq .Status "tie"}}<span class="badge b-tie">tie</span>{{else if eq .Status "too few repeats"}}<span class="badge b-too">too few repeats</span>{{else if eq .Status "mixed"}}<span class="badge b-mixed">depends on point</span>{{else if eq .Status "undecided"}}<span class="badge b-undecided">undecided</span>{{else}}<span class="badge b-nodata">no data</span>{{end}}</td>
<td class="why">{{if .Advice}}<i>{{.Advice}}</i> {{end}}{{.Why}}</td>
</tr>
{{end}}</table>
<p class="why">A model is named only where it is significantly better than every other (Mann–Whitney U test over repeats, α={{.Alpha}}); models not significantly different from the best are a tie. A difference needs ≥{{.MinDiff}} repeats per model and a 95% CI ≥{{.MinCI}}: with fewer, the report claims nothing. Client-limited repeats (the load generator saturated while the server had CPU to spare) are left out of the figures; failed, wholly client-limited and rate-not-met points are shown but never ranked. <a href="#classes">Which points fed each workload</a>.</p>

{{if .A.Skipped}}<div class="box bad" id="skipped"><b>Not measured: {{len .A.Skipped}} stack(s) skipped on this machine</b>
<ul>{{range .A.Skipped}}<li><b>{{.Server.Name}}</b>: {{.Error}}</li>{{end}}</ul></div>{{end}}
{{if .A.Failed}}<div class="box bad" id="failed"><b>{{len .A.Failed}} failed repeat(s)</b>
<ul>{{range .A.Failed}}<li><b>{{.Server.Name}}</b> {{cell .}} repeat {{.Repeat}}: {{.Error}}{{if .StderrTail}}<br><code>{{.StderrTail}}</code>{{end}}</li>{{end}}</ul></div>{{end}}
{{if .Unranked}}<div class="box" id="unranked"><b>{{len .Unranked}} point(s) shown but not ranked</b>
<ul>{{range .Unranked}}<li>{{.Key}}: {{.Unranked}}</li>{{end}}</ul></div>{{end}}
{{if .A.Warnings}}<div class="box" id="warnings"><b>Warnings</b>
<ul>{{range .A.Warnings}}<li>{{.}}</li>{{end}}</ul></div>{{end}}

<nav><a href="#charts">Charts</a><a href="#slo">SLO rates</a><a href="#timelines">Timelines</a><a href="#classes">Workload classes</a><a href="#points">All points</a><a href="#env">Environment</a><a href="#method">Method</a></nav>

<h2 id="charts">Charts</h2>
{{range .Charts}}<figure id="chart-{{.Name}}">
<img src="{{.Src}}" alt="{{.Title}}" data-chart="{{.Name}}">
<figcaption><b>{{.Title}}.</b> {{.Caption}} Files: <code>charts/{{.Name}}.svg</code>, <code>charts/{{.Name}}.png</code>.</figcaption>
</figure>
{{end}}{{range .ChartNotes}}<p class="why">Not drawn: {{.}}</p>{{end}}
{{template "slo" .}}
{{template "timelines" .A}}

<h2 id="classes">Workload classes: the points behind each recommendation</h2>
{{range .A.Classes}}<h3 id="class-{{.ID}}">{{.Name}} — {{.Headline}}</h3>
<p class="why">Rule: {{.Rule}}. Metric: {{.Metric}} ({{.Unit}}, {{if .HigherIsBetter}}higher{{else}}lower{{end}} is better).</p>
{{if .Cells}}<table>
<tr><th>Point</th><th>Model</th><th class="n">Median</th><th class="n">95% CI</th><th class="n">Min–max</th><th class="n">n</th><th>vs best</th></tr>
{{range $v := .Cells}}{{range $i, $e := .Ranked}}<tr>
<td>{{if eq $i 0}}<code>{{$v.Label}}</code>{{end}}</td>
<td><span class="sw" style="background:{{color $.A $e.Model}}"></span>{{$e.Model}}{{if eq $i 0}} <b>best</b>{{end}}</td>
<td class="n">{{sum $e.Sample}}</td><td class="n">{{ci $e.Sample}}</td><td class="n">{{spread $e.Sample}}</td><td class="n">{{$e.Sample.N}}</td>
<td>{{if $i}}{{delta $e.VsBest}} ({{$e.VsBest}}, {{$e.VsBest.Verdict}}){{end}}</td>
</tr>{{end}}{{range $i, $e := .Behind}}<tr>
<td>{{if and (eq $i 0) (not $v.Ranked)}}<code>{{$v.Label}}</code>{{end}}</td><td><span class="sw" style="background:{{color $.A $e.Model}}"></span>{{$e.Model}}</td>
<td class="n">{{sum $e.Sample}}</td><td class="n">{{ci $e.Sample}}</td><td class="n">{{spread $e.Sample}}</td><td class="n">{{$e.Sample.N}}</td>
<td class="flag">behind: {{$e.Behind}}</td>
</tr>{{end}}{{range .Unranked}}<tr>
<td></td><td><span class="sw" style="background:{{color $.A .Model}}"></span>{{.Model}}</td>
<td class="n">{{sum .Sample}}</td><td class="n">{{ci .Sample}}</td><td class="n">{{spread .Sample}}</td><td class="n">{{.Sample.N}}</td>
<td class="flag">not ranked: {{.Unranked}}</td>
</tr>{{end}}{{if .Undecided}}<tr><td></td><td colspan="6" class="flag">No claim here: {{.Undecided}}</td></tr>{{end}}
{{end}}</table>{{else}}<p class="why">No point of this run falls in this class.</p>{{end}}
{{end}}

<h2 id="points">All points</h2>
<p class="why">Medians over the ok repeats, with the 95% CI of the median ({{.MinCI}}+ repeats) and min–max. Latency in µs; RSS is growth per connection over the idle server. {{.A.BaselineNote}}</p>
<table>
<tr><th>Point</th><th>Model</th><th class="n">ok/n</th><th class="n">msgs/s</th><th class="n">CI</th><th class="n">min–max</th><th class="n">× c-epoll</th><th class="n">offered</th><th class="n">p50 µs</th><th class="n">p99 µs</th><th class="n">p99.9 µs</th><th class="n">completed</th><th class="n">CPU µs/msg</th><th class="n">RSS/conn</th><th>Flags</th></tr>
{{range .Rows}}<tr>
<td><code>{{label .Cell}}</code></td>
<td><span class="sw" style="background:{{.Color}}"></span>{{.Server}}</td>
<td class="n">{{len .OK}}/{{.Repeats}}</td>
<td class="n">{{sum .ThroughputMsgsPerSec}}</td><td class="n">{{ci .ThroughputMsgsPerSec}}</td><td class="n">{{spread .ThroughputMsgsPerSec}}</td>
<td class="n">{{$.A.VsBaseline .Aggregate}}</td>
<td class="n">{{sum .RateMsgsPerSec}}</td>
<td class="n">{{sum .P50Us}}</td><td class="n">{{sum .P99Us}}</td><td class="n">{{sum .P999Us}}</td>
<td class="n">{{if .CompletionRatio.N}}{{pct .CompletionRatio.Median}}{{else}}–{{end}}</td>
<td class="n">{{sum .CPUPerMsgUs}}</td><td class="n">{{if .RSSBytesPerConn.N}}{{kib .RSSBytesPerConn.Median}}{{else}}–{{end}}</td>
<td class="flag">{{.Unranked}}{{with .Unstable}} {{.}}{{end}}</td>
</tr>
{{end}}</table>

<h2 id="env">Environment</h2>
<table>
<tr><th style="width:25%">CPU</th><td>{{.A.Env.CPUModel}}, {{.A.Env.Cores}} cores</td></tr>
<tr><th>Pinning</th><td>server on CPUs {{.A.Env.ServerCPUs}} with GOMAXPROCS {{.A.Env.ServerGOMAXPROCS}}; load generator on CPUs {{.A.Env.ClientCPUs}}</td></tr>
<tr><th>Kernel</th><td>{{.A.Env.Kernel}}</td></tr>
<tr><th>Go</th><td>{{.A.Env.GoVersion}}</td></tr>
{{range .A.EnvRows}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}<tr><th>Stacks</th><td>{{if .Stacks}}{{join .Stacks ", "}}{{else}}–{{end}}</td></tr>
<tr><th>Models</th><td>{{range $i, $m := .A.Models}}{{if $i}}, {{end}}<span class="sw" style="background:{{color $.A $m}}"></span>{{$m}}{{end}}</td></tr>
<tr><th>Results</th><td><code>{{.A.Run.Path}}</code>{{if .A.Run.TornTail}} (ends with a torn line, ignored){{end}}</td></tr>
</table>

<h2 id="method">Method</h2>
<p class="why">Repeats of a point (model × kind × mode × connections × size × depth × work × load) are aggregated: median, min–max and the 95% confidence interval of the median (golang.org/x/perf/benchmath, AssumeNothing, as benchstat). Comparisons use the Mann–Whitney U test at α={{.Alpha}}. Latency distributions merge the HDR histograms of every repeat exactly. Open-loop latency runs from each message's intended send time (no coordinated omission). An open-loop point holds its load when the rate was met, p99 ≤ {{us .A.Options.SLOP99Us}} and ≥ {{pct .A.Options.SLOCompletion}} of messages completed.</p>
</main>
</body>
</html>
`

// timelineHTML is the SLO rates' table and the list of timelines, after the
// charts.
var _ = template.Must(reportTemplate.New("slo-and-timelines").Parse(timelineHTML))

const timelineHTML = `{{define "slo"}}<h2 id="slo">Highest rate within the SLO</h2>
{{if .SLO}}<p class="why">Objective: {{.A.SLOObjective}}. Per repeat, the highest offered rate that held it (the sweep's fixed loads and the SLO search's steps together; a miss below a success is noise), as <code>echobench run</code> prints it; median over repeats with its 95% CI, and its share of the model's closed-loop capacity. <a href="#chart-slo">Chart</a>.</p>
<table>
<tr><th>Open-loop point</th><th>Model</th><th class="n">msgs/s held</th><th class="n">95% CI</th><th class="n">min–max</th><th class="n">n</th><th class="n">of capacity</th><th>Note</th></tr>
{{range .SLO}}<tr><td><code>{{label .Group}}</code></td><td><span class="sw" style="background:{{color $.A .Model}}"></span>{{.Model}}</td><td class="n">{{sum .Rate}}</td><td class="n">{{ci .Rate}}</td><td class="n">{{spread .Rate}}</td><td class="n">{{.Rate.N}}</td><td class="n">{{share .}}</td><td class="flag">{{.Note}}</td></tr>
{{end}}</table>{{else}}<p class="why">The run has no open-loop sweep or SLO search.</p>{{end}}
{{end}}{{define "timelines"}}<h2 id="timelines">What happened during the window</h2>
{{if .Timelines}}<p class="why">The window of these points in intervals of 100 ms (wider for windows over 6 minutes): messages per second, failed messages, stalls (no message completed while some were outstanding), p99 and the server's CPU, one row per model.</p>
<ul>{{range .Timelines}}<li><a href="#chart-{{.Name}}"><code>{{label .Cell}}</code></a> ({{.Why}})<ul>{{range .Records}}<li>{{facts .}}</li>{{end}}</ul></li>
{{end}}</ul>{{else}}<p class="why">No point is charted.</p>{{end}}{{range .TimelineNotes}}<p class="why">{{.}}</p>{{end}}
{{end}}`
