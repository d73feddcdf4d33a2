package config

import (
	"strings"
	"testing"
	"time"
)

const minimal = "duration = \"1s\"\n[[servers]]\nmodel = \"epoll\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64]\n"

// Deep nesting is refused in one linear pass, before the parser's
// quadratic cost (issue #11 item 1).
func TestDeepNestingRefusedFast(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"arrays":        "a = " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n",
		"inline tables": "a = " + strings.Repeat("{b=", 15000) + "1" + strings.Repeat("}", 15000) + "\n",
		"unclosed":      strings.Repeat("[", 100000),
	} {
		start := time.Now()
		_, err := Decode([]byte(body+minimal), testChecker())
		if err == nil || !strings.Contains(err.Error(), "nest deeper than") {
			t.Errorf("%s: %v, want the nesting error", name, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("%s: refused after %v; the check must not wait for the parser", name, d)
		}
	}
	// Brackets in strings and comments are not nesting.
	deepText := strings.Repeat("[{", 40)
	ok := "# " + deepText + "\n" + minimal + "[[servers]]\nname = \"x\"\nenv = { A = \"" + deepText + "\" }\ncommand = [\"/usr/bin/python3\", '" + deepText + "', \"\"\"" + deepText + "\"\"\"]\n"
	if _, err := Decode([]byte(ok), testChecker()); err != nil {
		t.Errorf("brackets inside strings and comments: %v", err)
	}
}

// Values past the limits are refused naming the key, before a plan is made
// (issue #11 item 3: a negative dry-run estimate, memory exhausted by repeats).
func TestUpperBounds(t *testing.T) {
	t.Parallel()
	base := "[[servers]]\nmodel = \"epoll\"\n[[scenarios]]\nmode = \"closed\"\nconns = [1]\nsizes = [64]\n"
	for _, tt := range []struct{ top, msg string }{
		{"duration = \"1000000000s\"\n", "duration: at most 24h"},
		{"duration = \"1s\"\nwarmup = \"1000000h\"\n", "warmup: at most 24h"},
		{"duration = \"1s\"\nrepeats = 2000000000\n", "repeats: at most 1000"},
		{"duration = \"1s\"\nmsg_timeout = \"11m\"\n", "msg_timeout: at most 10m"},
		{"duration = \"1s\"\nready_timeout = \"1h\"\n", "ready_timeout: at most 10m"},
		{"duration = \"1s\"\nslo_p99 = \"2h\"\n", "slo_p99: at most 10m"},
	} {
		_, err := Decode([]byte(tt.top+base), testChecker())
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: %v, want %q", tt.top, err, tt.msg)
		}
	}
	// 1000 x 1000 conns x sizes, x 1000 repeats: refused by count, at once.
	var conns []string
	for i := 1; i <= 1000; i++ {
		conns = append(conns, "1")
	}
	list := "[" + strings.Join(conns, ",") + "]"
	big := "duration = \"1s\"\nrepeats = 1000\n[[servers]]\nmodel = \"epoll\"\n[[scenarios]]\nmode = \"closed\"\nconns = " + list + "\nsizes = " + list + "\ndepth = " + list + "\n"
	if _, err := Decode([]byte(big), testChecker()); err == nil || !strings.Contains(err.Error(), "more than 100000 points") {
		t.Errorf("a huge matrix: %v", err)
	}
}

// Counts near MaxInt64 whose sum wraps below the file limit are refused
// (issue #11 item 2).
func TestCountsDoNotWrap(t *testing.T) {
	t.Parallel()
	body := "duration = \"1s\"\n[[servers]]\nmodel = \"epoll\"\n[[scenarios]]\nmode = \"closed\"\nsizes = [64]\n" +
		"conns = [9223372036854775807]\nidle_conns = [9223372036854775807]\nslow_readers = [2]\n"
	_, err := Decode([]byte(body), testChecker())
	if err == nil || !strings.Contains(err.Error(), "beyond any open-file limit") {
		t.Errorf("wrapping counts: %v", err)
	}
}
