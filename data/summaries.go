package data

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

//go:embed debian/*.jsonl.gz debian/*-cloze-squad.json.gz
var debian embed.FS

// DebianSplits are the splits of the built-in Debian package descriptions
// (Debian 12 main; split by source package): 55,560 / 1,611 / 2,045.
var DebianSplits = []string{"train", "valid", "test"}

// Document is one summarisation example: a text and its summary.
type Document struct {
	ID      string // the record's "package" (or "id") field, when it has one
	Text    string
	Summary string
	// Source and Section are the record's "source" and "section" fields,
	// when it has them (the Debian source package and archive section).
	Source, Section string
}

// Debian reads a split of the built-in Debian package descriptions: the
// long description is the document, the one-line synopsis its summary.
func Debian(split string) ([]Document, error) {
	r, err := openDebian(split, split+".jsonl.gz")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return ReadDocuments(r, "debian:"+split, "description", "synopsis")
}

// openDebian opens (decompressing) the built-in file of a Debian split.
func openDebian(split, file string) (io.ReadCloser, error) {
	if !slices.Contains(DebianSplits, split) {
		return nil, fmt.Errorf("data: the Debian descriptions have no split %q (want one of %v)", split, DebianSplits)
	}
	name := "debian/" + file
	f, err := debian.Open(name)
	if err != nil {
		return nil, err
	}
	return decompress(f, name)
}

// MaxDocumentBytes bounds one JSONL record (a line).
const MaxDocumentBytes = 64 << 20

// ReadDocuments reads JSON Lines (one object a line; blank lines skipped):
// the string field textField is the document and summaryField, if not
// empty, its summary. name names the input in errors, which give the line.
func ReadDocuments(r io.Reader, name, textField, summaryField string) ([]Document, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), MaxDocumentBytes)
	var out []Document
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%s:%d: not valid UTF-8", name, line)
		}
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object: %v", name, line, err)
		}
		field := func(key string) (string, error) {
			raw, ok := rec[key]
			if !ok {
				return "", fmt.Errorf("%s:%d: no field %q", name, line, key)
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", fmt.Errorf("%s:%d: field %q is not a string", name, line, key)
			}
			return s, nil
		}
		var d Document
		var err error
		if d.Text, err = field(textField); err != nil {
			return nil, err
		}
		if summaryField != "" {
			if d.Summary, err = field(summaryField); err != nil {
				return nil, err
			}
		}
		for _, k := range []string{"package", "id"} {
			if raw, ok := rec[k]; ok {
				_ = json.Unmarshal(raw, &d.ID) // an id that is not a string stays empty
				break
			}
		}
		_ = json.Unmarshal(rec["source"], &d.Source) // absent or not a string: empty
		_ = json.Unmarshal(rec["section"], &d.Section)
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, fmt.Errorf("%s:%d: a line longer than %d bytes", name, line+1, MaxDocumentBytes)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
