package main

import (
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/cartd/cartd/store/sqlite"
)

// Memory. cartd's resident memory is Go's heap (requests, the engine's cart snapshots, the
// SQLite writer's cache of decoded rows) plus what Go's runtime does not see: SQLite's page
// caches, allocated by the C library the driver translates. Every cache is bounded in bytes,
// and Go's collector is given a soft limit, so that the whole stays under 512 MiB with the
// defaults at any store size (docs/operations.md, "Memory").

// defaultMemoryLimit is Go's soft memory limit (debug.SetMemoryLimit) when GOMEMLIMIT is not
// set. With GOGC=400 the heap may otherwise grow to five times what is live before a
// collection; the limit makes the collector run earlier instead once the heap nears it.
// SQLite's page caches (64 MiB for the writer, 4 MiB for each of six readers by default) come
// on top, outside Go's accounting.
const defaultMemoryLimit = 256 << 20

// memoryConfig is the memory flags.
type memoryConfig struct {
	pageCache  int64 // --sqlite-page-cache
	writeCache int64 // --sqlite-write-cache
}

func memoryFlags(fs *flag.FlagSet, m *memoryConfig, env func(key, def string) string) error {
	pc, err := parseBytes(env("CARTD_SQLITE_PAGE_CACHE", strconv.Itoa(sqlite.DefaultPageCacheBytes)))
	if err != nil {
		return fmt.Errorf("CARTD_SQLITE_PAGE_CACHE: %w", err)
	}
	wc, err := parseBytes(env("CARTD_SQLITE_WRITE_CACHE", strconv.Itoa(sqlite.DefaultWriteCacheBytes)))
	if err != nil {
		return fmt.Errorf("CARTD_SQLITE_WRITE_CACHE: %w", err)
	}
	m.pageCache, m.writeCache = pc, wc
	fs.Func("sqlite-page-cache", fmt.Sprintf("SQLite's page cache of the write connection, in bytes (64MiB, 1GiB, ...); outside Go's heap (CARTD_SQLITE_PAGE_CACHE) (default %s)", formatBytes(pc)), func(s string) error {
		n, err := parseBytes(s)
		m.pageCache = n
		return err
	})
	fs.Func("sqlite-write-cache", fmt.Sprintf("bound of the SQLite writer's cache of decoded carts, lines and catalog rows, in bytes; inside Go's heap (CARTD_SQLITE_WRITE_CACHE) (default %s)", formatBytes(wc)), func(s string) error {
		n, err := parseBytes(s)
		m.writeCache = n
		return err
	})
	return nil
}

func (m memoryConfig) validate() error {
	if m.pageCache < 1<<20 || m.writeCache < 1<<20 {
		return errors.New("--sqlite-page-cache and --sqlite-write-cache must be at least 1MiB")
	}
	return nil
}

// parseBytes reads a size: a number of bytes, or a number with KiB, MiB or GiB.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("want a size in bytes (64MiB, 1GiB, 1048576), got %q", s)
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	switch {
	case n%(1<<30) == 0 && n > 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0 && n > 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return strconv.FormatInt(n, 10)
}

// setMemoryLimit gives Go's collector its soft limit unless GOMEMLIMIT set one.
func setMemoryLimit(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
