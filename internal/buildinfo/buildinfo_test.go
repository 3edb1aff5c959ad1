package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cartd/cartd", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/cartd/cartd", Version: "v1.2.3"}}
	tests := []struct {
		name                 string
		bi                   *debug.BuildInfo
		ldv, ldc, ldd        string
		version, commit, day string
	}{
		{"a build in a checkout with local changes reports the commit as dirty", vcs, "", "", "", "(devel)", "0123abc-dirty", "2026-12-01T10:00:00Z"},
		{"go install of a tag reports the module version", installed, "", "", "", "v1.2.3", Unknown, Unknown},
		{"stamped figures win over the toolchain's", vcs, "v2.0.0", "fedcba9", "2026-12-07T00:00:00Z", "v2.0.0", "fedcba9", "2026-12-07T00:00:00Z"},
		{"no build information at all still answers", nil, "", "", "", "(devel)", Unknown, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := read(tt.bi, tt.ldv, tt.ldc, tt.ldd)
			if in.Version != tt.version || in.Commit != tt.commit || in.Date != tt.day {
				t.Errorf("got %+v, want version %s commit %s date %s", in, tt.version, tt.commit, tt.day)
			}
			if in.Go == "" || !strings.Contains(in.Platform, "/") {
				t.Errorf("Go %q Platform %q", in.Go, in.Platform)
			}
			if s := in.String(); !strings.HasPrefix(s, "cartd "+tt.version+" (commit "+tt.commit) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}
