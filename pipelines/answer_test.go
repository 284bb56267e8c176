package pipelines

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tokenizer"
)

var update = flag.Bool("update", false, "rewrite testdata/qa_inputs.json (then run scripts/reference/qa_pipeline.py)")

const qaContext = "bäd face, a dab of deaf cab. fed bead. cab face bad, dead fade; bad deed faced a cab. " +
	"face fab dab. bead bad deaf, ace café fed a bad dad. faded cab beef."

// qaPipeline builds the question answerer of the test: the BERT QA fixture
// (29 tokens, 20 positions) and a WordPiece trained to fill its vocabulary.
func qaPipeline(t *testing.T) *QuestionAnswerer {
	t.Helper()
	tr := &tokenizer.WordPieceTrainer{VocabSize: 29}
	for range 3 {
		tr.Add(qaContext)
	}
	wp, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	m, err := bert.Load(filepath.Join("..", "models", "bert", "testdata", "qa"), bert.QuestionAnswering)
	if err != nil {
		t.Fatal(err)
	}
	qa, err := NewQuestionAnswerer(m, wp)
	if err != nil {
		t.Fatal(err)
	}
	qa.Options = QAOptions{MaxSeqLen: 20, DocStride: 5, MaxAnswerLen: 4, TopK: 3, BatchWindows: 2}
	return qa
}

// TestQuestionAnswererMatchesPipeline: the answers, scores and character
// spans are those scripts/reference/qa_pipeline.py computes with its
// rendering of transformers' question-answering pipeline (windows with a
// stride, masked softmax, top-k spans, word alignment) from the same
// tokens and the PyTorch BERT of models/bert.
func TestQuestionAnswererMatchesPipeline(t *testing.T) {
	qa := qaPipeline(t)
	question := "bad cab?"
	if *update {
		writeQAInputs(t, qa, question, "qa_inputs.json")
	}
	matchQAReference(t, qa, question, "qa_answers.json")
}

// writeQAInputs writes what scripts/reference/qa_pipeline.py reads: the
// question's and the context's tokens, offsets and words, the template's
// ids and the options.
func writeQAInputs(t *testing.T, qa *QuestionAnswerer, question, file string) {
	t.Helper()
	q, _ := qa.Tokenizer.EncodeOffsets(question)
	c, _ := qa.Tokenizer.EncodeOffsets(qaContext)
	b, _ := json.MarshalIndent(map[string]any{"question_ids": q.IDs, "context_ids": c.IDs, "offsets": c.Offsets, "words": c.Words,
		"context": qaContext, "cls": qa.Template.CLS, "sep": qa.Template.SEP, "pad": qa.Template.Pad,
		"max_seq_len": qa.Options.MaxSeqLen, "doc_stride": qa.Options.DocStride, "max_answer_len": qa.Options.MaxAnswerLen,
		"top_k": qa.Options.TopK}, "", " ")
	if err := os.WriteFile(filepath.Join("testdata", file), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// matchQAReference answers question about qaContext and compares the
// three answers with the reference's (testdata/file): text, character
// span, score within 1e-5 relative; each span must point at its text.
func matchQAReference(t *testing.T, qa *QuestionAnswerer, question, file string) {
	t.Helper()
	got, err := qa.Answer(question, qaContext)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var want []Answer
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) != 3 {
		t.Fatalf("%d answers, the reference %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Text != w.Text || g.Start != w.Start || g.End != w.End || math.Abs(g.Score-w.Score) > 1e-5*w.Score {
			t.Errorf("answer %d: %+v, the reference %+v", i, g, w)
		}
		if qaContext[g.ByteStart:g.ByteEnd] != g.Text || []rune(qaContext)[g.Start] != []rune(g.Text)[0] {
			t.Errorf("answer %d: spans do not point at %q", i, g.Text)
		}
	}
	t.Logf("answers: %+v", got)
}

func TestQuestionAnswererRefuses(t *testing.T) {
	qa := qaPipeline(t)
	for _, tc := range []struct{ q, c, want string }{
		{"", "a cab", "question is empty"},
		{"bad?", "  ", "context is empty"},
		{"bad?", "a \xff cab", "not valid UTF-8"},
		{strings.Repeat("bad ", 30), "a cab", "no room for the context"},
	} {
		if _, err := qa.Answer(tc.q, tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q / %q: want %q, got %v", tc.q, tc.c, tc.want, err)
		}
	}
	// A long context is cut into windows, run a few at a time.
	long := strings.Repeat(qaContext+" ", 200)
	ans, err := qa.Answer("bad cab?", long)
	if err != nil || len(ans) != 3 || long[ans[0].ByteStart:ans[0].ByteEnd] != ans[0].Text {
		t.Fatalf("long context: %+v, %v", ans, err)
	}
}

// TestRobertaQuestionAnswerer: a RoBERTa model with its byte-level BPE
// answers with spans of the context (<s> q </s></s> c </s>, positions
// after padding_idx), and refuses a mismatched tokenizer.
func TestRobertaQuestionAnswerer(t *testing.T) {
	bt := &tokenizer.BPETrainer{VocabSize: 300, Special: []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}}
	bt.Add(qaContext)
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	m, err := bert.New(bert.Config{ModelType: bert.FamilyRoBERTa, VocabSize: tok.VocabSize(), HiddenSize: 16, NumHiddenLayers: 1,
		NumAttentionHeads: 2, IntermediateSize: 32, MaxPositionEmbeddings: 34, PadTokenID: 1, LayerNormEps: 1e-5}, bert.QuestionAnswering, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewQuestionAnswerer(m, tok); err == nil || !strings.Contains(err.Error(), "template") {
		t.Fatalf("a BPE without RoBERTa's template: %v", err)
	}
	tok.SetTemplate("<s>", "</s>")
	qa, err := NewQuestionAnswerer(m, tok)
	if err != nil {
		t.Fatal(err)
	}
	if qa.MaxPos != 32 {
		t.Errorf("windows may use %d positions, want 34 - (padding_idx + 1) = 32", qa.MaxPos)
	}
	qa.Options = QAOptions{TopK: 2}
	ans, err := qa.Answer("bad cab?", qaContext)
	if err != nil || len(ans) != 2 {
		t.Fatalf("%+v %v", ans, err)
	}
	for _, a := range ans {
		if qaContext[a.ByteStart:a.ByteEnd] != a.Text || strings.HasPrefix(a.Text, " ") || a.Score <= 0 || a.Score > 1 {
			t.Errorf("answer %+v", a)
		}
	}
}

// TestFamiliesQuestionAnswererMatchPipeline: for RoBERTa and DistilBERT the
// answers, scores and character spans are those
// scripts/reference/qa_pipeline.py --family F computes from the same tokens
// and weights. RoBERTa: <s> q </s></s> c </s>, one token type, positions
// counted from padding_idx + 1, a window budget that leaves room for four
// special tokens, byte-level BPE offsets (leading spaces trimmed) widened
// to words. DistilBERT: BERT's template, no token types, its own parameter
// names. The models (testdata/<family>_qa, random weights drawn large
// enough that the spans' scores differ) and the inputs are written by
// -update.
func TestFamiliesQuestionAnswererMatchPipeline(t *testing.T) {
	for _, family := range []string{bert.FamilyRoBERTa, bert.FamilyDistilBERT} {
		t.Run(family, func(t *testing.T) {
			var tok interface {
				QATokenizer
				tokenizer.Tokenizer
			}
			cfg := bert.Config{ModelType: family, HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 4, IntermediateSize: 32,
				HiddenAct: "gelu", LayerNormEps: 1e-12, InitializerRange: 0.3}
			if family == bert.FamilyRoBERTa {
				bt := &tokenizer.BPETrainer{VocabSize: 300, Special: []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}}
				bt.Add(qaContext)
				bpe, err := bt.Train()
				if err != nil {
					t.Fatal(err)
				}
				bpe.SetTemplate("<s>", "</s>")
				tok, cfg.VocabSize, cfg.MaxPositionEmbeddings, cfg.PadTokenID = bpe, bpe.VocabSize(), 34, 1
			} else {
				wp := qaPipeline(t).Tokenizer.(*tokenizer.WordPiece)
				tok, cfg.VocabSize, cfg.MaxPositionEmbeddings, cfg.PadTokenID = wp, wp.VocabSize(), 20, int(wp.Pad())
			}
			dir := filepath.Join("testdata", family+"_qa")
			question := "bad cab?"
			if *update {
				m, err := bert.New(cfg, bert.QuestionAnswering, 7)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Save(dir); err != nil {
					t.Fatal(err)
				}
			}
			m, err := bert.Load(dir, bert.QuestionAnswering)
			if err != nil {
				t.Fatal(err)
			}
			qa, err := NewQuestionAnswerer(m, tok)
			if err != nil {
				t.Fatal(err)
			}
			qa.Options = QAOptions{MaxSeqLen: 20, DocStride: 5, MaxAnswerLen: 4, TopK: 3, BatchWindows: 2}
			if *update {
				writeQAInputs(t, qa, question, family+"_qa_inputs.json")
			}
			matchQAReference(t, qa, question, family+"_qa_answers.json")
		})
	}
}
