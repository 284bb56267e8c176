package main

import (
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/goformer/goformer/generate"
)

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer generate",
		"Prints text sampled from a GPT-2 model directory (what goformer train writes, or transformers'\n"+
			"save_pretrained: config.json, model.safetensors, and tokenizer.json or vocab.json + merges.txt).\n"+
			"Everything is checked before the first character is printed; then the prompt and each new token\n"+
			"stream to stdout as they are generated.",
		"  goformer generate --model runs/shakespeare-char-quick/model --prompt \"ROMEO:\" --max-tokens 300\n"+
			"  goformer generate --model DIR --prompt \"To be\" --temperature 0 # greedy", stderr)
	dir := fs.String("model", "", "model directory (required)")
	prompt := fs.String("prompt", "\n", "text to continue")
	maxTokens := intFlag(fs, "max-tokens", 500, 0, maxNewTokens, "tokens to generate")
	sf := addSampling(fs, 0.8, 40)
	dtype := dtypeFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("generate: --model is required")
	}
	if !utf8.ValidString(*prompt) {
		return usagef("generate: the prompt is not valid UTF-8")
	}
	s, err := sf.sampler(fs)
	if err != nil {
		return err
	}
	if s == nil {
		s = &generate.Sampler{} // temperature 0: greedy
	}
	m, tok, err := loadGPT("generate", *dir)
	if err != nil {
		return err
	}
	if err := quantize("generate", m, savedDType(fs, *dtype, *dir, stderr)); err != nil {
		return err
	}
	ids, err := tok.Encode(*prompt)
	if err != nil {
		return usageError{"generate: prompt: " + err.Error()}
	}
	fmt.Fprint(stdout, *prompt)
	// Byte-level tokens may hold part of a character: print the decoded
	// text as far as it is whole.
	var out []int32
	printed := 0
	emit := func(id int32) {
		out = append(out, id)
		if text, err := tok.Decode(out); err == nil && utf8.ValidString(text) && len(text) >= printed {
			fmt.Fprint(stdout, text[printed:])
			printed = len(text)
		}
	}
	if *maxTokens == 0 {
	} else if len(ids)+*maxTokens <= m.Config.NPositions {
		dec, err := m.NewDecoder([][]int32{ids}, 1, *maxTokens) // KV cache
		if err != nil {
			return err
		}
		_, err = generate.GenerateCached(dec, ids[len(ids)-1], *maxTokens, s, emit)
		if err != nil {
			return err
		}
	} else {
		_, err = generate.Generate(m, ids, *maxTokens, m.Config.NPositions, s, emit) // a sliding window of the context
	}
	fmt.Fprintln(stdout)
	return err
}
