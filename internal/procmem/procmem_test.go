package procmem

import (
	"os"
	"strings"
	"testing"
)

const smaps = `00400000-00600000 r--p 00000000 fe:01 123 /usr/local/bin/skiff
Rss:                1024 kB
Anonymous:             0 kB
00600000-02000000 r-xp 00200000 fe:01 123 /usr/local/bin/skiff
Rss:               40000 kB
Anonymous:             0 kB
02000000-03000000 r--p 01c00000 fe:01 123 /usr/local/bin/skiff
Anonymous:           512 kB
03000000-03100000 rw-p 02c00000 fe:01 123 /usr/local/bin/skiff
Anonymous:           900 kB
03100000-03200000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 r--s 00000000 fe:01 123 /usr/local/bin/skiff
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00000000 fe:01 789 /tmp/with space
Anonymous:             0 kB
`

func TestCleanMappingsOf(t *testing.T) {
	tests := []struct {
		name string
		path string
		want []Mapping
	}{
		{
			name: "read-only and executable mappings without modified pages",
			path: "/usr/local/bin/skiff",
			want: []Mapping{
				{Start: 0x400000, End: 0x600000, Perms: "r--p", Path: "/usr/local/bin/skiff"},
				{Start: 0x600000, End: 0x2000000, Perms: "r-xp", Path: "/usr/local/bin/skiff"},
			},
		},
		{
			name: "path with a space",
			path: "/tmp/with space",
			want: []Mapping{{Start: 0x7f0000400000, End: 0x7f0000500000, Perms: "r--p", Path: "/tmp/with space"}},
		},
		{name: "no mapping of the path", path: "/bin/other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanMappingsOf(strings.NewReader(smaps), tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d mappings %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("mapping %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCleanMappingsOfBadAddress(t *testing.T) {
	_, err := CleanMappingsOf(strings.NewReader("zz-yy r--p 0 fe:01 1 /bin/x\n"), "/bin/x")
	if err == nil {
		t.Fatal("want an error for a malformed address range")
	}
}

// TestReleaseExecutablePages runs the release on the test binary itself and keeps running
// code and reading read-only data afterwards.
func TestReleaseExecutablePages(t *testing.T) {
	n, err := ReleaseExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("released no mappings of the test binary")
	}
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatalf("code after release returned %q", got)
	}
}

func TestDropFileCache(t *testing.T) {
	path := t.TempDir() + "/file"
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 1<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := DropFileCache(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) != 1<<20 {
		t.Fatalf("file after dropping its cache: %d bytes, %v", len(data), err)
	}
	if err := DropFileCache(path + ".missing"); err == nil {
		t.Fatal("want an error for a missing file")
	}
}
