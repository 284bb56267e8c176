package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/tokenizer"
)

// loadTokenizer reads a directory's tokenizer, whichever layout it has
// (tokenizer.LoadDir). Errors are usage errors prefixed with cmd.
func loadTokenizer(cmd, dir string) (tokenizer.Tokenizer, error) {
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return nil, usagef("%s: %v", cmd, err)
	case !st.IsDir():
		return nil, usagef("%s: %s is a file, not a directory", cmd, dir)
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return t, nil
}

// tokenizerFlags registers --model DIR and --tokenizer FILE; load reads
// whichever was given (exactly one must be).
func tokenizerFlags(fs *flag.FlagSet) (load func(cmd string) (tokenizer.Tokenizer, error)) {
	dir := fs.String("model", "", "directory with tokenizer.json, a SentencePiece spiece.model, vocab.json + merges.txt (byte-level BPE) or a character vocab.json")
	file := fs.String("tokenizer", "", "a tokenizer file instead: tokenizer.json or a SentencePiece .model")
	return func(cmd string) (tokenizer.Tokenizer, error) {
		switch {
		case (*dir == "") == (*file == ""):
			return nil, usagef("%s: give one of --model DIR and --tokenizer FILE", cmd)
		case *dir != "":
			return loadTokenizer(cmd, *dir)
		}
		st, err := os.Stat(*file)
		switch {
		case err != nil:
			return nil, usagef("%s: %v", cmd, err)
		case st.IsDir():
			return nil, usagef("%s: %s is a directory (--model takes directories)", cmd, *file)
		}
		t, err := tokenizer.LoadFile(*file)
		if err != nil {
			return nil, usageError{cmd + ": " + err.Error()}
		}
		return t, nil
	}
}

func runTokenizerEncode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer tokenizer encode", "Reads text on stdin and prints its token ids, separated by spaces.",
		"  echo -n 'Hello world!' | goformer tokenizer encode --model tokenizer/testdata/gpt2\n  goformer tokenizer encode --model DIR --json < text.txt\n"+
			"  echo 'Grüße aus Köln' | goformer tokenizer encode --tokenizer tokenizer/testdata/sentencepiece/unigram.model", stderr)
	load := tokenizerFlags(fs)
	asJSON := fs.Bool("json", false, "print one JSON array")
	lines := fs.Bool("lines", false, "encode each input line on its own: one line of ids (or one JSON array) per line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tok, err := load("tokenizer encode")
	if err != nil {
		return err
	}
	text, err := readStdinText("tokenizer encode")
	if err != nil {
		return err
	}
	texts := []string{text}
	if *lines {
		if texts, err = readLines(strings.NewReader(text), "standard input"); err != nil {
			return err
		}
	}
	// Every line is encoded before any is printed: a bad line leaves no
	// partial output.
	all := make([][]int32, len(texts))
	for i, text := range texts {
		if all[i], err = tok.Encode(text); err != nil {
			if *lines {
				return usagef("tokenizer encode: line %d: %v", i+1, err)
			}
			return usageError{"tokenizer encode: " + err.Error()}
		}
	}
	for _, ids := range all {
		if err := printIDs(stdout, ids, *asJSON); err != nil {
			return err
		}
	}
	return nil
}

func printIDs(stdout io.Writer, ids []int32, asJSON bool) error {
	if asJSON {
		if ids == nil {
			ids = []int32{}
		}
		return json.NewEncoder(stdout).Encode(ids)
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	_, err := fmt.Fprintln(stdout, strings.Join(parts, " "))
	return err
}

func runTokenizerDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer tokenizer decode", "Reads token ids on stdin (separated by spaces, or a JSON array) and prints the text.",
		"  echo 15496 995 0 | goformer tokenizer decode --model tokenizer/testdata/gpt2\n  echo 40 3 12 | goformer tokenizer decode --tokenizer FILE.model", stderr)
	load := tokenizerFlags(fs)
	lines := fs.Bool("lines", false, "decode each input line on its own and print one line of text per line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tok, err := load("tokenizer decode")
	if err != nil {
		return err
	}
	b, err := io.ReadAll(stdinReader)
	if err != nil {
		return err
	}
	inputs := []string{string(b)}
	if *lines {
		if inputs, err = readLines(strings.NewReader(string(b)), "standard input"); err != nil {
			return err
		}
	}
	// Every input is decoded before any is printed: a bad id leaves no
	// partial output.
	var out strings.Builder
	for n, in := range inputs {
		where := "input"
		if *lines {
			where = fmt.Sprintf("line %d", n+1)
		}
		var ids []int32
		if s := strings.TrimSpace(in); strings.HasPrefix(s, "[") {
			if err := json.Unmarshal([]byte(s), &ids); err != nil {
				return usagef("tokenizer decode: %s: %v", where, err)
			}
		} else {
			for i, f := range strings.Fields(s) {
				v, err := strconv.ParseInt(f, 10, 32)
				if err != nil {
					return usagef("tokenizer decode: %s: item %d (%q) is not a token id", where, i+1, f)
				}
				ids = append(ids, int32(v))
			}
		}
		text, err := tok.Decode(ids)
		if err != nil {
			return usagef("tokenizer decode: %s: %v", where, err)
		}
		out.WriteString(text)
		if *lines {
			out.WriteByte('\n')
		}
	}
	_, err = io.WriteString(stdout, out.String())
	return err
}

func runTokenizerTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer tokenizer train",
		"Trains a byte-level BPE tokenizer (or, with --wordpiece, an uncased BERT WordPiece) on UTF-8 text\n"+
			"files (plain or gzip; stdin when none are given) and writes it as a Hugging Face tokenizer.json\n"+
			"(special tokens first, then the 256 bytes or the characters, then the merges).",
		"  goformer tokenizer train --vocab-size 8000 --out tok/ train.de train.en\n"+
			"  goformer tokenizer train --special '<pad>,</s>,<unk>' --out tok/ < corpus.txt\n"+
			"  goformer tokenizer train --wordpiece --vocab-size 8000 --out tok/ corpus.txt", stderr)
	size := intFlag(fs, "vocab-size", 8000, 1, 1<<22, "vocabulary size, special tokens and the 256 bytes included")
	special := fs.String("special", "", "special tokens, comma-separated (ids 0, 1, ...); default <pad>,</s> (BPE) or [PAD],[UNK],[CLS],[SEP],[MASK] (WordPiece)")
	wordpiece := fs.Bool("wordpiece", false, "train an uncased BERT WordPiece (lower-cased, accents stripped, ## pieces) instead")
	minFreq := intFlag(fs, "min-frequency", 2, 1, 1<<30, "never merge a pair seen fewer times")
	out := fs.String("out", "", "directory to write tokenizer.json into (required)")
	if err := parseFlagsWithArgs(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("tokenizer train: --out is required")
	}
	if *special == "" {
		*special = "<pad>,</s>"
		if *wordpiece {
			*special = "[PAD],[UNK],[CLS],[SEP],[MASK]"
		}
	}
	var sp []string
	for _, s := range strings.Split(*special, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sp = append(sp, s)
		}
	}
	if *size < len(sp)+256 && !*wordpiece {
		return usagef("tokenizer train: --vocab-size %d is below the %d special tokens + 256 bytes", *size, len(sp))
	}
	type trainer interface {
		Add(string) error
	}
	var tr trainer
	bpe := &tokenizer.BPETrainer{VocabSize: *size, Special: sp, MinFrequency: *minFreq}
	wpt := &tokenizer.WordPieceTrainer{VocabSize: *size, Special: sp, MinFrequency: *minFreq}
	tr = bpe
	if *wordpiece {
		tr = wpt
	}
	add := func(r io.Reader, name string) error {
		lines, err := readLines(r, name)
		if err != nil {
			return err
		}
		for i, l := range lines {
			if err := tr.Add(l + "\n"); err != nil {
				return usagef("tokenizer train: %s:%d: %v", name, i+1, err)
			}
		}
		return nil
	}
	files := fs.Args()
	if len(files) == 0 {
		if err := add(stdinReader, "standard input"); err != nil {
			return err
		}
	}
	for _, f := range files {
		r, err := data.OpenText(f)
		if err != nil {
			return usageError{"tokenizer train: " + err.Error()}
		}
		err = add(r, f)
		r.Close()
		if err != nil {
			return err
		}
	}
	start := time.Now()
	type savable interface {
		SaveHF(path string) error
		VocabSize() int
	}
	var tok savable
	var err error
	if *wordpiece {
		tok, err = wpt.Train()
	} else {
		tok, err = bpe.Train()
	}
	if err != nil {
		return usageError{"tokenizer train: " + err.Error()}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, "tokenizer.json")
	if err := tok.SaveHF(path); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "trained %d tokens in %.1fs; wrote %s\n", tok.VocabSize(), time.Since(start).Seconds(), path)
	return err
}
