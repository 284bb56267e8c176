package recipes

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
)

// writeJSONL writes documents as gzipped JSON Lines with the fields text
// and summary.
func writeJSONL(t *testing.T, path string, docs []data.Document) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	z := gzip.NewWriter(f)
	enc := json.NewEncoder(z)
	for _, d := range docs {
		enc.Encode(map[string]string{"text": d.Text, "summary": d.Summary})
	}
	z.Close()
	f.Close()
}

// trainQuickSummarizer trains the quick preset, changed by set, on the
// first nTrain pairs of the Debian validation split with the nVal after
// them as its validation set; it returns the result, the run directory
// and the settings it ran with.
func trainQuickSummarizer(t *testing.T, nTrain, nVal int, set func(*SummarizationConfig)) (*Result, string, SummarizationConfig) {
	t.Helper()
	all, err := data.Debian("valid")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeJSONL(t, filepath.Join(dir, "train.jsonl.gz"), all[:nTrain])
	writeJSONL(t, filepath.Join(dir, "val.jsonl.gz"), all[nTrain:nTrain+nVal])
	cfg := SummarizationPresets["debian-summarize-quick"]
	set(&cfg)
	cfg.Train, cfg.Val = filepath.Join(dir, "train.jsonl.gz"), filepath.Join(dir, "val.jsonl.gz")
	out := filepath.Join(dir, "run")
	res, err := TrainSummarization(context.Background(), cfg, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	return res, out, cfg
}

// TestTrainSummarizationSmall trains a few steps on a slice of the Debian
// descriptions and checks what a user gets: a BART directory with BART's
// special tokens and template, which the summarisation pipeline loads and
// runs, cutting long documents and refusing bad ones.
func TestTrainSummarizationSmall(t *testing.T) {
	all, err := data.Debian("valid")
	if err != nil {
		t.Fatal(err)
	}
	res, _, cfg := trainQuickSummarizer(t, 300, 30, func(c *SummarizationConfig) {
		c.VocabSize, c.Steps, c.Warmup, c.EvalEvery, c.ValDocs = 400, 4, 1, 4, 0
	})
	if res.Last().Step != 4 || res.Best == nil || res.Best.BestStep != 4 {
		t.Fatalf("last step %d, best %+v", res.Last().Step, res.Best)
	}
	b, err := os.ReadFile(filepath.Join(res.ModelDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"model_type": "bart"`, `"BartForConditionalGeneration"`, `"forced_bos_token_id": 0`, `"decoder_start_token_id": 2`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config.json lacks %s", want)
		}
	}
	tk, err := tokenizer.LoadDir(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	bpe := tk.(*tokenizer.ByteBPE)
	for i, s := range []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"} {
		if id, ok := bpe.ID(s); !ok || id != int32(i) {
			t.Errorf("special %s has id %d, want %d (BART's)", s, id, i)
		}
	}
	if ids, err := bpe.EncodeWithSpecials("a tool"); err != nil || ids[0] != 0 || ids[len(ids)-1] != 2 {
		t.Errorf("template: %v %v", ids, err)
	}
	s, err := pipelines.LoadSummarizer(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if g := s.Options.Generation; g.NumBeams != 8 || g.MaxLength != 48 || g.NoRepeatNgramSize != 3 || g.ForcedBOS != 0 || g.EarlyStopping != "false" {
		t.Errorf("generation settings from generation_config.json: %+v", g)
	}
	cut := -1
	s.Options.Truncated = func(n int) { cut = n }
	s.Options.Generation.MaxNewTokens = 6
	long := strings.Repeat("word ", 1000)
	sums, err := s.Summarize([]string{all[0].Summary, long, "short one"})
	if err != nil || len(sums) != 3 {
		t.Fatalf("%q %v", sums, err)
	}
	if cut != 1 {
		t.Errorf("%d documents reported cut, want 1", cut)
	}
	// Documents are cut as training cut them (model_max_length), not at
	// the model's positions, which also serve the summaries.
	if _, _, positions := s.Model.SourceFormat(); positions <= cfg.MaxSourceLen {
		t.Fatalf("positions %d: the test needs more than max_source_len %d", positions, cfg.MaxSourceLen)
	}
	if n, err := tokenizer.ModelMaxLength(res.ModelDir); err != nil || n != cfg.MaxSourceLen {
		t.Errorf("tokenizer_config.json's model_max_length %d (%v), want max_source_len %d", n, err, cfg.MaxSourceLen)
	}
	ids, wasCut, err := s.Encode(long)
	if err != nil || !wasCut || len(ids) != cfg.MaxSourceLen || ids[0] != 0 || ids[len(ids)-1] != 2 {
		t.Errorf("long document: %d ids, cut %v, %v; want %d ids", len(ids), wasCut, err, cfg.MaxSourceLen)
	}
	for _, bad := range []string{"", "  \n ", "\xff"} {
		if _, err := s.Summarize([]string{"fine", bad}); err == nil || !strings.Contains(err.Error(), "document 2") {
			t.Errorf("document %q: %v", bad, err)
		}
	}
}

// TestTrainSummarizationPointer trains a pointer-generator a few steps,
// with checkpoint averaging and a resumed run: its directory says so,
// holds the copy head, loads in the summarisation pipeline and
// summarises, and the copy head's parameters learnt.
func TestTrainSummarizationPointer(t *testing.T) {
	res, out, cfg := trainQuickSummarizer(t, 300, 30, func(c *SummarizationConfig) {
		c.VocabSize, c.Steps, c.Warmup, c.EvalEvery, c.ValDocs, c.AverageLast = 400, 4, 1, 2, 0, 2
		c.PointerGenerator = true
	})
	b, err := os.ReadFile(filepath.Join(res.ModelDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"pointer_generator": true`) {
		t.Errorf("config.json lacks pointer_generator: %s", b)
	}
	m, err := seq2seq.Load(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	gate := m.Params.Get("pointer.gate_proj.weight")
	if gate == nil {
		t.Fatal("no copy head in the saved model")
	}
	start, err := seq2seq.New(m.Config, cfg.Seed) // the run's starting point: the same draws
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(gate.Value.Data(), start.Params.Get("pointer.gate_proj.weight").Value.Data()) {
		t.Error("the copy head's gate did not learn")
	}
	s, err := pipelines.LoadSummarizer(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	s.Options.Generation.MaxNewTokens = 6
	if sums, err := s.Summarize([]string{"a tool to convert files", "another package"}); err != nil || len(sums) != 2 {
		t.Fatalf("%q %v", sums, err)
	}
	cfg.Steps = 6
	res2, err := TrainSummarization(context.Background(), cfg, Options{Out: out, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Last().Step != 6 {
		t.Errorf("resumed run ended at step %d, want 6", res2.Last().Step)
	}
}

// TestTrainSummarizationAverage checks checkpoint averaging at the end of
// a run: the last evaluated steps' parameters are kept (older ones
// removed), model-average holds their mean, average.json scores it against
// the best step, and the kept model is the average exactly when it scored
// higher.
func TestTrainSummarizationAverage(t *testing.T) {
	res, out, _ := trainQuickSummarizer(t, 200, 20, func(c *SummarizationConfig) {
		c.VocabSize, c.Steps, c.Warmup, c.EvalEvery, c.ValDocs, c.AverageLast = 400, 6, 1, 2, 0, 2
	})
	b, err := os.ReadFile(filepath.Join(out, AverageFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec AverageResult
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if res.Average == nil || res.Average.Score != rec.Score || res.Average.Kept != rec.Kept {
		t.Errorf("Result.Average %+v, average.json %+v", res.Average, rec)
	}
	if len(rec.Steps) != 2 || rec.Steps[0] != 4 || rec.Steps[1] != 6 || !(rec.ValLoss > 0) || rec.BestStep != res.Best.BestStep {
		t.Fatalf("average.json: %s", b)
	}
	if rec.Kept != (rec.Score > rec.BestScore) {
		t.Errorf("kept %v with %g against the best step's %g", rec.Kept, rec.Score, rec.BestScore)
	}
	if _, err := os.Stat(filepath.Join(out, "averaging", "step-2.safetensors")); !os.IsNotExist(err) {
		t.Errorf("step 2's parameters were not removed: %v", err)
	}
	read := func(path, name string) []float32 {
		t.Helper()
		f, err := tensor.ReadSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		return x.Data()
	}
	for _, name := range []string{"model.shared.weight", "model.encoder.layers.0.fc1.weight", "model.decoder.layernorm_embedding.bias"} {
		s4 := read(filepath.Join(out, "averaging", "step-4.safetensors"), name)
		s6 := read(filepath.Join(out, "averaging", "step-6.safetensors"), name)
		got := read(filepath.Join(out, "model-average", "model.safetensors"), name)
		kept := read(filepath.Join(res.ModelDir, "model.safetensors"), name)
		last := read(filepath.Join(out, "model-last", "model.safetensors"), name)
		differs := false
		for i := range got {
			want := float32((float64(s4[i]) + float64(s6[i])) / 2)
			if got[i] != want {
				t.Fatalf("%s[%d] = %g, want the mean of %g and %g", name, i, got[i], s4[i], s6[i])
			}
			if last[i] != s6[i] {
				t.Fatalf("%s[%d]: model-last has %g, step 6 %g", name, i, last[i], s6[i])
			}
			if rec.Kept && kept[i] != got[i] {
				t.Fatalf("%s[%d]: the kept model is not the average", name, i)
			}
			differs = differs || s4[i] != s6[i]
		}
		if !differs {
			t.Errorf("%s: steps 4 and 6 are the same; the test checks nothing", name)
		}
	}
}

// TestTrainSummarizationAverageChoose checks a run that chooses its
// averaging window: every window over the kept steps has its validation
// loss recorded, the one kept is the lowest, its steps are the last k
// kept, and model-average is what the window's validation loss was
// measured on.
func TestTrainSummarizationAverageChoose(t *testing.T) {
	res, out, _ := trainQuickSummarizer(t, 200, 20, func(c *SummarizationConfig) {
		c.VocabSize, c.Steps, c.Warmup, c.EvalEvery, c.ValDocs, c.AverageLast, c.AverageChoose = 400, 8, 1, 2, 0, 3, true
		c.EMADecays, c.EMAStart = []float64{0.5, 0.9}, 3
	})
	rec := res.Average
	if rec == nil || len(rec.WindowLosses) != 3 {
		t.Fatalf("Result.Average %+v, want three windows' losses", rec)
	}
	k := len(rec.Steps)
	t.Logf("windows' validation losses %v: the last %d steps; moving averages %+v; kept decay %g", rec.WindowLosses, k, rec.EMA, rec.EMADecay)
	for i, l := range rec.WindowLosses {
		if !(l > 0) || l < rec.WindowLosses[k-1] || (l == rec.WindowLosses[k-1] && i+1 < k) {
			t.Fatalf("window of %d steps: loss %g; the one chosen (%d steps) has %g", i+1, l, k, rec.WindowLosses[k-1])
		}
	}
	// Moving averages over steps 3–8 and 3–8; the lowest loss of all is kept.
	if len(rec.EMA) != 2 || rec.EMA[0].Decay != 0.5 || rec.EMA[1].Steps != 6 {
		t.Fatalf("moving averages %+v, want decays 0.5 and 0.9 over 6 steps", rec.EMA)
	}
	lowest, decay := rec.WindowLosses[k-1], 0.0
	for _, e := range rec.EMA {
		if !(e.ValLoss > 0) {
			t.Fatalf("moving average %+v", e)
		}
		if e.ValLoss < lowest {
			lowest, decay = e.ValLoss, e.Decay
		}
	}
	if rec.ValLoss != lowest || rec.EMADecay != decay {
		t.Fatalf("kept loss %g (decay %g), the lowest is %g (decay %g)", rec.ValLoss, rec.EMADecay, lowest, decay)
	}
	if decay > 0 {
		return // model-average is the moving average, which TestEMA checks
	}
	if want := []int{8, 6, 4}[:k]; rec.Steps[k-1] != 8 || rec.Steps[0] != want[k-1] {
		t.Fatalf("kept steps %v with loss %g; losses %v", rec.Steps, rec.ValLoss, rec.WindowLosses)
	}
	// The saved average reproduces the chosen window's validation loss.
	m, err := seq2seq.Load(filepath.Join(out, "model-average"))
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, k)
	for i, s := range rec.Steps {
		paths[i] = filepath.Join(out, "averaging", fmt.Sprintf("step-%d.safetensors", s))
	}
	mean, err := train.MeanParams(paths, "", m.Params.List())
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params.List() { // summed in another order: within an ulp
		for j, v := range p.Value.Data() {
			if w := mean[i].Data()[j]; math.Abs(float64(v-w)) > 1e-6*math.Abs(float64(w))+1e-30 {
				t.Fatalf("model-average's %s[%d] = %g, the mean of steps %v is %g", p.Name, j, v, rec.Steps, w)
			}
		}
	}
}

// wordIDs encodes each space-separated word as one id (its length).
type wordIDs struct{}

func (wordIDs) Encode(s string) ([]int32, error) {
	var out []int32
	for _, w := range strings.Fields(s) {
		out = append(out, int32(len(w)))
	}
	return out, nil
}

// TestSummarizationExamples checks the recipe's pairs: <s> and the first
// maxSourceLen-2 document tokens, <s> summary, over-long summaries skipped,
// Index the document's position.
func TestSummarizationExamples(t *testing.T) {
	docs := []data.Document{
		{Text: "a bb ccc dddd eeeee", Summary: "x yy"},
		{Text: "a", Summary: "one two three four"}, // 4 tokens + <s> + </s> = 6 > 5: skipped
		{Text: "zz", Summary: "q"},
	}
	ex, err := SummarizationExamples(wordIDs{}, docs, 5, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0].Index != 0 || ex[1].Index != 2 {
		t.Fatalf("examples %+v: want documents 0 and 2", ex)
	}
	if want := []int32{0, 1, 2, 3}; !slices.Equal(ex[0].Src, want) {
		t.Errorf("source %v, want %v (<s> and the first 3 tokens)", ex[0].Src, want)
	}
	if want := []int32{0, 1, 2}; !slices.Equal(ex[0].Tgt, want) {
		t.Errorf("target %v, want %v", ex[0].Tgt, want)
	}
	all, err := SummarizationExamples(wordIDs{}, docs, 5, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("with no summary limit: %d examples, %v; want 3", len(all), err)
	}
}

// TestAverageResultString: the line says which average model-average holds.
func TestAverageResultString(t *testing.T) {
	r := &AverageResult{Steps: []int{4500, 4800, 6315}, EMA: []EMAResult{{Decay: 0.999, Steps: 40}, {Decay: 0.9995, Steps: 4307}}}
	if got, want := r.String(), "the average of the last 3 evaluated steps (4500–6315)"; got != want {
		t.Errorf("checkpoint average: %q, want %q", got, want)
	}
	r.EMADecay = 0.9995
	if got, want := r.String(), "the moving average with decay 0.9995 over 4307 steps"; got != want {
		t.Errorf("moving average: %q, want %q", got, want)
	}
}

// TestChooseEMA: of the checkpoint average in the parameters and the
// moving averages, the lowest loss stays in the parameters, and the
// record names it.
func TestChooseEMA(t *testing.T) {
	p := autograd.NewParam("w", tensor.New(1))
	emas := []*train.EMA{{Decay: 0.5, Params: []*autograd.Var{p}}, {Decay: 0.9, Params: []*autograd.Var{p}}}
	for step, v := range []float32{0, 10} { // EMA 0.5: 20/3 ≈ 6.67; 0.9: 100/19 ≈ 5.26
		p.Value.Data()[0] = v
		for _, e := range emas {
			if err := e.AfterStep(train.Metrics{Step: step + 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		target, window float32 // the loss is (w − target)²; the window's mean is in w
		decay          float64
	}{{7, 6, 0.5}, {5, 6, 0.9}, {6.9, 6.9, 0}} {
		p.Value.Data()[0] = tc.window
		loss := func() (float64, error) { d := float64(p.Value.Data()[0] - tc.target); return d * d, nil }
		l0, _ := loss()
		rec := &AverageResult{Steps: []int{2}, ValLoss: l0}
		if err := chooseEMA(emas, []*autograd.Var{p}, loss, rec, &Options{Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		l, _ := loss()
		if rec.EMADecay != tc.decay || len(rec.EMA) != 2 || l != rec.ValLoss {
			t.Errorf("target %g: kept decay %g (want %g), loss %g, record %+v", tc.target, rec.EMADecay, tc.decay, l, rec)
		}
		if tc.decay == 0 && p.Value.Data()[0] != tc.window {
			t.Errorf("target %g: the window's mean %g was replaced by %g", tc.target, tc.window, p.Value.Data()[0])
		}
	}
	// A run that ended before a moving average started skips it.
	late := &train.EMA{Decay: 0.99, Start: 100, Params: []*autograd.Var{p}}
	p.Value.Data()[0] = 6
	rec := &AverageResult{Steps: []int{2}, ValLoss: 1}
	var log strings.Builder
	if err := chooseEMA([]*train.EMA{late, emas[1]}, []*autograd.Var{p}, func() (float64, error) { return 0.5, nil }, rec, &Options{Log: &log}); err != nil {
		t.Fatalf("an average that never started: %v", err)
	}
	if len(rec.EMA) != 1 || rec.EMADecay != 0.9 || !strings.Contains(log.String(), "decay 0.99: none") {
		t.Errorf("record %+v, log %q", rec, log.String())
	}
}

// TestSummarizationWordDropout checks that word dropout reaches training
// (the same run, repeatable without it, ends at another training loss
// with it) and that rates outside [0, 1) are refused by name.
func TestSummarizationWordDropout(t *testing.T) {
	for _, c := range []struct{ src, tgt float32 }{{-0.1, 0}, {0, 1}, {1.5, 0.1}} {
		cfg := SummarizationPresets["debian-summarize-quick"]
		cfg.SourceWordDropout, cfg.TargetWordDropout = c.src, c.tgt
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "word_dropout") {
			t.Errorf("word dropout %g/%g: %v", c.src, c.tgt, err)
		}
	}
	set := func(src, tgt float32) func(*SummarizationConfig) {
		return func(c *SummarizationConfig) {
			c.VocabSize, c.Steps, c.Warmup, c.EvalEvery, c.ValDocs, c.Dropout = 400, 3, 1, 3, 4, 0
			c.SourceWordDropout, c.TargetWordDropout = src, tgt
		}
	}
	plain, _, _ := trainQuickSummarizer(t, 200, 20, set(0, 0))
	again, _, _ := trainQuickSummarizer(t, 200, 20, set(0, 0))
	dropped, _, _ := trainQuickSummarizer(t, 200, 20, set(0.3, 0.3))
	p, a, d := plain.Last(), again.Last(), dropped.Last()
	if p.Loss != a.Loss || p.ValLoss == nil || a.ValLoss == nil || *p.ValLoss != *a.ValLoss {
		t.Fatalf("the same run twice: training loss %g and %g, validation %v and %v", p.Loss, a.Loss, p.ValLoss, a.ValLoss)
	}
	if d.Loss == p.Loss {
		t.Errorf("word dropout 0.3 left the training loss at %g", d.Loss)
	}
}

// TestCopyExamples: the copying pairs are marked by <mask> in place of
// <s>, their targets are <s> and a run of 4–16 of the document's tokens
// found in it, documents under 8 tokens get none, and about the fraction
// asked for are drawn, the same for the same seed.
func TestCopyExamples(t *testing.T) {
	var docs []data.Document
	for i := range 400 {
		words := make([]string, 3+i%40)
		for j := range words {
			words[j] = fmt.Sprintf("w%d", (i*7+j*3)%50)
		}
		docs = append(docs, data.Document{Text: strings.Join(words, " "), Summary: "w1 w2"})
	}
	bt := &tokenizer.BPETrainer{VocabSize: 400, Special: bartSpecials}
	for _, d := range docs {
		if err := bt.Add(d.Text + "\n" + d.Summary); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := SummarizationExamples(tok, docs, 64, 40)
	if err != nil {
		t.Fatal(err)
	}
	cfg := SummarizationPresets["debian-summarize-quick"]
	cfg.CopyFraction, cfg.MaxTargetLen = 0.5, 12
	cp, err := copyExamples(tok, ex, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := copyExamples(tok, ex, cfg)
	if !slices.EqualFunc(cp, again, func(a, b data.Example) bool { return slices.Equal(a.Src, b.Src) && slices.Equal(a.Tgt, b.Tgt) }) {
		t.Error("the same seed drew different copying pairs")
	}
	long := 0
	for _, e := range ex {
		if len(e.Src) >= 9 {
			long++
		}
	}
	if len(cp) < long/3 || len(cp) > long*2/3 {
		t.Errorf("%d copying pairs of %d documents long enough, want about half", len(cp), long)
	}
	mask, _ := tok.ID("<mask>")
	for _, c := range cp {
		src := ex[slices.IndexFunc(ex, func(e data.Example) bool { return e.Index == c.Index })].Src
		words := src[1:]
		if c.Src[0] != mask || !slices.Equal(c.Src[1:], words) {
			t.Fatalf("document %d: copying source %v, want <mask> (%d) and %v", c.Index, c.Src, mask, words)
		}
		span := c.Tgt[1:]
		if c.Tgt[0] != 0 || len(span) < 4 || len(span) > 10 || len(words) < 8 {
			t.Fatalf("document %d (%d tokens): target %v, want <s> and 4 to max_target_len−2 = 10 tokens", c.Index, len(words), c.Tgt)
		}
		found := false
		for i := 0; i+len(span) <= len(words) && !found; i++ {
			found = slices.Equal(words[i:i+len(span)], span)
		}
		if !found {
			t.Fatalf("document %d: target %v is not a run of its tokens %v", c.Index, span, words)
		}
	}
	for _, bad := range []struct {
		f float32
		n int
	}{{-0.1, 10}, {1.5, 10}, {0.5, -1}} {
		c := SummarizationPresets["debian-summarize-quick"]
		c.CopyFraction, c.CopySteps = bad.f, bad.n
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "copy_") {
			t.Errorf("copy_fraction %g, copy_steps %d: %v", bad.f, bad.n, err)
		}
	}
}

// TestSwitchBatches: the copy warm-up's hook gives the task the summaries
// alone from step At on, and a resumed run that had passed At starts with
// them.
func TestSwitchBatches(t *testing.T) {
	mixed, plain := []data.Batch{{B: 1}, {B: 2}}, []data.Batch{{B: 3}}
	task := &train.TranslationTask{Train: mixed}
	s := &switchBatches{At: 5, To: plain, task: task}
	if s.AfterStep(train.Metrics{Step: 4}); len(task.Train) != 2 {
		t.Fatal("switched before step 5")
	}
	if s.AfterStep(train.Metrics{Step: 5}); len(task.Train) != 1 || task.Train[0].B != 3 {
		t.Fatalf("not switched at step 5: %+v", task.Train)
	}
	state, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	resumed := &train.TranslationTask{Train: mixed}
	r := &switchBatches{At: 5, To: plain, task: resumed}
	if err := r.SetState(state); err != nil || len(resumed.Train) != 1 {
		t.Fatalf("resumed after the switch: %d batches, %v; want the summaries alone", len(resumed.Train), err)
	}
}
