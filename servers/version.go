package servers

import (
	"runtime"
	"runtime/debug"
)

// Version describes what was measured when m runs in this binary: the Go
// version, then the module version of m.Library when it has one
// ("go1.26.8, github.com/panjf2000/gnet/v2 v2.9.7"). The library version
// comes from the build info, so it is the one linked, not the one asked for.
func (m Model) Version() string {
	bi, _ := debug.ReadBuildInfo()
	return modelVersion(runtime.Version(), m.Library, bi)
}

// modelVersion is Version with its inputs explicit, so that tests can give
// build info the test binary does not have.
func modelVersion(goVersion, library string, bi *debug.BuildInfo) string {
	if library == "" || bi == nil {
		return goVersion
	}
	for _, d := range bi.Deps {
		if d.Path == library {
			return goVersion + ", " + d.Path + " " + d.Version
		}
	}
	return goVersion
}
