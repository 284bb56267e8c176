package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/internal/progress"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/pipelines"
)

// generationFlags are transformers' generation controls as flags; a flag
// given overrides the model's generation_config.json / config.json.
type generationFlags struct {
	beams, maxNew, minNew, maxLength, minLength, noRepeat, maxSource *int
	lengthPenalty, encoderPenalty, repetitionPenalty                 *float64
	early                                                            *string
	sampling                                                         samplingFlags
	mbr                                                              *int
	mbrEpsilon, mbrTopP                                              *float64
	mbrBeamsOnly                                                     *bool
}

func addGenerationFlags(fs *flag.FlagSet) *generationFlags {
	return &generationFlags{
		beams:         intFlag(fs, "beams", 1, 1, maxBeam, "num_beams (default: the model's)"),
		maxNew:        intFlag(fs, "max-new-tokens", 0, 1, 1<<16, "max_new_tokens: tokens generated at most"),
		minNew:        intFlag(fs, "min-new-tokens", 0, 0, 1<<16, "min_new_tokens: no end before this many tokens"),
		maxLength:     intFlag(fs, "max-length", 20, 2, 1<<16, "max_length, the decoder start token included (default: the model's)"),
		minLength:     intFlag(fs, "min-length", 0, 0, 1<<16, "min_length, the decoder start token included (default: the model's)"),
		noRepeat:      intFlag(fs, "no-repeat-ngram-size", 0, 0, 1<<10, "no_repeat_ngram_size: no n-gram of this size twice (0: off)"),
		lengthPenalty: floatFlag(fs, "length-penalty", 1, -100, 100, "length_penalty α: beam scores are log-probability / length^α"),
		encoderPenalty: floatFlag(fs, "encoder-repetition-penalty", 1, 1e-6, 1e6,
			"encoder_repetition_penalty: the scores of the source's tokens are multiplied by it if positive, divided if negative (> 1 favours words of the source; 1: off)"),
		repetitionPenalty: floatFlag(fs, "repetition-penalty", 1, 1e-6, 1e6,
			"repetition_penalty: the scores of the tokens already in the output (the start token too) are divided by it if positive, multiplied if negative (> 1 discourages repeats; 1: off)"),
		early:     fs.String("early-stopping", "", "early_stopping: true, false or never (default: the model's)"),
		maxSource: intFlag(fs, "max-source-len", 0, 3, 1<<20, "cut documents to this many tokens (default: the tokenizer's model_max_length, else the model's positions)"),
		sampling:  addSampling(fs, 0, 0),
		mbr: intFlag(fs, "mbr", 0, 0, 1<<12,
			"minimum Bayes risk: sample this many summaries per document and keep, of the beams' hypotheses and the samples, the one of the highest mean ROUGE-L against the samples (0: off; needs --beams above 1)"),
		mbrEpsilon:   floatFlag(fs, "mbr-epsilon", 0, 0, 0.999, "minimum Bayes risk: the epsilon cutoff of its samples (tokens less likely are not drawn; 0: off)"),
		mbrTopP:      floatFlag(fs, "mbr-top-p", 0.9, 0, 1, "minimum Bayes risk: its samples are drawn from the most likely tokens of this total probability"),
		mbrBeamsOnly: fs.Bool("mbr-beams-only", false, "minimum Bayes risk: choose among the beams' hypotheses only, not the samples"),
	}
}

// mbrOptions returns the minimum Bayes risk settings the flags give for
// generation settings o (after apply).
func (g *generationFlags) mbrOptions(fs *flag.FlagSet, o generate.Options) (pipelines.MBROptions, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *g.mbr == 0 {
		if set["mbr-epsilon"] || set["mbr-top-p"] || set["mbr-beams-only"] {
			return pipelines.MBROptions{}, usagef("%s: --mbr-epsilon, --mbr-top-p and --mbr-beams-only apply to --mbr N (minimum Bayes risk), which is off", fs.Name())
		}
		return pipelines.MBROptions{}, nil
	}
	if o.NumBeams < 2 || o.Sampler != nil {
		return pipelines.MBROptions{}, usagef("%s: --mbr chooses among beam search's hypotheses: it needs --beams above 1 (now %d) and no --temperature", fs.Name(), o.NumBeams)
	}
	return pipelines.MBROptions{Samples: *g.mbr, BeamsOnly: *g.mbrBeamsOnly, TopP: *g.mbrTopP, EpsilonCutoff: *g.mbrEpsilon, Temperature: 1, Seed: 1}, nil
}

// apply overrides o with the flags that were given.
func (g *generationFlags) apply(fs *flag.FlagSet, o *generate.Options) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	ints := map[string][2]*int{"beams": {g.beams, &o.NumBeams}, "max-new-tokens": {g.maxNew, &o.MaxNewTokens},
		"min-new-tokens": {g.minNew, &o.MinNewTokens}, "max-length": {g.maxLength, &o.MaxLength},
		"min-length": {g.minLength, &o.MinLength}, "no-repeat-ngram-size": {g.noRepeat, &o.NoRepeatNgramSize}}
	for name, p := range ints {
		if set[name] {
			*p[1] = *p[0]
		}
	}
	if set["max-length"] && !set["max-new-tokens"] {
		o.MaxNewTokens = 0 // max_length given now wins over a max_new_tokens of the model's
	}
	if set["length-penalty"] {
		o.LengthPenalty = *g.lengthPenalty
	}
	if set["encoder-repetition-penalty"] {
		o.EncoderRepetitionPenalty = *g.encoderPenalty
	}
	if set["repetition-penalty"] {
		o.RepetitionPenalty = *g.repetitionPenalty
	}
	if set["early-stopping"] {
		switch strings.ToLower(*g.early) {
		case "true":
			o.EarlyStopping = generate.StopEarly
		case "false":
			o.EarlyStopping = generate.StopHeuristic
		case "never":
			o.EarlyStopping = generate.StopNever
		default:
			return usagef("%s: --early-stopping must be true, false or never, not %q", fs.Name(), *g.early)
		}
	}
	s, err := g.sampling.sampler(fs)
	if err != nil {
		return err
	}
	if s != nil {
		if o.NumBeams > 1 && set["beams"] {
			return usagef("%s: --temperature samples; it does not combine with --beams %d", fs.Name(), o.NumBeams)
		}
		o.NumBeams, o.Sampler = 1, s
	}
	return nil
}

// loadSummarizer reads a summarisation model directory; a directory of
// another kind is a usage error naming what it is.
func loadSummarizer(cmd, dir string) (*pipelines.Summarizer, error) {
	if err := modelDir(cmd, dir); err != nil {
		return nil, err
	}
	var probe struct {
		ModelType string `json:"model_type"`
	}
	if err := hfdir.ReadConfig(dir, &probe); err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	switch probe.ModelType {
	case "bart", "mbart", "pegasus", "marian", "t5":
	default:
		return nil, usagef("%s: %s holds a %q model; summarisation needs an encoder-decoder (bart, mbart, pegasus, marian or t5)", cmd, dir, probe.ModelType)
	}
	s, err := pipelines.LoadSummarizer(dir)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return s, nil
}

// summarizeDocs summarises docs with a progress bar on stderr when there
// are many, and says once on stderr how many documents were cut.
func summarizeDocs(cmd string, s *pipelines.Summarizer, docs []string, stderr io.Writer) ([]string, error) {
	if len(docs) >= 50 {
		p := progress.New(stderr, len(docs))
		p.Unit = "documents"
		s.Options.Progress = p.UpdateCount
		defer p.Clear()
	}
	s.Options.Truncated = func(n int) {
		fmt.Fprintf(stderr, "%s: %d of %d documents were longer than the model reads and were cut to their first %d tokens\n", cmd, n, len(docs), s.SourceLimit())
	}
	out, err := s.Summarize(docs)
	if err != nil {
		return nil, usageError{cmd + ": " + err.Error()}
	}
	return out, nil
}

func runSummarize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer summarize",
		"Summarises documents on stdin with an encoder-decoder model directory (BART, Pegasus, Marian, T5; what\n"+
			"`goformer train --preset debian-summarize` writes, or a transformers checkpoint as the hub lays it out;\n"+
			"T5 gets its \"summarize: \" prefix from task_specific_params).\n"+
			"One document per line, or with --jsonl FIELD one JSON object per line (documents of several lines).\n"+
			"Generation follows transformers' generate: the model's generation_config.json (or config.json and its\n"+
			"task_specific_params.summarization) gives the defaults, the flags below override them.",
		"  goformer summarize --model runs/debian-summarize/model --beams 4 < descriptions.txt\n"+
			"  goformer summarize --model DIR --jsonl description --json < packages.jsonl\n"+
			"  goformer summarize --model DIR --beams 4 --length-penalty 2 --min-length 10 --no-repeat-ngram-size 3 < in.txt", stderr)
	dir := fs.String("model", "", "model directory (required)")
	field := fs.String("jsonl", "", "read JSON Lines and summarise this string field of each object")
	gf := addGenerationFlags(fs)
	threads := threadsFlag(fs, 0)
	asJSON := fs.Bool("json", false, "print one JSON object per document: {\"summary\"}")
	dtype := dtypeFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("summarize: --model is required")
	}
	cpu.SetThreads(*threads)
	s, err := loadSummarizer("summarize", *dir)
	if err != nil {
		return err
	}
	if err := quantize("summarize", s.Model, savedDType(fs, *dtype, *dir, stderr)); err != nil {
		return err
	}
	if err := gf.apply(fs, &s.Options.Generation); err != nil {
		return err
	}
	if s.Options.MBR, err = gf.mbrOptions(fs, s.Options.Generation); err != nil {
		return err
	}
	if *gf.maxSource > 0 {
		s.Options.MaxSourceLen = *gf.maxSource
	}
	text, err := readStdinText("summarize")
	if err != nil {
		return err
	}
	var docs []string
	if *field != "" {
		recs, err := data.ReadDocuments(strings.NewReader(text), "standard input", *field, "")
		if err != nil {
			return usageError{"summarize: " + err.Error()}
		}
		for _, r := range recs {
			docs = append(docs, r.Text)
		}
	} else if docs, err = readLines(strings.NewReader(text), "standard input"); err != nil {
		return err
	}
	if len(docs) == 0 {
		return usagef("summarize: standard input is empty: no documents")
	}
	start := time.Now()
	out, err := summarizeDocs("summarize", s, docs, stderr)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, l := range out {
		if *asJSON {
			err = enc.Encode(map[string]string{"summary": l})
		} else {
			_, err = fmt.Fprintln(stdout, l)
		}
		if err != nil {
			return err
		}
	}
	if len(docs) >= 10 {
		fmt.Fprintf(stderr, "summarised %d documents in %.1fs (%.1f documents/s, %d beams, %d threads)\n", len(docs), secs,
			float64(len(docs))/secs, s.Options.Generation.NumBeams, cpu.Threads())
	}
	return nil
}

func runRouge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer rouge",
		"Scores summaries (one per line on stdin) against references with ROUGE-1, ROUGE-2, ROUGE-L and\n"+
			"ROUGE-Lsum F1 (× 100, averaged over summaries), as Google's rouge-score package computes them: lower-case,\n"+
			"non-alphanumerics to spaces, optional Porter stemming (NLTK's), sentences of ROUGE-Lsum split at \"\\n\".",
		"  goformer rouge --ref synopses.txt --stem < summaries.txt\n  goformer rouge --ref ref.txt --json < out.txt", stderr)
	refPath := fs.String("ref", "", "reference summaries, one per line (required)")
	stem := fs.Bool("stem", false, "Porter-stem tokens longer than 3 characters (use_stemmer=True)")
	asJSON := fs.Bool("json", false, "print one JSON object: rouge1, rouge2, rougeL, rougeLsum")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *refPath == "" {
		return usagef("rouge: --ref is required")
	}
	hyps, err := readLines(stdinReader, "standard input")
	if err != nil {
		return err
	}
	if len(hyps) == 0 {
		return usagef("rouge: standard input is empty: no summaries to score")
	}
	f, err := os.Open(*refPath)
	if err != nil {
		return usageError{"rouge: " + err.Error()}
	}
	refs, err := readLines(f, *refPath)
	f.Close()
	if err != nil {
		return err
	}
	if len(refs) != len(hyps) {
		return usagef("rouge: the summaries have %d lines but %s has %d", len(hyps), *refPath, len(refs))
	}
	r, err := metrics.CorpusRouge(hyps, refs, *stem)
	if err != nil {
		return usageError{"rouge: " + err.Error()}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "ROUGE-1 %.2f  ROUGE-2 %.2f  ROUGE-L %.2f  ROUGE-Lsum %.2f  (F1 × 100, %d summaries, stemming %v)\n",
		r.Rouge1, r.Rouge2, r.RougeL, r.RougeLsum, len(hyps), *stem)
	return err
}
