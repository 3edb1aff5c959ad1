// Package buildinfo says which cartd this is: its version, the commit it was built from, when,
// and with which Go. `cartd version`, the cartd_build_info metric and the start-up log line
// all read it from here.
//
// The figures come from the build information the Go toolchain embeds in every binary
// (runtime/debug.ReadBuildInfo): `go install github.com/cartd/cartd/cmd/cartd@v1.2.3` records
// the module version, and a build inside a git checkout records the commit, its time and
// whether the tree had local changes. A release build may stamp them instead, which wins over
// what the toolchain recorded (docs/install.md):
//
//	go build -trimpath -ldflags "-X github.com/cartd/cartd/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/cartd/cartd/internal/buildinfo.commit=$(git rev-parse HEAD) \
//	  -X github.com/cartd/cartd/internal/buildinfo.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/cartd
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker (-ldflags -X) for release builds; empty otherwise. These are the only
// package-level variables: the linker can set nothing else, and nothing assigns them at run
// time.
var (
	version string
	commit  string
	date    string
)

// Unknown is shown for a figure neither the linker nor the toolchain recorded.
const Unknown = "unknown"

// Info describes the running binary.
type Info struct {
	// Version is the release (v1.2.3), a module pseudo-version, or "(devel)" for a build
	// from a checkout that was not stamped.
	Version string
	// Commit is the VCS revision, with "-dirty" when the tree had uncommitted changes.
	Commit string
	// Date is the build date when stamped, else the commit's time (RFC 3339).
	Date string
	// Go is the toolchain's version (go1.26.8), and Platform GOOS/GOARCH.
	Go       string
	Platform string
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return read(bi, version, commit, date)
}

// read merges what the linker stamped (ldVersion, ldCommit, ldDate) over bi, which may be nil.
func read(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	in := Info{Version: "(devel)", Commit: Unknown, Date: Unknown, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.Main.Version != "" {
			in.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			in.Go = bi.GoVersion
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.time":
				in.Date = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && in.Commit != Unknown {
			in.Commit += "-dirty"
		}
	}
	if ldVersion != "" {
		in.Version = ldVersion
	}
	if ldCommit != "" {
		in.Commit = ldCommit
	}
	if ldDate != "" {
		in.Date = ldDate
	}
	return in
}

// String is the one line `cartd version` prints.
func (in Info) String() string {
	return fmt.Sprintf("cartd %s (commit %s, built %s, %s %s)", in.Version, in.Commit, in.Date, in.Go, in.Platform)
}
