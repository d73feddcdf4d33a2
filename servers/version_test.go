package servers

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestModelVersion(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "golang.org/x/sys", Version: "v0.30.0"},
		{Path: "github.com/panjf2000/gnet/v2", Version: "v2.9.7"},
	}}
	tests := []struct {
		library string
		bi      *debug.BuildInfo
		want    string
	}{
		{"github.com/panjf2000/gnet/v2", bi, "go1.26.8, github.com/panjf2000/gnet/v2 v2.9.7"},
		{"", bi, "go1.26.8"},
		{"github.com/tidwall/evio", bi, "go1.26.8"}, // not linked: nothing to claim
		{"github.com/panjf2000/gnet/v2", nil, "go1.26.8"},
	}
	for _, tt := range tests {
		if got := modelVersion("go1.26.8", tt.library, tt.bi); got != tt.want {
			t.Errorf("modelVersion(%q) = %q, want %q", tt.library, got, tt.want)
		}
	}
	if got := (Model{Name: "plain"}).Version(); got != runtime.Version() || strings.Contains(got, ",") {
		t.Errorf("a model without a library: Version() = %q, want %q", got, runtime.Version())
	}
}
