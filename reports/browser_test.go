package reports

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var screenshotOut = flag.String("screenshot", "", "also copy the browser test's screenshot of the report's first screen to this `path` (e.g. ../docs/report-screenshot.png)")

// renderCheck runs in the page after load: it writes a verdict into the DOM
// that --dump-dom exposes, naming every chart that did not render.
const renderCheck = `<script>
window.addEventListener('load', function () {
  var bad = [], imgs = document.querySelectorAll('img');
  imgs.forEach(function (i) {
    if (!i.complete || i.naturalWidth === 0 || i.naturalHeight === 0) bad.push(i.getAttribute('data-chart') || 'img');
  });
  var d = document.createElement('div');
  d.id = 'render-check';
  d.textContent = bad.length ? 'RENDER-BROKEN ' + bad.join(',') : 'RENDER-OK ' + imgs.length;
  document.body.appendChild(d);
  var v = document.getElementById('verdict'), g = document.createElement('div');
  g.id = 'verdict-check';
  if (!v) {
    g.textContent = 'VERDICT-MISSING';
  } else {
    var r = v.getBoundingClientRect();
    var whole = r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth && v.scrollWidth <= v.clientWidth;
    g.textContent = (whole ? 'VERDICT-WHOLE ' : 'VERDICT-CUT ') + [r.left, r.top, r.right, r.bottom, window.innerWidth, window.innerHeight].map(Math.round).join(',');
  }
  document.body.appendChild(g);
});
</script>`

func chromiumPath() string {
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// runChromium runs headless Chromium in its own process group, killed as a
// whole if it outlives ctx.
func runChromium(ctx context.Context, t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, chromiumPath(), append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
	}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\nstderr:\n%s", args, err, e.String())
	}
	return o.String(), e.String()
}

var consoleLine = regexp.MustCompile(`(?m)^.*CONSOLE.*$|^.*Uncaught.*$`)

// TestReportInBrowser opens the generated index.html in headless Chromium: it
// fails on any console message (the report logs none) or any chart that does
// not render, and saves a screenshot of the first screen.
func TestReportInBrowser(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("chromium not installed (make deps installs it); the report's browser check did not run")
	}
	if testing.Short() {
		t.Skip("browser check skipped in -short mode")
	}
	a := analyzeTestRun(t)
	dir := t.TempDir()
	w, err := Write(a, dir, WriteOptions{SkipPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(w.Index)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "<link") || strings.Contains(string(page), "src=\"http") {
		t.Fatal("index.html refers to an external resource; it must be self-contained")
	}
	checked := filepath.Join(dir, "checked.html")
	if err := os.WriteFile(checked, bytes.Replace(page, []byte("</body>"), []byte(renderCheck+"</body>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// The first screen the issue asks the verdict grid to fit: 1400×900.
	dom, stderr := runChromium(ctx, t, "--window-size=1400,900", "--dump-dom", "file://"+checked)
	if m := consoleLine.FindAllString(stderr, 5); len(m) > 0 {
		t.Errorf("console messages while loading the report:\n%s", strings.Join(m, "\n"))
	}
	var verdict string
	if m := regexp.MustCompile(`<div id="render-check">([^<]*)</div>`).FindStringSubmatch(dom); m != nil {
		verdict = m[1]
	}
	// 9 charts, the SLO rates and 3 timelines (headline, a stall, failures).
	if want := "RENDER-OK 13"; verdict != want {
		t.Errorf("render check = %q, want %q", verdict, want)
	}
	// The verdict grid must be whole on the first screen, without
	// scrolling: left, top, right, bottom, then the viewport (1400 wide;
	// headless Chromium keeps some of the 900 px for its window frame).
	if m := regexp.MustCompile(`<div id="verdict-check">(VERDICT-WHOLE [0-9,.-]+,1400,[0-9]+)</div>`).FindStringSubmatch(dom); m == nil {
		t.Errorf("the verdict grid is not whole on a 1400×900 first screen: %s", regexp.MustCompile(`<div id="verdict-check">[^<]*</div>`).FindString(dom))
	}

	shot := filepath.Join(dir, "screenshot.png")
	runChromium(ctx, t, "--window-size=1400,900", "--screenshot="+shot, "file://"+w.Index)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(png) < 10_000 {
		t.Errorf("screenshot is %d bytes: the page looks blank", len(png))
	}
	t.Logf("screenshot of the first screen: %s", shot)
	if *screenshotOut != "" {
		if err := os.WriteFile(*screenshotOut, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
