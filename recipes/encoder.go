package recipes

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/metrics"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/optim"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tokenizer"
	"github.com/goformer/goformer/train"
)

// EncoderConfig is a BERT run: masked-LM pretraining on the Debian
// descriptions (a WordPiece vocabulary trained on them first),
// question-answering fine-tuning on the Debian cloze set, or a sentence
// embedding model for search trained on (synopsis, description) pairs,
// the last two from a pretrained model (Init) or from scratch.
type EncoderConfig struct {
	Task       string  `json:"task"` // "mlm", "qa" or "embed"
	VocabSize  int     `json:"vocab_size"`
	Hidden     int     `json:"hidden_size"`
	Layers     int     `json:"num_hidden_layers"`
	Heads      int     `json:"num_attention_heads"`
	FFN        int     `json:"intermediate_size"`
	Activation string  `json:"hidden_act"`
	Dropout    float32 `json:"hidden_dropout_prob"`
	MaxSeqLen  int     `json:"max_seq_len"`     // tokens per sequence (mlm) or window (qa)
	DocStride  int     `json:"doc_stride"`      // qa: tokens shared by consecutive windows
	MaskProb   float64 `json:"mlm_probability"` // mlm: tokens chosen per sequence
	// WithSynopsis (mlm) pretrains on pairs, [CLS] synopsis [SEP]
	// description [SEP] with BERT's token types, rather than on the
	// descriptions alone: a masked word of the synopsis is often found in
	// the description, which is what the cloze questions ask of a reader.
	WithSynopsis bool `json:"with_synopsis"`
	// SinusoidalPositions starts a model from scratch with its learned
	// position embeddings set to the sinusoidal encoding (scaled to the
	// word embeddings' size) instead of noise; they are trained as usual.
	// Like MimeticAttention and InitStd, it is ignored with Init.
	SinusoidalPositions bool `json:"sinusoidal_positions,omitempty"`
	// MimeticAttention, if not 0, is added times the identity to every
	// layer's query and key weights of a model from scratch
	// (bert.Model.InitMimeticAttention).
	MimeticAttention float32 `json:"mimetic_attention,omitempty"`
	// InitStd is the standard deviation a model from scratch draws its
	// weights with (BERT's initializer_range; 0: BERT's 0.02).
	InitStd float32 `json:"initializer_range,omitempty"`
	// ClozeAllWords (qa) trains on every cloze question the set's rule
	// makes from the training descriptions (data.ClozeQuestions: about 2.4
	// per package, each content word of the synopsis in turn) instead of
	// the published one per package, so that the reader cannot answer by
	// remembering a word per description; validation keeps the published
	// questions.
	ClozeAllWords bool    `json:"cloze_all_words,omitempty"`
	MaxTokens     int     `json:"max_tokens"` // padded tokens per batch
	Steps         int     `json:"max_steps"`
	MaxMinutes    float64 `json:"max_minutes"`
	LR            float64 `json:"learning_rate"`
	MinLR         float64 `json:"min_lr"`
	Warmup        int     `json:"warmup_steps"`
	WeightDecay   float32 `json:"weight_decay"`
	ClipNorm      float64 `json:"grad_clip"`
	EvalEvery     int     `json:"eval_interval"`
	ValQuestions  int     `json:"val_questions"` // qa: questions answered for validation EM (0: all)
	Seed          uint64  `json:"seed"`
	// embed: the synopsis (query) tokens kept, the pairs in a batch (each
	// query's in-batch negatives are the other pairs' descriptions), the
	// similarity scale of the ranking loss, whether the descriptions also
	// pick their synopses, and the validation queries ranked to choose the
	// best model (0: all).
	QueryLen   int     `json:"query_len,omitempty"`
	BatchPairs int     `json:"batch_pairs,omitempty"`
	Scale      float32 `json:"scale,omitempty"`
	Symmetric  bool    `json:"symmetric,omitempty"`
	// GroupBy makes the batches of pairs: "length" (descriptions alike in
	// length, the least padding) or "source" (within buckets of 16
	// description tokens, pairs of one archive section, sibling packages of
	// one source together: harder in-batch negatives, such as a library's
	// -dev and -doc packages, for little more padding).
	GroupBy    string `json:"group_by,omitempty"`
	ValQueries int    `json:"val_queries,omitempty"`
	// HardNegatives > 0 draws the training batches afresh each step (64
	// pairs in a row of the pairs sorted by length, from a random start:
	// the company of a pair changes, where group_by's batches are fixed),
	// and each synopsis brings one more description to rank, drawn from the
	// HardNegatives other training descriptions BM25 ranks best for it
	// (leaving out those with the right description's very text).
	HardNegatives int `json:"hard_negatives,omitempty"`
	// CropQueries > 0 (with the batches drawn afresh, as HardNegatives
	// draws them) replaces that share of a batch's synopses by a random
	// span of their own description, CropTokens[0]..CropTokens[1] tokens of
	// whole words (4..16 when unset): pairs that never repeat, matched only
	// by the words they share (train.PairSampler.Crop).
	CropQueries float64 `json:"crop_queries,omitempty"`
	// DistillWeight > 0 (with hard_negatives) distils BM25's ranking into
	// the synopses' loss: each target mixes, with this weight, the softmax
	// over the batch's descriptions of BM25's scores for the synopsis
	// divided by DistillTemperature (1 when 0) — the lexical matching of
	// rare words that BM25 does and a small encoder learns slowly — with
	// the one-hot of the right description (train.ContrastiveTask.Teacher).
	// BM25's scores are kept for its 32 best descriptions of each synopsis
	// and the right one; any other counts as 0.
	DistillWeight      float64 `json:"distill_weight,omitempty"`
	DistillTemperature float64 `json:"distill_temperature,omitempty"`
	// Pooling (embed) is how token vectors become the sentence vector:
	// "mean" (the default), "max" or "cls", as the saved 1_Pooling says.
	Pooling    string `json:"pooling,omitempty"`
	CropTokens [2]int `json:"crop_tokens,omitzero"`
	// Init is the pretrained model directory a qa or embed run starts from
	// ("" for none: a model from scratch with its own WordPiece).
	Init      string    `json:"init,omitempty"`
	Snapshots []float64 `json:"snapshot_minutes,omitempty"`
}

// EncoderPresets are the Debian encoder runs: pretraining, fine-tuning,
// and a minute's version of each for tests.
var EncoderPresets = map[string]EncoderConfig{
	// The reader's pretraining: debian-qa's shape and start (mimetic
	// attention, sinusoidal positions), without which masked-LM training
	// here never left the unigram plateau (loss ~6.4 after 33 minutes at
	// 4 × 256); with them validation loss falls to ~4.6 in 2,400 steps.
	"debian-mlm": {Task: "mlm", VocabSize: 8000, Hidden: 128, Layers: 3, Heads: 4, FFN: 512, Activation: "relu",
		Dropout: 0.1, MaxSeqLen: 128, MaskProb: 0.15, WithSynopsis: true, MaxTokens: 8192, Steps: 2400, MaxMinutes: 25,
		LR: 1e-3, MinLR: 3e-5, Warmup: 60, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 300, Seed: 1,
		MimeticAttention: 1, SinusoidalPositions: true},
	// A reader from scratch within the hour: small (1.7M parameters, 0.4–1 s
	// a step on the 2-core machines), with its attention started mimetically
	// (W_Q, W_K = I + noise) and its positions sinusoidal, without which the
	// neighbour-matching the cloze questions need had not appeared after
	// 1,500 steps (val EM at or below 29 in every configuration tried; 36.5
	// after 387 steps with both). Every content word of each synopsis is a
	// question (135,198 rather than 47,098): on the published questions
	// alone the reader learnt them by heart after 1,500 steps (train loss
	// 0.05–0.5, validation 2.2–3.6, val EM stuck at 50).
	"debian-qa": {Task: "qa", VocabSize: 8000, Hidden: 128, Layers: 3, Heads: 4, FFN: 512, Activation: "relu",
		Dropout: 0.1, MaxSeqLen: 192, DocStride: 64, MaxTokens: 8192, Steps: 3300, MaxMinutes: 58, LR: 1e-3, MinLR: 3e-5,
		Warmup: 60, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 300, ValQuestions: 600, Seed: 1,
		MimeticAttention: 1, SinusoidalPositions: true, ClozeAllWords: true},
	// The search model: the reader's shape and start, 8,600 steps of 64
	// pairs, descriptions read to 160 tokens (91% of them whole), each
	// synopsis with one of BM25's four best wrong descriptions as a hard
	// negative and half its target BM25's ranking of the batch (56 minutes
	// on the 2-core Zen 5; test Recall@1 75.8, BM25's 72.4). Cut to 96
	// tokens (29% of the descriptions cut) 8,000 steps reached 70.5; with
	// the hard negatives alone 6,000 steps 69.0; without them 3,000 steps
	// 65.2 (and from debian-mlm, --init, 63.7).
	"debian-embed": {Task: "embed", VocabSize: 8000, Hidden: 128, Layers: 3, Heads: 4, FFN: 512, Activation: "relu",
		Dropout: 0.1, MaxSeqLen: 160, QueryLen: 32, BatchPairs: 64, MaxTokens: 8192, Steps: 8600, MaxMinutes: 58, LR: 5e-4, MinLR: 1e-5,
		Warmup: 40, WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 500, Scale: 20, Symmetric: true, GroupBy: "length", Seed: 1,
		MimeticAttention: 1, SinusoidalPositions: true, HardNegatives: 4, DistillWeight: 0.5, DistillTemperature: 4},
	"debian-embed-quick": {Task: "embed", VocabSize: 1000, Hidden: 64, Layers: 1, Heads: 2, FFN: 128, Activation: "relu",
		Dropout: 0.1, MaxSeqLen: 64, QueryLen: 16, BatchPairs: 16, MaxTokens: 2048, Steps: 20, LR: 2e-3, MinLR: 1e-4, Warmup: 5,
		WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 20, Scale: 20, Symmetric: true, ValQueries: 200, Seed: 1, HardNegatives: 2,
		DistillWeight: 0.5, DistillTemperature: 4},
	"debian-mlm-quick": {Task: "mlm", VocabSize: 1000, Hidden: 64, Layers: 1, Heads: 2, FFN: 128, Activation: "relu",
		Dropout: 0.1, MaxSeqLen: 64, MaskProb: 0.15, WithSynopsis: true, MaxTokens: 2048, Steps: 20, LR: 2e-3, MinLR: 1e-4, Warmup: 5,
		WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 20, Seed: 1},
	"debian-qa-quick": {Task: "qa", VocabSize: 1000, Hidden: 64, Layers: 1, Heads: 2, FFN: 128, Activation: "relu",
		Dropout: 0.1, MaxSeqLen: 64, DocStride: 16, MaxTokens: 2048, Steps: 20, LR: 2e-3, MinLR: 1e-4, Warmup: 5,
		WeightDecay: 0.01, ClipNorm: 1, EvalEvery: 20, ValQuestions: 100, Seed: 1, MimeticAttention: 1, SinusoidalPositions: true,
		ClozeAllWords: true},
}

// Validate reports the first setting that makes no sense.
func (c *EncoderConfig) Validate() error {
	var err error
	switch {
	case c.Task != "mlm" && c.Task != "qa" && c.Task != "embed":
		err = fmt.Errorf("task must be mlm, qa or embed, got %q", c.Task)
	case c.Task == "embed" && c.GroupBy != "" && c.GroupBy != "length" && c.GroupBy != "source":
		err = fmt.Errorf("embed: group_by must be length or source, got %q", c.GroupBy)
	case c.Task == "embed" && (c.QueryLen < 3 || c.BatchPairs < 2 || c.Scale < 0 || c.ValQueries < 0 || c.HardNegatives < 0):
		err = fmt.Errorf("embed: query_len must be at least 3, batch_pairs at least 2, scale, val_queries and hard_negatives ≥ 0 (got %d, %d, %g, %d, %d)", c.QueryLen, c.BatchPairs, c.Scale, c.ValQueries, c.HardNegatives)
	case c.Task == "embed" && (c.CropQueries < 0 || c.CropQueries > 1 || c.CropTokens != [2]int{} && (c.CropTokens[0] < 1 || c.CropTokens[1] < c.CropTokens[0])):
		err = fmt.Errorf("embed: crop_queries must be in [0, 1] and crop_tokens [min, max] with 1 ≤ min ≤ max (got %g, %v)", c.CropQueries, c.CropTokens)
	case c.Task == "embed" && c.Pooling != "" && c.Pooling != "mean" && c.Pooling != "max" && c.Pooling != "cls":
		err = fmt.Errorf("embed: pooling must be mean, max or cls, got %q", c.Pooling)
	case c.Task == "embed" && (c.DistillWeight < 0 || c.DistillWeight > 1 || c.DistillTemperature < 0 || c.DistillWeight > 0 && c.HardNegatives == 0):
		err = fmt.Errorf("embed: distill_weight must be in [0, 1], distill_temperature ≥ 0, and distilling needs hard_negatives (got %g, %g, %d)", c.DistillWeight, c.DistillTemperature, c.HardNegatives)
	case c.Task != "embed" && c.HardNegatives != 0:
		err = fmt.Errorf("hard_negatives is for embed runs")
	case c.Hidden < 2 || c.Heads < 1 || c.Hidden%c.Heads != 0 || c.Layers < 1 || c.FFN < 1:
		err = fmt.Errorf("hidden_size (%d) must be a multiple of num_attention_heads (%d), with layers and intermediate_size ≥ 1", c.Hidden, c.Heads)
	case c.MaxSeqLen < 8 || c.MaxTokens < c.MaxSeqLen || c.Steps < 1:
		err = fmt.Errorf("max_seq_len must be at least 8 and max_tokens at least max_seq_len, max_steps positive (got %d, %d, %d)", c.MaxSeqLen, c.MaxTokens, c.Steps)
	case c.Task == "mlm" && !(c.MaskProb > 0 && c.MaskProb < 1):
		err = fmt.Errorf("mlm_probability must be in (0, 1), got %g", c.MaskProb)
	case c.Task == "mlm" && c.Init != "":
		err = fmt.Errorf("init is for qa and embed runs")
	case c.MaxMinutes < 0 || c.ValQuestions < 0 || c.DocStride < 0:
		err = fmt.Errorf("max_minutes, val_questions and doc_stride must be ≥ 0")
	case !(c.InitStd >= 0 && c.InitStd < 10) || !(math.Abs(float64(c.MimeticAttention)) < 100):
		err = fmt.Errorf("initializer_range must be in [0, 10) and mimetic_attention in (-100, 100), got %g and %g", c.InitStd, c.MimeticAttention)
	case c.ClozeAllWords && c.Task != "qa":
		err = fmt.Errorf("cloze_all_words is for qa runs")
	default:
		err = optim.WarmupCosine{Max: c.LR, Min: c.MinLR, Warmup: c.Warmup, DecaySteps: c.Steps}.Validate()
	}
	if err != nil {
		return &ConfigError{err}
	}
	return nil
}

// TrainEncoder runs an EncoderConfig: "mlm" pretrains a BERT with masked
// language modelling on the Debian descriptions (the model with the best
// validation loss kept, BertForMaskedLM); "qa" fine-tunes one on the
// Debian cloze questions (windows of question + description labelled with
// the answer's tokens; the model with the best validation exact match kept,
// BertForQuestionAnswering). Each writes Hugging Face directories with the
// WordPiece tokenizer.json.
func TrainEncoder(ctx context.Context, cfg EncoderConfig, o Options) (*Result, error) {
	if err := o.single("TrainEncoder"); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := prepareDir(&o, cfg); err != nil {
		return nil, err
	}
	var model *bert.Model
	var tok *tokenizer.WordPiece
	var err error
	head := map[string]bert.Head{"mlm": bert.MaskedLM, "qa": bert.QuestionAnswering, "embed": bert.Base}[cfg.Task]
	if cfg.Init != "" {
		if model, err = bert.LoadPretrained(cfg.Init, head, cfg.Seed); err != nil {
			return nil, &ConfigError{err}
		}
		t, err := tokenizer.LoadDir(cfg.Init)
		if err != nil {
			return nil, &ConfigError{err}
		}
		var ok bool
		if tok, ok = t.(*tokenizer.WordPiece); !ok {
			return nil, configErrorf("%s: want a WordPiece tokenizer, not a %T", cfg.Init, t)
		}
		o.logf("starting from %s (%.2fM parameters)\n", cfg.Init, float64(model.Params.Count())/1e6)
	} else {
		if tok, err = descriptionWordPiece(cfg, &o); err != nil {
			return nil, err
		}
		if model, err = bert.New(bert.Config{VocabSize: tok.VocabSize(), HiddenSize: cfg.Hidden, NumHiddenLayers: cfg.Layers,
			NumAttentionHeads: cfg.Heads, IntermediateSize: cfg.FFN, HiddenAct: cfg.Activation, HiddenDropoutProb: cfg.Dropout,
			InitializerRange: cfg.InitStd, MaxPositionEmbeddings: max(cfg.MaxSeqLen, 512), PadTokenID: int(tok.Pad())}, head, cfg.Seed); err != nil {
			return nil, &ConfigError{err}
		}
		model.InitMimeticAttention(cfg.MimeticAttention)
		if cfg.SinusoidalPositions {
			if err := model.InitSinusoidalPositions(); err != nil {
				return nil, err
			}
		}
	}
	save := func(dir string) error {
		if err := model.Save(dir); err != nil {
			return err
		}
		return tok.SaveHF(filepath.Join(dir, tokenizer.HFFile))
	}
	var task train.Task
	res := &Result{ModelDir: filepath.Join(o.Out, "model")}
	var score func(step int) (float64, error)
	scoreName := ""
	special := func(id int32) bool { return id == tok.CLS() || id == tok.SEP() || id == tok.Pad() }
	switch cfg.Task {
	case "embed":
		emb, err := pipelines.NewEmbedder(model, tok, min(cfg.MaxSeqLen, model.Config.MaxPositionEmbeddings))
		if err != nil {
			return nil, &ConfigError{err}
		}
		switch cfg.Pooling {
		case "max":
			emb.Pooling.Mean, emb.Pooling.Max = false, true
		case "cls":
			emb.Pooling.Mean, emb.Pooling.CLS = false, true
		}
		save = emb.Save
		trainPairs, err := debianPairs(emb, "train", cfg)
		if err != nil {
			return nil, err
		}
		valB, err := pairBatches(emb, "valid", cfg)
		if err != nil {
			return nil, err
		}
		ct := &train.ContrastiveTask{Model: emb, Parameters: model.Params.List(), Val: valB, Scale: cfg.Scale, Symmetric: cfg.Symmetric}
		if cfg.HardNegatives > 0 || cfg.CropQueries > 0 {
			start := time.Now()
			var teacher *bm25Teacher
			if ct.Sampler, teacher, err = pairSampler(trainPairs, cfg, emb.Pad(), tok); err != nil {
				return nil, err
			}
			if cfg.HardNegatives > 0 {
				o.logf("%d training pairs, each with up to %d hard negatives (BM25's best wrong descriptions), in %.1fs\n", len(trainPairs), cfg.HardNegatives, time.Since(start).Seconds())
			}
			if teacher != nil {
				ct.Teacher, ct.TeacherWeight = teacher.probs, float32(cfg.DistillWeight)
				o.logf("BM25's ranking distilled into the synopses' targets with weight %g, temperature %g\n", cfg.DistillWeight, teacher.temperature)
			}
			if s := ct.Sampler; s.Crop > 0 {
				o.logf("%.0f%% of the synopses replaced by a span of %d..%d tokens of their description\n", 100*s.Crop, s.CropMin, s.CropMax)
			}
		} else if ct.Train, err = cutPairs(trainPairs, "train", cfg, emb.Pad()); err != nil {
			return nil, err
		}
		task = ct
		valDocs, err := data.Debian("valid")
		if err != nil {
			return nil, err
		}
		if cfg.ValQueries > 0 && cfg.ValQueries < len(valDocs) {
			valDocs = valDocs[:cfg.ValQueries]
		}
		queries, docs := make([]string, len(valDocs)), make([]string, len(valDocs))
		for i, d := range valDocs {
			queries[i], docs[i] = d.Summary, d.Text
		}
		scoreName = "recall@1"
		score = func(step int) (float64, error) {
			start := time.Now()
			r, err := pipelines.EvalRetrieval(emb, queries, docs)
			if err != nil {
				return 0, err
			}
			o.logf("step %d: val Recall@1 %.2f, Recall@10 %.2f, MRR@10 %.2f over %d descriptions in %.1fs\n", step, r.RecallAt1, r.RecallAt10, r.MRRAt10, len(docs), time.Since(start).Seconds())
			return r.RecallAt1, nil
		}
		o.logf("training a sentence encoder (%d layers, hidden %d, %.2fM parameters) on %d batches of %d (synopsis, description) pairs\n",
			model.Config.NumHiddenLayers, model.Config.HiddenSize, float64(model.Params.Count())/1e6, len(trainPairs)/cfg.BatchPairs, cfg.BatchPairs)
	case "mlm":
		trainB, valB, err := mlmBatches(cfg, tok, special)
		if err != nil {
			return nil, err
		}
		mask, ok := tok.ID("[MASK]")
		if !ok {
			return nil, configErrorf("the WordPiece vocabulary has no [MASK]")
		}
		task = &train.MLMTask{Model: model, Parameters: model.Params.List(), Train: trainB, Val: valB, Mask: mask, Vocab: tok.VocabSize(), Prob: cfg.MaskProb}
		o.logf("pretraining a BERT (%d layers, hidden %d, %.2fM parameters) by masked LM on %d batches of ≤%d tokens\n",
			cfg.Layers, cfg.Hidden, float64(model.Params.Count())/1e6, len(trainB), cfg.MaxTokens)
	default:
		qa, err := pipelines.NewQuestionAnswerer(model, tok)
		if err != nil {
			return nil, &ConfigError{err}
		}
		qa.Options = pipelines.QAOptions{MaxSeqLen: cfg.MaxSeqLen, DocStride: cfg.DocStride}
		trainB, err := qaBatches(qa, "train", cfg, special, &o)
		if err != nil {
			return nil, err
		}
		valQ, err := data.DebianCloze("valid")
		if err != nil {
			return nil, err
		}
		valB, err := qaBatches(qa, "valid", cfg, special, &o)
		if err != nil {
			return nil, err
		}
		task = &train.QATask{Model: model, Parameters: model.Params.List(), Train: trainB, Val: valB}
		if cfg.ValQuestions > 0 && cfg.ValQuestions < len(valQ) {
			valQ = valQ[:cfg.ValQuestions]
		}
		scoreName = "exact_match"
		score = func(step int) (float64, error) {
			start := time.Now()
			preds := map[string]string{}
			var qs []metrics.SQuADQuestion
			for _, q := range valQ {
				ans, err := qa.Answer(q.Question, q.Context)
				if err != nil {
					return 0, fmt.Errorf("validation question %q: %w", q.ID, err)
				}
				if len(ans) > 0 {
					preds[q.ID] = ans[0].Text
				}
				mq := metrics.SQuADQuestion{ID: q.ID}
				for _, a := range q.Answers {
					mq.Answers = append(mq.Answers, a.Text)
				}
				qs = append(qs, mq)
			}
			r := metrics.SQuADScore(qs, preds)
			o.logf("step %d: val EM %.2f, F1 %.2f, %d questions in %.1fs\n", step, r.ExactMatch, r.F1, len(valQ), time.Since(start).Seconds())
			return r.ExactMatch, nil
		}
		o.logf("fine-tuning a BERT (%d layers, hidden %d, %.2fM parameters) for question answering on %d batches of ≤%d tokens\n",
			model.Config.NumHiddenLayers, model.Config.HiddenSize, float64(model.Params.Count())/1e6, len(trainB), cfg.MaxTokens)
	}
	tr, err := train.NewTrainer(train.Config{Steps: cfg.Steps, ClipNorm: cfg.ClipNorm, EvalEvery: cfg.EvalEvery,
		CheckpointEvery: cfg.EvalEvery, Dir: o.Out, Seed: cfg.Seed, MaxDuration: time.Duration(cfg.MaxMinutes * float64(time.Minute))},
		task, optim.NewAdamW(task.Params(), 0.9, 0.98, cfg.WeightDecay),
		optim.WarmupCosine{Max: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, DecaySteps: cfg.Steps})
	if err != nil {
		return nil, err
	}
	tr.Dropout = cfg.Dropout > 0
	if score != nil {
		tr.Score, tr.ScoreName = score, scoreName
	}
	res.Best = &train.KeepBest{Save: func(train.Metrics) error { return save(res.ModelDir) },
		OnSave: func(m train.Metrics) { o.logf("  (the best so far: saved to %s)\n", res.ModelDir) }}
	if score == nil { // pretraining keeps the lowest validation loss
		res.Best.ByLoss = true
	}
	snaps := snapshots(&o, cfg.Snapshots, save)
	tr.Hooks = []train.Hook{res.Best, snaps}
	if o.Resume {
		if err := tr.Resume(); err != nil {
			return nil, err
		}
	}
	o.logf("%d steps", cfg.Steps)
	if cfg.MaxMinutes > 0 {
		o.logf(" or %g minutes", cfg.MaxMinutes)
	}
	o.logf(", %d threads\n", cpu.Threads())
	tr.OnStep = o.OnStep
	runErr := tr.Run(ctx)
	res.History = tr.History
	if errors.Is(runErr, context.Canceled) {
		res.Interrupted = true
		return res, nil
	}
	if runErr != nil {
		return nil, runErr
	}
	if err := save(filepath.Join(o.Out, "model-last")); err != nil {
		return nil, err
	}
	return res, PlotLoss(o.Out, tr.History)
}

// descriptionWordPiece trains the run's WordPiece on the training
// descriptions and saves it, or reads it back when resuming.
func descriptionWordPiece(cfg EncoderConfig, o *Options) (*tokenizer.WordPiece, error) {
	path := filepath.Join(o.Out, tokenizer.HFFile)
	if o.Resume {
		t, err := tokenizer.LoadHF(path)
		if err != nil {
			return nil, err
		}
		wp, ok := t.(*tokenizer.WordPiece)
		if !ok {
			return nil, fmt.Errorf("%s is not a WordPiece tokenizer", path)
		}
		return wp, nil
	}
	docs, err := data.Debian("train")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tr := &tokenizer.WordPieceTrainer{VocabSize: cfg.VocabSize}
	for _, d := range docs {
		if err := tr.Add(d.Text + "\n" + d.Summary); err != nil {
			return nil, err
		}
	}
	wp, err := tr.Train()
	if err != nil {
		return nil, &ConfigError{err}
	}
	if err := wp.SaveHF(path); err != nil {
		return nil, err
	}
	o.logf("trained a WordPiece of %d tokens on %d descriptions in %.1fs\n", wp.VocabSize(), len(docs), time.Since(start).Seconds())
	return wp, nil
}

// mlmBatches encodes the descriptions as [CLS] text [SEP], cut to
// max_seq_len, sorted by length and bucketed; valid gives the validation
// batches.
func mlmBatches(cfg EncoderConfig, tok *tokenizer.WordPiece, special func(int32) bool) (trainB, valB []train.EncoderBatch, err error) {
	for _, split := range []string{"train", "valid"} {
		docs, err := data.Debian(split)
		if err != nil {
			return nil, nil, err
		}
		// Each sequence with the length of its first segment (type 0; the
		// rest, the description of a pair, is type 1).
		type item struct {
			ids   []int32
			first int
		}
		var items []item
		for _, d := range docs {
			ids, err := tok.Encode(d.Text)
			if err != nil {
				return nil, nil, err
			}
			first := len(ids)
			if cfg.WithSynopsis {
				syn, err := tok.Encode(d.Summary)
				if err != nil {
					return nil, nil, err
				}
				// [CLS] synopsis [SEP] description [SEP], the synopsis
				// cut to half the sequence and the description to the rest.
				syn = trimSpecials(syn, tok)
				syn = syn[:min(len(syn), cfg.MaxSeqLen/2-2)]
				pair := append(append([]int32{tok.CLS()}, syn...), tok.SEP())
				first = len(pair)
				ids = append(append(pair, trimSpecials(ids, tok)...), tok.SEP())
			}
			if len(ids) > cfg.MaxSeqLen {
				ids = append(ids[:cfg.MaxSeqLen-1], tok.SEP())
			}
			items = append(items, item{ids, first})
		}
		slices.SortStableFunc(items, func(a, b item) int { return len(a.ids) - len(b.ids) })
		seqs := make([][]int32, len(items))
		var types [][]int32
		for i, it := range items {
			seqs[i] = it.ids
			if cfg.WithSynopsis {
				ty := make([]int32, len(it.ids))
				for j := it.first; j < len(ty); j++ {
					ty[j] = 1
				}
				types = append(types, ty)
			}
		}
		b := train.BucketSequences(seqs, types, nil, special, tok.Pad(), cfg.MaxTokens)
		if split == "train" {
			trainB = b
		} else {
			valB = b
		}
	}
	return trainB, valB, nil
}

// trimSpecials drops the [CLS] and [SEP] that Encode puts around ids.
func trimSpecials(ids []int32, tok *tokenizer.WordPiece) []int32 {
	if len(ids) > 0 && ids[0] == tok.CLS() {
		ids = ids[1:]
	}
	if len(ids) > 0 && ids[len(ids)-1] == tok.SEP() {
		ids = ids[:len(ids)-1]
	}
	return ids
}

// qaBatches makes the labelled windows of a split of the cloze questions;
// questions too long to leave room for the context are skipped (and
// counted in the log).
func qaBatches(qa *pipelines.QuestionAnswerer, split string, cfg EncoderConfig, special func(int32) bool, o *Options) ([]train.EncoderBatch, error) {
	var qs []data.SQuADQuestion
	var err error
	if split == "train" && cfg.ClozeAllWords {
		docs, err := data.Debian(split)
		if err != nil {
			return nil, err
		}
		qs = data.ClozeQuestions(docs)
		o.logf("%s: %d cloze questions made from %d descriptions (every content word of each synopsis)\n", split, len(qs), len(docs))
	} else if qs, err = data.DebianCloze(split); err != nil {
		return nil, err
	}
	type item struct {
		ids, types []int32
		span       [2]int32
	}
	var items []item
	skipped := 0
	for _, q := range qs {
		a := q.Answers[0]
		ws, err := qa.TrainingWindows(q.Question, q.Context, a.ByteStart, a.ByteStart+len(a.Text))
		if errors.Is(err, pipelines.ErrQuestionTooLong) {
			skipped++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("question %q: %w", q.ID, err)
		}
		for _, w := range ws {
			items = append(items, item{w.IDs, w.Types, [2]int32{w.Start, w.End}})
		}
	}
	if skipped > 0 {
		o.logf("%s: %d of %d questions leave no room for the context in windows of %d tokens: skipped\n", split, skipped, len(qs), cfg.MaxSeqLen)
	}
	slices.SortStableFunc(items, func(a, b item) int { return len(a.ids) - len(b.ids) })
	seqs, types, spans := make([][]int32, len(items)), make([][]int32, len(items)), make([][2]int32, len(items))
	for i, it := range items {
		seqs[i], types[i], spans[i] = it.ids, it.types, it.span
	}
	return train.BucketSequences(seqs, types, spans, special, qa.Template.Pad, cfg.MaxTokens), nil
}

// hardNegatives returns, for each query i, the k texts other than its own
// that BM25 (over the whole texts) ranks best for it, best first, leaving
// out those equal to text i.
func hardNegatives(queries, texts []string, k int) [][]int {
	out, _ := bm25Neighbours(queries, texts, k)
	return out
}

// bm25Neighbours is hardNegatives with a teacher: BM25's k best other
// texts for each query, and the scores of those and of the query's own
// text.
func bm25Neighbours(queries, texts []string, k int) ([][]int, *bm25Teacher) {
	bm := metrics.NewBM25(texts)
	out := make([][]int, len(queries))
	t := &bm25Teacher{best: out, scores: make([][]float32, len(queries)), own: make([]float32, len(queries)), temperature: 1}
	var wg sync.WaitGroup
	workers := max(1, runtime.GOMAXPROCS(0))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scores := make([]float64, len(texts))
			for i := w; i < len(queries); i += workers {
				bm.ScoresTo(scores, queries[i])
				out[i] = metrics.Best(scores, k, func(j int) bool {
					return j != i && texts[j] != texts[i]
				})
				t.own[i] = float32(scores[i])
				t.scores[i] = make([]float32, len(out[i]))
				for n, j := range out[i] {
					t.scores[i][n] = float32(scores[j])
				}
			}
		}()
	}
	wg.Wait()
	return out, t
}

// bm25Teacher is BM25's ranking of the training pairs' texts for each of
// their queries, as train.ContrastiveTask's Teacher: the softmax over a
// batch's texts of their scores over the temperature, where a text that
// is neither the query's own nor among its best scores 0.
type bm25Teacher struct {
	best        [][]int     // query i's best other texts
	scores      [][]float32 // and their scores
	own         []float32   // the score of query i's own text
	temperature float32
}

// probs writes the teacher's distribution over the texts of pairs for
// the query of pair query.
func (t *bm25Teacher) probs(query int, pairs []int, out []float32) {
	for c, j := range pairs {
		out[c] = 0
		if j == query {
			out[c] = t.own[query]
		} else if n := slices.Index(t.best[query], j); n >= 0 {
			out[c] = t.scores[query][n]
		}
		out[c] /= t.temperature
	}
	cpu.SoftmaxRows(out, out, 1, len(out))
}

// textPair is one (synopsis, description) pair of a split, as tokens.
type textPair struct {
	q, d            []int32
	section, source string
	synopsis, text  string
}

// debianPairs reads a split's pairs: the descriptions cut to max_seq_len
// tokens and the synopses to query_len, sorted as group_by says (by the
// description's length, so that the model cannot rank by length alone; or
// by length bucket, section, source and length). A synopsis met before in
// the split ("transitional package", say) drops its pair, so that no
// in-batch negative is another right answer.
func debianPairs(emb *pipelines.Embedder, split string, cfg EncoderConfig) ([]textPair, error) {
	docs, err := data.Debian(split)
	if err != nil {
		return nil, err
	}
	var pairs []textPair
	seen := map[string]bool{}
	for _, doc := range docs {
		key := strings.ToLower(strings.TrimSpace(doc.Summary))
		if seen[key] || key == "" || strings.TrimSpace(doc.Text) == "" {
			continue
		}
		seen[key] = true
		q, _, err := emb.Tokens(doc.Summary)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", split, doc.ID, err)
		}
		if len(q) > cfg.QueryLen {
			q = append(q[:cfg.QueryLen-1:cfg.QueryLen-1], q[len(q)-1])
		}
		d, _, err := emb.Tokens(doc.Text)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", split, doc.ID, err)
		}
		pairs = append(pairs, textPair{q, d, doc.Section, doc.Source, doc.Summary, doc.Text})
	}
	slices.SortStableFunc(pairs, func(a, b textPair) int {
		if cfg.GroupBy == "source" {
			if c := len(a.d)/16 - len(b.d)/16; c != 0 {
				return c
			}
			if c := strings.Compare(a.section, b.section); c != 0 {
				return c
			}
			if c := strings.Compare(a.source, b.source); c != 0 {
				return c
			}
		}
		return len(a.d) - len(b.d)
	})
	return pairs, nil
}

// pairBatches cuts a split's pairs (debianPairs) into batches of
// batch_pairs.
func pairBatches(emb *pipelines.Embedder, split string, cfg EncoderConfig) ([]train.PairBatch, error) {
	pairs, err := debianPairs(emb, split, cfg)
	if err != nil {
		return nil, err
	}
	return cutPairs(pairs, split, cfg, emb.Pad())
}

// cutPairs cuts pairs, in their order, into padded batches of batch_pairs.
func cutPairs(pairs []textPair, split string, cfg EncoderConfig, pad int32) ([]train.PairBatch, error) {
	var out []train.PairBatch
	for from := 0; from+cfg.BatchPairs <= len(pairs); from += cfg.BatchPairs {
		group := pairs[from : from+cfg.BatchPairs]
		qs, ds := make([][]int32, len(group)), make([][]int32, len(group))
		for i, p := range group {
			qs[i], ds[i] = p.q, p.d
		}
		out = append(out, train.PairBatch{Queries: padBatch(qs, pad), Docs: padBatch(ds, pad)})
	}
	if len(out) == 0 {
		return nil, configErrorf("%s: %d pairs make no batch of %d", split, len(pairs), cfg.BatchPairs)
	}
	return out, nil
}

// pairSampler makes the training batches of a hard_negatives or
// crop_queries run from the training pairs (sorted by length): with
// hard_negatives, for each synopsis the hard_negatives other descriptions
// BM25 (over the whole description texts) ranks best for it, those with
// the right description's very text left out; with crop_queries, that
// share of the synopses cropped from their descriptions. With
// distill_weight it also returns BM25's teacher, over each synopsis's 32
// best descriptions (the hard negatives are the first of them).
func pairSampler(pairs []textPair, cfg EncoderConfig, pad int32, tok *tokenizer.WordPiece) (*train.PairSampler, *bm25Teacher, error) {
	queries, texts := make([]string, len(pairs)), make([]string, len(pairs))
	s := &train.PairSampler{Queries: make([][]int32, len(pairs)), Docs: make([][]int32, len(pairs)),
		BatchPairs: cfg.BatchPairs, Pad: pad}
	for i, p := range pairs {
		queries[i], texts[i], s.Queries[i], s.Docs[i] = p.synopsis, p.text, p.q, p.d
	}
	var teacher *bm25Teacher
	if cfg.DistillWeight > 0 && cfg.HardNegatives > 0 {
		var best [][]int
		best, teacher = bm25Neighbours(queries, texts, max(cfg.HardNegatives, 32))
		if cfg.DistillTemperature > 0 {
			teacher.temperature = float32(cfg.DistillTemperature)
		}
		s.Negatives = make([][]int, len(best))
		for i, b := range best {
			s.Negatives[i] = b[:min(len(b), cfg.HardNegatives)]
		}
	} else if cfg.HardNegatives > 0 {
		s.Negatives = hardNegatives(queries, texts, cfg.HardNegatives)
	}
	if cfg.CropQueries > 0 {
		s.Crop, s.CropMin, s.CropMax = cfg.CropQueries, cfg.CropTokens[0], cfg.CropTokens[1]
		if cfg.CropTokens == [2]int{} {
			s.CropMin, s.CropMax = 4, 16
		}
		s.Continues = make([]bool, tok.VocabSize())
		for id := range s.Continues {
			s.Continues[id] = strings.HasPrefix(tok.Token(int32(id)), "##")
		}
	}
	if err := s.Validate(); err != nil {
		return nil, nil, configErrorf("%v", err)
	}
	return s, teacher, nil
}

// padBatch lays sequences out as one right-padded batch.
func padBatch(seqs [][]int32, pad int32) train.EncoderBatch {
	var b train.EncoderBatch
	b.Fill(seqs, pad)
	return b
}
