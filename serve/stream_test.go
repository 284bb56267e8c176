package serve

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	s2s "github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tokenizer"
)

// tinySeq2Seq writes a small random encoder-decoder with a byte-level BPE
// (a translator as goformer train writes one, or a BART summariser).
func tinySeq2Seq(t testing.TB, modelType string) string {
	t.Helper()
	special := []string{"<pad>", "</s>"}
	if modelType == "bart" {
		special = []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}
	}
	bt := &tokenizer.BPETrainer{VocabSize: 300, Special: special}
	for _, s := range []string{"ein hund läuft durch den schnee", "a dog runs through the snow", "zwei männer spielen fußball"} {
		bt.Add(s)
	}
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	cfg := s2s.Config{ModelType: modelType, VocabSize: tok.VocabSize(), DModel: 16, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "relu",
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, InitStd: 0.3, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0}
	if modelType == "bart" {
		if err := tok.SetTemplate("<s>", "</s>"); err != nil {
			t.Fatal(err)
		}
		bos, eos := 0, 2
		cfg.BOSTokenID, cfg.PadTokenID, cfg.EOSTokenID, cfg.DecoderStartTokenID = 0, 1, 2, 2
		cfg.ForcedBOSTokenID, cfg.ForcedEOSTokenID = &bos, &eos
		cfg.ActivationFunction = "gelu"
	}
	m, err := s2s.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveHF(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStreamMatchesPipelines: translate and summarize requests sent
// together, which join and leave one running batch at different steps,
// get what the pipelines give each text alone (greedy, the translator's
// fairseq-style length limit; BART's forced BOS/EOS and max_new_tokens;
// T5's relative positions; beam search, transformers' and fairseq's, each
// text's beams reordering among their own rows), the batch did hold several rows at once, and a request
// with beams still goes through the batch worker.
func TestStreamMatchesPipelines(t *testing.T) {
	for _, tc := range []struct {
		modelType, endpoint, field string
		opts                       map[string]any
	}{
		{"pegasus", "translate", "translations", nil},
		{"marian", "translate", "translations", nil},
		{"bart", "summarize", "summaries", map[string]any{"max_new_tokens": 12, "beams": 1}},
		{"t5", "summarize", "summaries", map[string]any{"max_new_tokens": 12, "beams": 1}},
		{"bart", "summarize", "summaries", map[string]any{"max_new_tokens": 12, "beams": 3}},
		{"pegasus", "translate", "translations", map[string]any{"beams": 2}},
		{"t5", "summarize", "summaries", map[string]any{"max_new_tokens": 9, "beams": 2}},
		{"bart", "summarize", "summaries", map[string]any{"max_new_tokens": 12, "beams": 1, "encoder_repetition_penalty": 3.0}},
		{"t5", "summarize", "summaries", map[string]any{"max_new_tokens": 9, "beams": 2, "encoder_repetition_penalty": 2.0}},
		{"bart", "summarize", "summaries", map[string]any{"max_new_tokens": 12, "beams": 2, "repetition_penalty": 3.0}},
	} {
		name := fmt.Sprint(tc.modelType, "-", tc.endpoint, "-beams", tc.opts["beams"])
		if p, ok := tc.opts["encoder_repetition_penalty"]; ok {
			name += fmt.Sprint("-encoder-penalty", p)
		}
		if p, ok := tc.opts["repetition_penalty"]; ok {
			name += fmt.Sprint("-repetition-penalty", p)
		}
		t.Run(name, func(t *testing.T) {
			slowSteps(t)
			dir := filepath.Join("..", "models", "t5", "testdata", "t5-small")
			if tc.modelType != "t5" {
				dir = tinySeq2Seq(t, tc.modelType)
			}
			texts := []string{"ein hund", "zwei männer spielen fußball durch den schnee", "a dog runs", "läuft", "ein hund läuft durch den schnee, zwei männer spielen", "den"}
			want := make([]string, len(texts))
			switch tc.endpoint {
			case "translate":
				tr, err := pipelines.LoadTranslator(dir)
				if err != nil {
					t.Fatal(err)
				}
				if beams, ok := tc.opts["beams"].(int); ok {
					tr.Options.Beam, tr.Options.LengthPenalty = beams, 0.6 // the server's default α
				}
				for i, x := range texts {
					out, err := tr.Translate([]string{x})
					if err != nil {
						t.Fatal(err)
					}
					want[i] = out[0]
				}
			case "summarize":
				s, err := pipelines.LoadSummarizer(dir)
				if err != nil {
					t.Fatal(err)
				}
				s.Options.Generation.MaxNewTokens, s.Options.Generation.NumBeams = tc.opts["max_new_tokens"].(int), tc.opts["beams"].(int)
				plain, changed := *s, 0
				if p, ok := tc.opts["encoder_repetition_penalty"].(float64); ok {
					s.Options.Generation.EncoderRepetitionPenalty = p
				}
				if p, ok := tc.opts["repetition_penalty"].(float64); ok {
					s.Options.Generation.RepetitionPenalty = p
				}
				for i, x := range texts {
					out, err := s.Summarize([]string{x})
					if err != nil {
						t.Fatal(err)
					}
					want[i] = out[0]
					if without, err := plain.Summarize([]string{x}); err == nil && without[0] != out[0] {
						changed++
					}
				}
				_, enc := tc.opts["encoder_repetition_penalty"]
				_, rep := tc.opts["repetition_penalty"]
				if (enc || rep) && changed == 0 {
					t.Fatal("the penalty changes no summary: the test would not see it dropped")
				}
			}
			for i := range want { // as JSON carries them (invalid UTF-8 as U+FFFD)
				b, _ := json.Marshal(want[i])
				json.Unmarshal(b, &want[i])
			}
			_, ts := newTestServer(t, Config{}, map[string]string{"m": dir})
			body := metricsText(t, ts.URL)
			count0, _ := histogram(body, "goformer_batch_occupancy", `model="m"`)
			single0 := bucket(body, "goformer_batch_occupancy", `model="m",le="1"`)
			for round := range 3 {
				var wg sync.WaitGroup
				got := make([]string, len(texts))
				for i, x := range texts {
					wg.Add(1)
					go func() {
						defer wg.Done()
						time.Sleep(time.Duration(i*round) * time.Millisecond) // join at different steps
						req := map[string]any{"model": "m", "text": x}
						for k, v := range tc.opts {
							req[k] = v
						}
						code, out, _ := post(t, ts.URL+"/v1/"+tc.endpoint, req)
						if list, _ := out[tc.field].([]any); code == 200 && len(list) == 1 {
							got[i], _ = list[0].(string)
						} else {
							got[i] = fmt.Sprintf("%d %v", code, out)
						}
					}()
				}
				wg.Wait()
				for i := range texts {
					if got[i] != want[i] {
						t.Errorf("round %d, %q: together %q, alone %q", round, texts[i], got[i], want[i])
					}
				}
			}
			body = metricsText(t, ts.URL)
			count, _ := histogram(body, "goformer_batch_occupancy", `model="m"`)
			single := bucket(body, "goformer_batch_occupancy", `model="m",le="1"`)
			if shared := (count - count0) - (single - single0); shared < 10 {
				t.Errorf("%g steps while requested together, %g of them with several rows; want texts decoded together", count-count0, shared)
			}
			if tc.modelType == "bart" && tc.opts["beams"] == 1 { // 64 positions
				code, out, _ := post(t, ts.URL+"/v1/summarize", map[string]any{"model": "m", "text": texts[0], "beams": 1, "max_new_tokens": 200})
				if e, _ := out["error"].(map[string]any); code != 400 || e == nil || e["param"] != "max_new_tokens" {
					t.Errorf("200 new tokens from 64 positions: %d %v", code, out)
				}
				for _, param := range []string{"encoder_repetition_penalty", "repetition_penalty"} {
					for _, p := range []any{0, -1, "2", 1e9} {
						code, out, _ := post(t, ts.URL+"/v1/summarize", map[string]any{"model": "m", "text": texts[0], param: p})
						if e, _ := out["error"].(map[string]any); code != 400 || e == nil || e["param"] != param {
							t.Errorf("%s %v: %d %v", param, p, code, out)
						}
					}
				}
			}
			// Several texts in one request, one of them empty (translate:
			// an empty translation), and a request with beams (the worker).
			if tc.endpoint == "translate" {
				code, out, _ := post(t, ts.URL+"/v1/translate", map[string]any{"model": "m", "text": []string{texts[0], " ", texts[2]}})
				if list, _ := out["translations"].([]any); code != 200 || !reflect.DeepEqual(list, []any{want[0], "", want[2]}) {
					t.Errorf("three lines: %d %v, want %q", code, out, []string{want[0], "", want[2]})
				}
				code, out, _ = post(t, ts.URL+"/v1/translate", map[string]any{"model": "m", "text": texts[1], "beams": 3})
				if list, _ := out["translations"].([]any); code != 200 || len(list) != 1 {
					t.Errorf("beams 3: %d %v", code, out)
				}
				// A model trained here translates with the paper's beam
				// search, which has neither of transformers' penalties.
				for _, param := range []string{"encoder_repetition_penalty", "repetition_penalty"} {
					code, out, _ = post(t, ts.URL+"/v1/translate", map[string]any{"model": "m", "text": texts[1], param: 2})
					if e, _ := out["error"].(map[string]any); code != 400 || e == nil || e["param"] != param {
						t.Errorf("%s on a translator trained here: %d %v", param, code, out)
					}
				}
			}
		})
	}
}
