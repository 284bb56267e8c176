package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParallel: any two files, plain or gzip, damaged or not, read as a
// parallel corpus give aligned pairs of valid UTF-8 or an error naming a
// file; never a panic.
func FuzzParallel(f *testing.F) {
	f.Add([]byte("ein Hund\nzwei Katzen\n"), []byte("a dog\ntwo cats\n"))
	f.Add([]byte("eins\n"), []byte("one\ntwo\n"))
	f.Add([]byte("\xff\xfe\n"), []byte("x\n"))
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("ein Hund\n"))
	w.Close()
	f.Add(gz.Bytes(), []byte("a dog\n"))
	f.Add(gz.Bytes()[:len(gz.Bytes())/2], []byte("a dog\n")) // a cut gzip stream
	f.Fuzz(func(t *testing.T, src, tgt []byte) {
		dir := t.TempDir()
		sp, tp := filepath.Join(dir, "src"), filepath.Join(dir, "tgt")
		os.WriteFile(sp, src, 0o644)
		os.WriteFile(tp, tgt, 0o644)
		r, err := OpenParallel(sp, tp)
		if err != nil {
			return
		}
		s, g, err := r.ReadAll()
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		if len(s) != len(g) {
			t.Fatalf("%d source and %d target lines without an error", len(s), len(g))
		}
	})
}
