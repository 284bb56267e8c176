package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/tokenizer"
)

// textTokenizer is what the tokenizer commands need.
type textTokenizer interface {
	Encode(string) ([]int32, error)
	Decode([]int32) (string, error)
}

// loadTokenizer reads a directory holding vocab.json + merges.txt (GPT-2's
// byte-level BPE) or a character vocabulary (vocab.json of goformer train).
func loadTokenizer(cmd, dir string) (textTokenizer, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, usagef("%s: %s is not a directory", cmd, dir)
	}
	vocab, merges := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	if _, err := os.Stat(merges); err == nil {
		t, err := tokenizer.LoadGPT2(vocab, merges)
		if err != nil {
			return nil, usageError{cmd + ": " + err.Error()}
		}
		return t, nil
	}
	if _, err := os.Stat(vocab); err != nil {
		return nil, usagef("%s: %s holds no tokenizer (vocab.json and merges.txt, or a character vocab.json)", cmd, dir)
	}
	t, err := tokenizer.LoadChar(vocab)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return t, nil
}

func runTokenizerEncode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer tokenizer encode", "Reads text on stdin and prints its token ids, separated by spaces.",
		"  echo -n 'Hello world!' | goformer tokenizer encode --model tokenizer/testdata/gpt2\n  goformer tokenizer encode --model DIR --json < text.txt", stderr)
	dir := fs.String("model", "", "directory with vocab.json + merges.txt (byte-level BPE) or a character vocab.json")
	asJSON := fs.Bool("json", false, "print one JSON array")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("tokenizer encode: --model is required")
	}
	tok, err := loadTokenizer("tokenizer encode", *dir)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(stdinReader)
	if err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return usagef("tokenizer encode: the input is not valid UTF-8")
	}
	ids, err := tok.Encode(string(b))
	if err != nil {
		return usageError{"tokenizer encode: " + err.Error()}
	}
	if *asJSON {
		if ids == nil {
			ids = []int32{}
		}
		return json.NewEncoder(stdout).Encode(ids)
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	_, err = fmt.Fprintln(stdout, strings.Join(parts, " "))
	return err
}

func runTokenizerDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer tokenizer decode", "Reads token ids on stdin (separated by spaces, or a JSON array) and prints the text.",
		"  echo 15496 995 0 | goformer tokenizer decode --model tokenizer/testdata/gpt2", stderr)
	dir := fs.String("model", "", "directory with vocab.json + merges.txt (byte-level BPE) or a character vocab.json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("tokenizer decode: --model is required")
	}
	tok, err := loadTokenizer("tokenizer decode", *dir)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(stdinReader)
	if err != nil {
		return err
	}
	var ids []int32
	if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &ids); err != nil {
			return usagef("tokenizer decode: input: %v", err)
		}
	} else {
		for i, f := range strings.Fields(s) {
			v, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				return usagef("tokenizer decode: item %d (%q) is not a token id", i+1, f)
			}
			ids = append(ids, int32(v))
		}
	}
	text, err := tok.Decode(ids)
	if err != nil {
		return usageError{"tokenizer decode: " + err.Error()}
	}
	_, err = io.WriteString(stdout, text)
	return err
}
