package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzReadDocuments: any bytes read as JSON Lines give documents of valid
// UTF-8 or an error naming the input and its line; never a panic.
func FuzzReadDocuments(f *testing.F) {
	f.Add([]byte(`{"text": "a tool", "summary": "tool"}` + "\n\n" + `{"text": "b", "summary": "c", "id": "x"}`))
	f.Add([]byte(`{"text": 3, "summary": "c"}`))
	f.Add([]byte(`{"text": "a"}`))
	f.Add([]byte("{\"text\": \"\xff\", \"summary\": \"\"}"))
	f.Add([]byte(`[1, 2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := ReadDocuments(bytes.NewReader(b), "input.jsonl", "text", "summary")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "input.jsonl:") {
				t.Fatalf("error names no input and line: %v", err)
			}
			return
		}
		for _, d := range docs {
			if !utf8.ValidString(d.Text) || !utf8.ValidString(d.Summary) {
				t.Fatalf("invalid UTF-8 read without an error: %q", d)
			}
		}
	})
}

// FuzzReadSQuAD: any bytes read as SQuAD JSON give questions whose answers
// are where answer_start says, or an error naming the file; never a panic.
func FuzzReadSQuAD(f *testing.F) {
	f.Add([]byte(`{"data": [{"title": "t", "paragraphs": [{"context": "ab c", "qas": [{"id": "1", "question": "q", "answers": [{"text": "c", "answer_start": 3}]}]}]}]}`))
	f.Add([]byte(`{"data": [{"paragraphs": [{"context": "é", "qas": [{"id": "1", "question": "q", "answers": [{"text": "é", "answer_start": 1}]}]}]}]}`))
	f.Add([]byte(`{"data": null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		qs, err := ReadSQuAD(bytes.NewReader(b), "in.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in.json") {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		for _, q := range qs {
			for _, a := range q.Answers {
				if q.Context[a.ByteStart:a.ByteStart+len(a.Text)] != a.Text {
					t.Fatalf("answer %q not at %d", a.Text, a.ByteStart)
				}
			}
		}
	})
}
