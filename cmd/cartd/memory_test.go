package main

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"64MiB", 64 << 20, true},
		{"2 GiB", 2 << 30, true},
		{"512KiB", 512 << 10, true},
		{"64MB", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"99999999GiB", 0, false},
	} {
		got, err := parseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestMemoryFlags(t *testing.T) {
	env := func(vals map[string]string) func(string) string {
		return func(k string) string { return vals[k] }
	}
	c, _, err := parseConfig("serve", []string{"--sqlite-page-cache", "128MiB"}, env(map[string]string{"CARTD_SQLITE_WRITE_CACHE": "32MiB"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.memory.pageCache != 128<<20 || c.memory.writeCache != 32<<20 {
		t.Errorf("page cache %d, write cache %d; want the flag's 128MiB and the environment's 32MiB", c.memory.pageCache, c.memory.writeCache)
	}
	if _, _, err := parseConfig("serve", []string{"--sqlite-write-cache", "10KiB"}, env(nil), nil); err == nil {
		t.Error("a write cache of 10KiB was accepted")
	}
}
