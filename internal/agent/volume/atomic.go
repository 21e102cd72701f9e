package volume

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Payload is the content of a projected volume: relative path → file.
type Payload map[string]FileData

// FileData is one projected file.
type FileData struct {
	Data []byte
	Mode os.FileMode
}

const dataDirName = "..data"

// WriteAtomic makes dir hold exactly payload, switching from the previous
// content to the new in one rename, as upstream's atomic writer does: files
// live in a timestamped "..<ts>" folder, "..data" links to it, and each
// top-level entry is a link through "..data". A container reading the volume
// sees either the old or the new set of files, never a mix. It reports
// whether anything changed.
func WriteAtomic(dir string, payload Payload) (bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create volume dir: %w", err)
	}
	for p := range payload {
		if err := validatePath(p); err != nil {
			return false, err
		}
	}
	dataLink := filepath.Join(dir, dataDirName)
	oldTarget, _ := os.Readlink(dataLink)
	if oldTarget != "" && same(filepath.Join(dir, oldTarget), payload) {
		return false, nil
	}

	tsDir, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("create volume data dir: %w", err)
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, fmt.Errorf("chmod volume data dir: %w", err)
	}
	for p, f := range payload {
		full := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(full, f.Data, mode); err != nil {
			return false, fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.Chmod(full, mode); err != nil {
			return false, fmt.Errorf("chmod %s: %w", p, err)
		}
	}

	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return false, fmt.Errorf("link volume data: %w", err)
	}
	if err := os.Rename(tmpLink, dataLink); err != nil {
		return false, fmt.Errorf("switch volume data: %w", err)
	}

	// Top-level user-visible links: add the new ones, remove the stale ones.
	top := map[string]bool{}
	for p := range payload {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataDirName, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(target, link); err != nil {
			return false, fmt.Errorf("link %s: %w", name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			if name != dataDirName && name != filepath.Base(tsDir) {
				_ = os.RemoveAll(filepath.Join(dir, name))
			}
			continue
		}
		if !top[name] {
			_ = os.RemoveAll(filepath.Join(dir, name))
		}
	}
	return true, nil
}

// same reports whether dir holds exactly payload.
func same(dir string, payload Payload) bool {
	var found []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		found = append(found, rel)
		f, ok := payload[rel]
		if !ok {
			return fmt.Errorf("extra")
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if info.Mode().Perm() != mode.Perm() {
			return fmt.Errorf("mode")
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.Data) {
			return fmt.Errorf("differs")
		}
		return nil
	})
	if err != nil || len(found) != len(payload) {
		return false
	}
	sort.Strings(found)
	return true
}

func validatePath(p string) error {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "..") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || p != filepath.Clean(p) {
		return fmt.Errorf("invalid projected path %q", p)
	}
	return nil
}
