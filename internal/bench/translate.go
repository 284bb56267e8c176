package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

// OpusMTBase is the shape of the OPUS-MT base translators (Helsinki-NLP's
// opus-mt-de-en and its siblings: a Marian model, 6+6 post-LN layers,
// d_model 512, 8 heads, ffn 2048, a shared vocabulary of 58,101 tokens,
// pad and decoder start 58,100, EOS 0).
func OpusMTBase() seq2seq.Config {
	c := seq2seq.Base(58101)
	c.Dropout = 0
	c.PadTokenID, c.DecoderStartTokenID, c.EOSTokenID = 58100, 58100, 0
	c.Architectures = []string{"MarianMTModel"}
	return c
}

// TranslateInputs are the sentences of a translation benchmark: source
// token ids (EOS last) and, for each, the number of tokens its output is
// made to have (the reference translation's tokens and EOS), so that
// speed does not depend on what random weights would choose to emit.
type TranslateInputs struct {
	Source [][]int32 `json:"source"`
	Steps  []int     `json:"steps"`
	Note   string    `json:"note"`
}

// Multi30kInputs tokenises the first n sentence pairs of Multi30k's
// test_2016_flickr (German source, English reference) with a joint
// byte-level BPE of 8,000 tokens trained on Multi30k's training pairs
// (the multi30k-de-en preset's tokenizer; OPUS-MT's SentencePiece model
// cuts this text into a similar number of pieces). Source ids get EOS
// (id 0) appended; ids stay below 8,000, inside any OPUS-MT vocabulary.
func Multi30kInputs(n int) (*TranslateInputs, error) {
	train, err := data.Multi30k("train")
	if err != nil {
		return nil, err
	}
	src, tgt, err := train.ReadAll()
	if err != nil {
		return nil, err
	}
	bt := &tokenizer.BPETrainer{VocabSize: 8000, Special: []string{"</s>", "<pad>"}}
	for i := range src {
		if err := bt.Add(src[i] + "\n" + tgt[i]); err != nil {
			return nil, err
		}
	}
	tok, err := bt.Train()
	if err != nil {
		return nil, err
	}
	test, err := data.Multi30k("test_2016_flickr")
	if err != nil {
		return nil, err
	}
	src, tgt, err = test.ReadAll()
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > len(src) {
		n = len(src)
	}
	in := &TranslateInputs{Note: fmt.Sprintf("Multi30k test_2016_flickr, first %d pairs, joint byte-level BPE of 8,000 tokens trained on Multi30k train; steps = reference tokens + EOS", n)}
	for i := 0; i < n; i++ {
		s, err := tok.Encode(src[i])
		if err != nil {
			return nil, err
		}
		t, err := tok.Encode(tgt[i])
		if err != nil {
			return nil, err
		}
		in.Source = append(in.Source, append(s, 0))
		in.Steps = append(in.Steps, len(t)+1)
	}
	return in, nil
}

// WriteFile writes the inputs as JSON (for scripts/bench/opus_vs_torch.py).
func (in *TranslateInputs) WriteFile(path string) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// ReadTranslateInputs reads what WriteFile wrote.
func ReadTranslateInputs(path string) (*TranslateInputs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var in TranslateInputs
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(in.Source) == 0 || len(in.Source) != len(in.Steps) {
		return nil, fmt.Errorf("%s: %d sources and %d step counts (want the same, at least one)", path, len(in.Source), len(in.Steps))
	}
	for i, s := range in.Steps {
		if s < 1 || s > 1024 {
			return nil, fmt.Errorf("%s: steps[%d] = %d (want 1 to 1024)", path, i, s)
		}
		if len(in.Source[i]) == 0 {
			return nil, fmt.Errorf("%s: source %d is empty (it needs at least EOS)", path, i)
		}
		for _, id := range in.Source[i] {
			if id < 0 {
				return nil, fmt.Errorf("%s: source %d: negative token id %d", path, i, id)
			}
		}
	}
	return &in, nil
}

// TranslateResult is one translation throughput measurement.
type TranslateResult struct {
	Config     string  `json:"config"`
	DType      string  `json:"dtype"`
	Batch      int     `json:"batch"` // sentences decoded together
	Beam       int     `json:"beam"`
	Sentences  int     `json:"sentences"`
	Threads    int     `json:"threads"`
	Params     int     `json:"params"`
	Seconds    float64 `json:"seconds"`
	TokensPerS float64 `json:"tokens_per_s"` // target tokens (the Steps, EOS included) per second
	// TokensPerSPerThread is TokensPerS over the threads, CTranslate2's
	// way of quoting CPU throughput.
	TokensPerSPerThread float64 `json:"tokens_per_s_per_thread"`
	SentencesPerS       float64 `json:"sentences_per_s"`
	// GFLOPS counts 2 FLOPs per weight per row of every decoder step
	// (the output projection included) and per source token in the
	// encoder; attention is left out.
	GFLOPS float64 `json:"gflops"`
}

// Translate times beam search of an encoder-decoder model over the inputs,
// batch sentences at a time, in order: the batch is encoded, then each
// step feeds every live beam its token, takes log-softmax over the
// vocabulary, keeps the beam best continuations of each sentence among
// beam × vocabulary (only the first beam is live at the start, as in
// transformers), and reorders the KV cache. A sentence ends after its
// Steps (its rows are then dropped), whatever the tokens. best receives
// each sentence's best hypothesis and its summed log-probability, if not
// nil.
func Translate(m *seq2seq.Model, in *TranslateInputs, batch, beam int, best func(i int, tokens []int32, score float64)) (TranslateResult, error) {
	V := m.Config.VocabSize
	if beam < 1 || beam > V || batch < 1 {
		return TranslateResult{}, fmt.Errorf("beam %d and batch %d must be positive (beam at most the vocabulary)", beam, batch)
	}
	res := TranslateResult{Batch: batch, Beam: beam, Sentences: len(in.Source), Threads: cpu.Threads()}
	var encWeights, decWeights float64
	for _, p := range m.Params.List() {
		if p.Value.Dims() != 2 {
			continue
		}
		res.Params += p.Value.Len()
		switch {
		case len(p.Name) > 13 && p.Name[:13] == "model.encoder":
			encWeights += float64(p.Value.Len())
		case len(p.Name) > 13 && p.Name[:13] == "model.decoder":
			decWeights += float64(p.Value.Len())
		}
	}
	decWeights += float64(V * m.Config.DModel) // the tied output projection
	var flops float64
	start := time.Now()
	for lo := 0; lo < len(in.Source); lo += batch {
		hi := min(lo+batch, len(in.Source))
		src, steps := in.Source[lo:hi], in.Steps[lo:hi]
		maxSteps, srcTokens := 0, 0
		for i, s := range steps {
			maxSteps = max(maxSteps, s)
			srcTokens += len(src[i])
		}
		flops += 2 * encWeights * float64(srcTokens)
		d, err := m.NewDecoder(src, beam, maxSteps)
		if err != nil {
			return res, err
		}
		n := len(src)
		scores := make([]float64, n*beam)
		hist := make([][]int32, n*beam)
		for s := 0; s < n; s++ {
			for j := 1; j < beam; j++ {
				scores[s*beam+j] = math.Inf(-1)
			}
		}
		active := make([]int, n) // sentence of each live group of beam rows
		for i := range active {
			active[i] = i
		}
		tokens := make([]int32, n*beam)
		for i := range tokens {
			tokens[i] = int32(m.Config.DecoderStartTokenID)
		}
		parents := make([]int, n*beam)
		var useParents []int
		type cand struct {
			row   int
			token int32
			score float64
		}
		top := make([]cand, 0, beam+1)
		scratch := make([]float32, V)
		for step := 0; len(active) > 0; step++ {
			rows := len(active) * beam
			logits, err := d.Step(tokens[:rows], useParents)
			if err != nil {
				return res, err
			}
			flops += 2 * decWeights * float64(rows)
			nextScores := make([]float64, rows)
			nextHist := make([][]int32, rows)
			nextTokens := make([]int32, rows)
			var keep []int // rows of the sentences still running
			next := active[:0:0]
			for i, s := range active {
				top = top[:0]
				for j := 0; j < beam; j++ {
					r := i*beam + j
					prev := scores[s*beam+j]
					if math.IsInf(prev, -1) {
						continue
					}
					row := logits[r*V : (r+1)*V]
					base := prev - lse(row, scratch)
					for c, x := range row {
						v := base + float64(x)
						if len(top) == beam && v <= top[beam-1].score {
							continue
						}
						k := len(top)
						if k < beam {
							top = append(top, cand{})
						} else {
							k = beam - 1
						}
						for k > 0 && top[k-1].score < v {
							top[k] = top[k-1]
							k--
						}
						top[k] = cand{row: j, token: int32(c), score: v}
					}
				}
				for j, c := range top {
					r := i*beam + j
					parents[r] = i*beam + c.row
					nextTokens[r] = c.token
					h := hist[s*beam+c.row]
					nextHist[r] = append(h[:len(h):len(h)], c.token)
					nextScores[r] = c.score
				}
				for j := range beam {
					scores[s*beam+j] = nextScores[i*beam+j]
					hist[s*beam+j] = nextHist[i*beam+j]
				}
				if step+1 < steps[s] {
					for j := range beam {
						keep = append(keep, i*beam+j)
					}
					next = append(next, s)
				} else if best != nil {
					best(lo+s, hist[s*beam], scores[s*beam])
				}
			}
			// Rows of the running sentences move up: renumber their
			// tokens and parents, then drop the others from the caches.
			if len(next) < len(active) && len(next) > 0 {
				if err := d.Keep(keep); err != nil {
					return res, err
				}
				for nr, or := range keep {
					nextTokens[nr] = nextTokens[or]
					p := parents[or]
					parents[nr] = (nr/beam)*beam + p%beam
				}
			}
			copy(tokens, nextTokens[:len(next)*beam])
			active = next
			useParents = parents[:len(active)*beam]
		}
	}
	res.Seconds = time.Since(start).Seconds()
	total := 0
	for _, s := range in.Steps {
		total += s
	}
	res.TokensPerS = float64(total) / res.Seconds
	res.TokensPerSPerThread = res.TokensPerS / float64(res.Threads)
	res.SentencesPerS = float64(len(in.Source)) / res.Seconds
	res.GFLOPS = flops / res.Seconds / 1e9
	return res, nil
}

// lse is log Σ exp(x) (as generate's beam search computes it: vectorised
// exponentials in scratch).
func lse(x, scratch []float32) float64 {
	m := cpu.Max(x)
	copy(scratch, x)
	return float64(m) + math.Log(float64(cpu.ExpShiftSum(scratch, m)))
}
