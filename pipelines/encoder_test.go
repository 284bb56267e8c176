package pipelines

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// encoderRef is pipelines/testdata/encoder_pipelines.json, written by
// scripts/reference/encoder_pipelines.py from sentence-transformers' and
// transformers' pipeline code.
type encoderRef struct {
	Texts      []string `json:"texts"`
	Embeddings map[string]struct {
		Texts   []string    `json:"texts"`
		IDs     [][]int32   `json:"ids"`
		Vectors [][]float64 `json:"vectors"`
	} `json:"-"`
	Sentiment [][]LabelScore `json:"sentiment"`
	Topics    [][]LabelScore `json:"topics"`
	Rerank    struct {
		Query     string   `json:"query"`
		Documents []string `json:"documents"`
		Ranked    []Ranked `json:"ranked"`
	} `json:"rerank"`
	ZeroShot []struct {
		Text       string       `json:"text"`
		Labels     []string     `json:"labels"`
		Template   string       `json:"template"`
		MultiLabel bool         `json:"multi_label"`
		Scores     []LabelScore `json:"scores"`
	} `json:"zero_shot"`
	NER []struct {
		Model       string   `json:"model"`
		Text        string   `json:"text"`
		Aggregation string   `json:"aggregation"`
		Entities    []Entity `json:"entities"`
	} `json:"ner"`
}

func readEncoderRef(t *testing.T) *encoderRef {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "encoder_pipelines.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref encoderRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	ref.Embeddings = map[string]struct {
		Texts   []string    `json:"texts"`
		IDs     [][]int32   `json:"ids"`
		Vectors [][]float64 `json:"vectors"`
	}{}
	for _, name := range []string{"st-mean", "st-cls", "st-maxmean", "st-xlmr"} {
		var e struct {
			Texts   []string    `json:"texts"`
			IDs     [][]int32   `json:"ids"`
			Vectors [][]float64 `json:"vectors"`
		}
		if err := json.Unmarshal(raw[name], &e); err != nil {
			t.Fatal(err)
		}
		ref.Embeddings[name] = e
	}
	return &ref
}

func encoderDir(name string) string { return filepath.Join("testdata", "encoders", name) }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// TestEmbedderMatchesSentenceTransformers: four sentence-transformers
// directories (mean pooling + Normalize with max_seq_length 12, which cuts
// the long text; CLS pooling; max + mean pooling, lower-cased, not
// normalised; multilingual-e5's layout: XLM-RoBERTa with SentencePiece and
// fairseq's ids, on accented text too) give sentence-transformers' token
// ids and vectors.
func TestEmbedderMatchesSentenceTransformers(t *testing.T) {
	ref := readEncoderRef(t)
	for name, want := range ref.Embeddings {
		e, err := LoadEmbedder(encoderDir(name))
		if err != nil {
			t.Fatal(err)
		}
		e.Options.BatchSize = 4 // two batches, the longest texts first
		texts := ref.Texts
		if want.Texts != nil {
			texts = want.Texts
		}
		for i, text := range texts {
			ids, _, err := e.Tokens(text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, want.IDs[i]) {
				t.Errorf("%s: text %d: ids %v, want %v", name, i, ids, want.IDs[i])
			}
		}
		got, err := e.Embed(texts)
		if err != nil {
			t.Fatal(err)
		}
		if e.Dimension() != len(want.Vectors[0]) {
			t.Fatalf("%s: dimension %d, want %d", name, e.Dimension(), len(want.Vectors[0]))
		}
		worst := 0.0 // the largest difference relative to the vector's largest value
		for i := range got {
			scale := 0.0
			for _, w := range want.Vectors[i] {
				scale = math.Max(scale, math.Abs(w))
			}
			for j, v := range got[i] {
				worst = math.Max(worst, math.Abs(float64(v)-want.Vectors[i][j])/scale)
			}
		}
		t.Logf("%s: largest difference %.2g of the vector's largest value", name, worst)
		if !(worst <= 1e-5) {
			t.Errorf("%s: vectors differ from sentence-transformers' by %.3g of their largest value", name, worst)
		}
		if name == "st-mean" && e.Truncated != 1 {
			t.Errorf("%s: %d texts counted as truncated, want 1", name, e.Truncated)
		}
		if name != "st-maxmean" {
			if c := Cosine(got[0], got[0]); !near(c, 1, 1e-6) {
				t.Errorf("%s: cosine of a vector with itself %g", name, c)
			}
		}
	}
}

// TestEmbedderSaveLoad: an embedder saved as a sentence-transformers
// directory loads back with the same vectors and modules.
func TestEmbedderSaveLoad(t *testing.T) {
	e, err := LoadEmbedder(encoderDir("st-maxmean"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := e.Save(dir); err != nil {
		t.Fatal(err)
	}
	e2, err := LoadEmbedder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e2.Pooling != e.Pooling || e2.Normalize != e.Normalize || e2.MaxSeqLen != e.MaxSeqLen || e2.Lowercase != e.Lowercase {
		t.Errorf("modules changed through Save/Load: %+v %v %d %v", e2.Pooling, e2.Normalize, e2.MaxSeqLen, e2.Lowercase)
	}
	// The layout is the hub's: the files of the directory the reference
	// script wrote, the same tensor names.
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", ModulesFile, SentenceBertConfig,
		filepath.Join("1_Pooling", PoolingConfig)} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the saved directory lacks %s", name)
		}
	}
	saved, err := tensor.ReadSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := tensor.ReadSafetensors(filepath.Join(encoderDir("st-maxmean"), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := saved.Names(), hub.Names()
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("saved tensors %v, the hub's %v", a, b)
	}
	texts := []string{"A fast web server.", "the election"}
	av, _ := e.Embed(texts)
	bv, err := e2.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range av {
		if !slices.Equal(av[i], bv[i]) {
			t.Errorf("text %d: vectors changed through Save/Load", i)
		}
	}
}

func checkScores(t *testing.T, what string, got, want []LabelScore) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d labels, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Label != want[i].Label || !near(got[i].Score, want[i].Score, 1e-5) {
			t.Errorf("%s: rank %d is %s %.6f, want %s %.6f", what, i, got[i].Label, got[i].Score, want[i].Label, want[i].Score)
		}
	}
}

// TestClassifierMatchesTransformers: softmax (single-label) and sigmoid
// (multi_label_classification) scores of the text-classification
// pipeline, a cross-encoder's reranking, and zero-shot classification by
// an NLI model, single- and multi-label, with two templates.
func TestClassifierMatchesTransformers(t *testing.T) {
	ref := readEncoderRef(t)
	for _, tc := range []struct {
		name, function string
		want           [][]LabelScore
	}{{"sentiment", Softmax, ref.Sentiment}, {"topics", Sigmoid, ref.Topics}} {
		c, err := LoadClassifier(encoderDir(tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if c.Function != tc.function {
			t.Errorf("%s: score function %s, want %s", tc.name, c.Function, tc.function)
		}
		got, err := c.Classify(ref.Texts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			checkScores(t, tc.name, got[i], tc.want[i])
		}
	}
	rr, err := LoadClassifier(encoderDir("reranker"))
	if err != nil {
		t.Fatal(err)
	}
	ranked, err := rr.Rerank(ref.Rerank.Query, ref.Rerank.Documents)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range ranked {
		w := ref.Rerank.Ranked[i]
		if r.Index != w.Index || r.Document != w.Document || !near(r.Score, w.Score, 1e-5) {
			t.Errorf("rerank: rank %d is %+v, want %+v", i, r, w)
		}
	}
	nli, err := LoadClassifier(encoderDir("nli"))
	if err != nil {
		t.Fatal(err)
	}
	if nli.EntailmentID() != 2 {
		t.Errorf("entailment id %d, want 2", nli.EntailmentID())
	}
	for _, z := range ref.ZeroShot {
		got, err := nli.ZeroShot(z.Text, z.Labels, z.Template, z.MultiLabel)
		if err != nil {
			t.Fatal(err)
		}
		checkScores(t, "zero-shot "+z.Template, got, z.Scores)
	}
}

// TestTaggerMatchesTransformers: the token-classification pipeline's
// entities for every aggregation strategy (labels, groups, words, character
// spans, scores) on texts with unknown words and words of several pieces,
// for a BERT with WordPiece (words told by "##") and a RoBERTa with a
// byte-level BPE (words told by the spaces of the text; words joined by
// the ByteLevel decoder).
func TestTaggerMatchesTransformers(t *testing.T) {
	ref := readEncoderRef(t)
	taggers := map[string]*Tagger{}
	for _, name := range []string{"ner", "ner-roberta"} {
		tg, err := LoadTagger(encoderDir(name))
		if err != nil {
			t.Fatal(err)
		}
		taggers[name] = tg
	}
	for _, c := range ref.NER {
		tg := taggers[c.Model]
		tg.Aggregation = c.Aggregation
		got, err := tg.Tag(c.Text)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.Entities) {
			t.Errorf("%s, %q, %s: %d entities, want %d:\n%+v\n%+v", c.Model, c.Text, c.Aggregation, len(got), len(c.Entities), got, c.Entities)
			continue
		}
		for i, e := range got {
			w := c.Entities[i]
			if e.Entity != w.Entity || e.EntityGroup != w.EntityGroup || e.Word != w.Word || e.Start != w.Start || e.End != w.End ||
				e.Index != w.Index || !near(e.Score, w.Score, 1e-5) {
				t.Errorf("%s, %q, %s: entity %d is %+v, want %+v", c.Model, c.Text, c.Aggregation, i, e, w)
			}
		}
	}
}

// TestRunBatchesBoundsPadding: batches hold at most the batch size, run
// longest first, and end before a text that would make their padding more
// than a quarter of their tokens; every text comes back in its place.
func TestRunBatchesBoundsPadding(t *testing.T) {
	e, err := LoadEmbedder(encoderDir("st-mean"))
	if err != nil {
		t.Fatal(err)
	}
	lengths := []int{8, 150, 97, 59, 97, 6, 59, 55, 52, 52, 20, 7, 8, 52, 53}
	xs := make([]encoded, len(lengths))
	for i, n := range lengths {
		xs[i].ids = make([]int32, n)
		xs[i].types = make([]int32, n)
		xs[i].ids[0] = int32(i) // which text this is
	}
	var shapes [][2]int
	out, err := e.in.runBatches(xs, 4, 1, func(g *autograd.Graph, ids, types []int32, batch, seqLen int, pad []bool) (*autograd.Var, error) {
		shapes = append(shapes, [2]int{batch, seqLen})
		real := 0
		for _, p := range pad {
			if !p {
				real++
			}
		}
		if batch > 4 || float64(batch*seqLen) > maxPadding*float64(real) && batch > 1 {
			t.Errorf("a batch of %d × %d with %d real tokens", batch, seqLen, real)
		}
		v := tensor.New(batch, 1)
		for r := range batch {
			v.Data()[r] = float32(ids[r*seqLen])
		}
		return autograd.Constant(v), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if int(o[0]) != i {
			t.Fatalf("row %d came back as text %v", i, o)
		}
	}
	// Sorted: 150 97 | 97 59 | 59 55 53 52 | 52 52 | 20 | 8 8 7 6 (a third
	// 52 would pad to 156 tokens for 124 real ones, an 8 after the 20 to 40
	// for 28).
	if want := [][2]int{{2, 150}, {2, 97}, {4, 59}, {2, 52}, {1, 20}, {4, 8}}; !slices.Equal(shapes, want) {
		t.Errorf("batches %v, want %v", shapes, want)
	}
}

// TestEmbedderTrainsWithOnePooling: with a tape, max pooling (as mean and
// CLS) records its gradient — the encoder's weights get one — and several
// modes at once are refused by name instead of training nothing.
func TestEmbedderTrainsWithOnePooling(t *testing.T) {
	e, err := LoadEmbedder(encoderDir("st-maxmean"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := e.Tokens("a converter from ABC to MIDI")
	if err != nil {
		t.Fatal(err)
	}
	forward := func() (*autograd.Graph, *autograd.Var, error) {
		g := autograd.NewGraph(1)
		v, err := e.Forward(g, ids, nil, 1, len(ids), nil)
		return g, v, err
	}
	if _, _, err := forward(); err == nil || !strings.Contains(err.Error(), "max + mean") {
		t.Fatalf("training with max and mean pooling: %v, want a refusal naming them", err)
	}
	e.Pooling.Mean = false
	g, v, err := forward()
	if err != nil {
		t.Fatal(err)
	}
	ones := tensor.New(v.Shape()...)
	for i := range ones.Data() {
		ones.Data()[i] = float32(i%3) - 1
	}
	if err := g.BackwardWithGrad(v, ones); err != nil {
		t.Fatal(err)
	}
	grads := 0
	for _, p := range e.Model.Params.List() {
		if p.Grad != nil {
			for _, x := range p.Grad.Data() {
				if x != 0 {
					grads++
					break
				}
			}
		}
	}
	if grads == 0 {
		t.Fatal("max pooling passed no gradient to the encoder")
	}
}
