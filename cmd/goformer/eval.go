package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
)

type evalResult struct {
	Model        string  `json:"model"`
	Data         string  `json:"data"`
	Tokens       int     `json:"tokens"`
	CrossEntropy float64 `json:"cross_entropy"`
	Perplexity   float64 `json:"perplexity"`
	DType        string  `json:"dtype,omitempty"` // the weights' format, when not fp32
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer eval",
		"Prints a language model's mean next-token cross-entropy (nats) and perplexity over a text, read in\n"+
			"consecutive windows of the model's context (each window predicts its tokens from the ones before);\n"+
			"for a translation model, the BLEU and chrF2 of its translations of --src against --ref; for a\n"+
			"summarisation model, the ROUGE (stemmed) of its summaries of --data (JSON Lines) beside the lead baseline;\n"+
			"for an embedding model with --retrieval, how well its vectors find each query's document, beside BM25.",
		"  goformer eval --model runs/shakespeare-char-small/model              # Tiny Shakespeare's validation split\n"+
			"  goformer eval --model DIR --data my.txt --json\n"+
			"  goformer eval --model runs/multi30k-de-en/model --beam 4             # Multi30k test_2016_flickr\n"+
			"  goformer eval --model DIR --src test.de --ref test.en --json\n"+
			"  goformer eval --model runs/debian-summarize/model --beams 4          # Debian descriptions, test split\n"+
			"  goformer eval --model DIR --data test.jsonl.gz --json\n"+
			"  goformer eval --model DIR --squad dev-v1.1.json --predictions pred.json  # question answering: EM, F1\n"+
			"  goformer eval --model runs/debian-embed/model --retrieval debian:test    # search: Recall@1, MRR@10 vs BM25", stderr)
	dir := fs.String("model", "", "model directory (required)")
	dataPath := fs.String("data", "", "a UTF-8 text file (default: the validation 10% of the built-in Tiny Shakespeare)")
	srcPath := fs.String("src", "", "translation models: source sentences (default: Multi30k test_2016_flickr German)")
	refPath := fs.String("ref", "", "translation models: reference translations (default: Multi30k test_2016_flickr English)")
	beam := intFlag(fs, "beam", 4, 1, maxBeam, "translation models: beam size")
	textField := fs.String("text-field", "", "summarisation: the JSONL field of the document (default: text, document, article or description, the first present)")
	summaryField := fs.String("summary-field", "", "summarisation: the JSONL field of the reference summary (default: summary, highlights or synopsis)")
	gf := addGenerationFlags(fs)
	retrievalPath := fs.String("retrieval", "", "embedding models: rank every document (JSONL: query and document fields; debian:test or debian:valid built in) for each query; Recall@1/10, MRR@10 beside BM25")
	squadPath := fs.String("squad", "", "question-answering models: a SQuAD v1.1 file to answer and score (EM, F1)")
	predPath := fs.String("predictions", "", "question-answering models: where to write the predictions JSON (default: predictions.json in --model)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	dtype := dtypeFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("eval: --model is required")
	}
	var probe struct {
		ModelType string `json:"model_type"`
	}
	if *dtype != "fp32" && (*retrievalPath != "" || *squadPath != "" || strings.HasSuffix(*dataPath, ".jsonl") || strings.HasSuffix(*dataPath, ".jsonl.gz")) {
		return usagef("eval: --dtype is for language and translation models")
	}
	if *retrievalPath != "" {
		return evalRetrieval(*dir, *retrievalPath, *textField, *summaryField, *asJSON, stdout, stderr)
	}
	if *squadPath != "" {
		if *predPath == "" {
			*predPath = filepath.Join(*dir, "predictions.json")
		}
		return evalSQuAD(*dir, *squadPath, *predPath, *asJSON, stdout, stderr)
	}
	err := hfdir.ReadConfig(*dir, &probe)
	jsonl := strings.HasSuffix(*dataPath, ".jsonl") || strings.HasSuffix(*dataPath, ".jsonl.gz")
	if err == nil && (probe.ModelType == "bart" || probe.ModelType == "mbart" || jsonl && (probe.ModelType == "marian" || probe.ModelType == "pegasus" || probe.ModelType == "t5")) {
		if *srcPath != "" || *refPath != "" {
			return usagef("eval: %s is a summarisation model: give --data FILE.jsonl, not --src and --ref", *dir)
		}
		return evalSummarization(fs, *dir, *dataPath, *textField, *summaryField, gf, *asJSON, stdout, stderr)
	}
	if err == nil && (probe.ModelType == "marian" || probe.ModelType == "pegasus" || probe.ModelType == "t5") {
		if *dataPath != "" {
			return usagef("eval: %s is a translation model: give --src and --ref, not --data", *dir)
		}
		return evalTranslation(*dir, *srcPath, *refPath, *beam, savedDType(fs, *dtype, *dir, stderr), *asJSON, stdout, stderr)
	}
	if *srcPath != "" || *refPath != "" {
		return usagef("eval: --src and --ref are for translation models; %s is not one", *dir)
	}
	m, tok, err := loadGPT("eval", *dir)
	if err != nil {
		return err
	}
	*dtype = savedDType(fs, *dtype, *dir, stderr)
	if err := quantize("eval", m, *dtype); err != nil {
		return err
	}
	name := "tiny-shakespeare (validation)"
	text := data.TinyShakespeare()
	if *dataPath != "" {
		b, err := os.ReadFile(*dataPath)
		if err != nil {
			return usageError{"eval: " + err.Error()}
		}
		text, name = string(b), *dataPath
	}
	ids, err := tok.Encode(text)
	if err != nil {
		return usageError{fmt.Sprintf("eval: %s: the model's tokenizer cannot encode it: %v", name, err)}
	}
	if *dataPath == "" {
		_, ids = data.Split(ids, 0.9)
	}
	ce, count, err := train.EvaluateLM(m, ids, m.Config.NPositions)
	if err != nil {
		return usageError{"eval: " + err.Error()}
	}
	r := evalResult{Model: *dir, Data: name, Tokens: count, CrossEntropy: ce}
	if *dtype != "fp32" {
		r.DType = *dtype
		r.Model += " (" + *dtype + ")"
	}
	r.Perplexity = math.Exp(r.CrossEntropy)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "%s on %s: cross-entropy %.4f nats/token, perplexity %.3f (%d tokens)\n", r.Model, r.Data, r.CrossEntropy, r.Perplexity, r.Tokens)
	return err
}

// evalTranslation translates src and scores it against ref with BLEU and
// chrF2.
func evalTranslation(dir, srcPath, refPath string, beam int, dtype string, asJSON bool, stdout, stderr io.Writer) error {
	if (srcPath == "") != (refPath == "") {
		return usagef("eval: give both --src and --ref, or neither (Multi30k test_2016_flickr)")
	}
	if beam < 1 {
		return usagef("eval: --beam must be ≥ 1, got %d", beam)
	}
	t, err := loadTranslator("eval", dir)
	if err != nil {
		return err
	}
	if err := quantize("eval", t.Model, dtype); err != nil {
		return err
	}
	t.Options = seq2seq.TranslateOptions{Beam: beam, LengthPenalty: 0.6}
	if t.Generation != nil { // transformers' generate (a hub or T5 directory): its settings, with --beam
		t.Generation.NumBeams = beam
	}
	var src, ref []string
	if srcPath == "" {
		r, err := data.Multi30k("test_2016_flickr")
		if err != nil {
			return err
		}
		if src, ref, err = r.ReadAll(); err != nil {
			return err
		}
		srcPath, refPath = "multi30k:test_2016_flickr.de", "multi30k:test_2016_flickr.en"
	} else {
		r, err := data.OpenParallel(srcPath, refPath)
		if err != nil {
			return usageError{"eval: " + err.Error()}
		}
		if src, ref, err = r.ReadAll(); err != nil {
			return usageError{"eval: " + err.Error()}
		}
	}
	start := time.Now()
	hyp, err := translateLines(t, src, stderr)
	if err != nil {
		return usageError{"eval: " + err.Error()}
	}
	secs := time.Since(start).Seconds()
	b, err := metrics.CorpusBLEU(hyp, [][]string{ref})
	if err != nil {
		return err
	}
	c, err := metrics.CorpusChrF(hyp, ref)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"model": dir, "dtype": dtype, "src": srcPath, "ref": refPath, "beam": beam,
			"sentences": len(src), "seconds": secs, "sentences_per_s": float64(len(src)) / secs, "bleu": b.Score, "chrf": c.Score,
			"bleu_signature": fmt.Sprintf(metrics.BLEUSignature, 1), "peak_rss_mib": peakRSSMiB()})
	}
	_, err = fmt.Fprintf(stdout, "%s on %s (beam %d, %s weights, %d sentences in %.1fs, %.1f/s):\n%s\n%s\n", dir, srcPath, beam, dtype, len(src), secs,
		float64(len(src))/secs, b, c)
	return err
}

// loadGPT loads a GPT-2 directory (what goformer train writes, or
// transformers' save_pretrained) with its tokenizer, whichever layout it
// has. Errors are usage errors prefixed with cmd.
func loadGPT(cmd, dir string) (*gpt.Model, tokenizer.Tokenizer, error) {
	if err := modelDir(cmd, dir); err != nil {
		return nil, nil, err
	}
	m, err := gpt.Load(dir)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, nil, usageError{cmd + ": " + err.Error()}
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, usagef("%s: %s: the tokenizer has %d tokens but the model's vocabulary is %d", cmd, dir, tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, nil
}

// evalSummarization summarises the documents of a JSONL file (default: the
// built-in Debian descriptions' test split) and prints ROUGE with stemming,
// beside the lead baseline (each document's first sentence).
func evalSummarization(fs *flag.FlagSet, dir, path, textField, summaryField string, gf *generationFlags, asJSON bool, stdout, stderr io.Writer) error {
	s, err := loadSummarizer("eval", dir)
	if err != nil {
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
	var docs []data.Document
	name := path
	if path == "" {
		name = "debian:test"
		if docs, err = data.Debian("test"); err != nil {
			return err
		}
	} else if docs, err = readSummaryData(path, textField, summaryField); err != nil {
		return err
	}
	if len(docs) == 0 {
		return usagef("eval: %s holds no documents", name)
	}
	texts, refs, leads := make([]string, len(docs)), make([]string, len(docs)), make([]string, len(docs))
	for i, d := range docs {
		texts[i], refs[i], leads[i] = d.Text, d.Summary, metrics.Lead(d.Text)
	}
	start := time.Now()
	hyp, err := summarizeDocs("eval", s, texts, stderr)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	r, err := metrics.CorpusRouge(hyp, refs, true)
	if err != nil {
		return err
	}
	lead, err := metrics.CorpusRouge(leads, refs, true)
	if err != nil {
		return err
	}
	g := s.Options.Generation
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"model": dir, "data": name, "documents": len(docs), "seconds": secs,
			"summaries_per_s": float64(len(docs)) / secs, "rouge": r, "lead": lead, "stemmed": true,
			"generation": map[string]any{"num_beams": g.NumBeams, "max_length": g.MaxLength, "max_new_tokens": g.MaxNewTokens,
				"min_length": g.MinLength, "min_new_tokens": g.MinNewTokens, "length_penalty": g.LengthPenalty,
				"no_repeat_ngram_size": g.NoRepeatNgramSize, "early_stopping": g.EarlyStopping, "sampling": g.Sampler != nil,
				"encoder_repetition_penalty": g.EncoderRepetitionPenalty, "repetition_penalty": g.RepetitionPenalty,
				"mbr_samples": s.Options.MBR.Samples, "mbr_top_p": s.Options.MBR.TopP, "mbr_epsilon_cutoff": s.Options.MBR.EpsilonCutoff, "mbr_beams_only": s.Options.MBR.BeamsOnly},
			"peak_rss_mib": peakRSSMiB()})
	}
	_, err = fmt.Fprintf(stdout, "%s on %s (%d documents in %.1fs, %.1f/s, %d beams), ROUGE F1 × 100 with stemming:\n"+
		"  model  ROUGE-1 %.2f  ROUGE-2 %.2f  ROUGE-L %.2f  ROUGE-Lsum %.2f\n"+
		"  lead   ROUGE-1 %.2f  ROUGE-2 %.2f  ROUGE-L %.2f  ROUGE-Lsum %.2f  (the first sentence)\n",
		dir, name, len(docs), secs, float64(len(docs))/secs, g.NumBeams, r.Rouge1, r.Rouge2, r.RougeL, r.RougeLsum,
		lead.Rouge1, lead.Rouge2, lead.RougeL, lead.RougeLsum)
	return err
}

// readSummaryData reads a JSONL file of documents and reference summaries;
// with the fields not given, the first of the usual names the first record
// holds.
func readSummaryData(path, textField, summaryField string) ([]data.Document, error) {
	return readPairData(path, textField, summaryField, []string{"text", "document", "article", "description"}, []string{"summary", "highlights", "synopsis"})
}

// readPairData reads a JSONL file of (text, summary) records, the fields
// not given being the first of textNames and summaryNames that the first
// record holds.
func readPairData(path, textField, summaryField string, textNames, summaryNames []string) ([]data.Document, error) {
	r, err := data.OpenText(path)
	if err != nil {
		return nil, usageError{"eval: " + err.Error()}
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, usageError{"eval: " + err.Error()}
	}
	if textField == "" || summaryField == "" {
		first, _, _ := strings.Cut(strings.TrimLeft(string(b), "\n"), "\n")
		var rec map[string]json.RawMessage
		_ = json.Unmarshal([]byte(first), &rec) // a bad first line is reported by ReadDocuments
		pick := func(names ...string) string {
			for _, n := range names {
				if _, ok := rec[n]; ok {
					return n
				}
			}
			return names[0]
		}
		if textField == "" {
			textField = pick(textNames...)
		}
		if summaryField == "" {
			summaryField = pick(summaryNames...)
		}
	}
	docs, err := data.ReadDocuments(strings.NewReader(string(b)), path, textField, summaryField)
	if err != nil {
		return nil, usageError{"eval: " + err.Error()}
	}
	return docs, nil
}
