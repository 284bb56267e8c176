package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/tokenizer"
)

// copyDir copies the files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeFile writes content to dir/name and returns dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// setConfig rewrites one field of dir/config.json.
func setConfig(t *testing.T, dir, field string, value any) string {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c[field] = value
	b, _ = json.Marshal(c)
	os.WriteFile(path, b, 0o644)
	return dir
}

// tinyTranslator writes a small encoder-decoder directory with its BPE
// tokenizer.json.
func tinyTranslator(t *testing.T) string {
	t.Helper()
	bt := &tokenizer.BPETrainer{VocabSize: 300, Special: []string{"<pad>", "</s>"}}
	for _, s := range []string{"ein hund läuft", "a dog runs"} {
		bt.Add(s)
	}
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	m, err := seq2seq.New(seq2seq.Config{ModelType: "pegasus", VocabSize: tok.VocabSize(), DModel: 16, EncoderLayers: 1, DecoderLayers: 1,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "relu",
		MaxPositionEmbeddings: 64, ScaleEmbedding: true, PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0}, 1)
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

// tinyBart writes a small BART directory with a byte-level BPE that has
// BART's special tokens and template.
func tinyBart(t *testing.T) string {
	t.Helper()
	bt := &tokenizer.BPETrainer{VocabSize: 300, Special: []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}}
	bt.Add("a tool to convert files")
	tok, err := bt.Train()
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.SetTemplate("<s>", "</s>"); err != nil {
		t.Fatal(err)
	}
	bos, eos := 0, 2
	m, err := seq2seq.New(seq2seq.Config{ModelType: "bart", VocabSize: tok.VocabSize(), DModel: 16, EncoderLayers: 1, DecoderLayers: 1,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32, ActivationFunction: "gelu",
		MaxPositionEmbeddings: 32, BOSTokenID: 0, PadTokenID: 1, EOSTokenID: 2, DecoderStartTokenID: 2,
		ForcedBOSTokenID: &bos, ForcedEOSTokenID: &eos}, 1)
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

// squadFile writes a one-question SQuAD file, with the answer's start
// (`"answer_start": 4`) or its whole answers field replaced by edit.
func squadFile(t *testing.T, edit string) string {
	t.Helper()
	js := `{"data": [{"title": "t", "paragraphs": [{"context": "Le café.", "qas": [{"id": "q1", "question": "what?", "answers": [{"text": "café", "answer_start": 3}]}]}]}]}`
	switch {
	case strings.HasPrefix(edit, `"answers"`):
		js = strings.Replace(js, `"answers": [{"text": "café", "answer_start": 3}]`, edit, 1)
	case edit != "":
		js = strings.Replace(js, `"answer_start": 3`, edit, 1)
	}
	path := filepath.Join(t.TempDir(), "squad.json")
	os.WriteFile(path, []byte(js), 0o644)
	return path
}

// nanWeights rewrites dir/model.safetensors with one weight NaN.
func nanWeights(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []tensor.NamedTensor
	for i, name := range f.Names() {
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			x.Data()[0] = float32(nanValue())
		}
		ts = append(ts, tensor.NamedTensor{Name: name, Tensor: x})
	}
	if err := tensor.WriteSafetensors(path, ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
	return dir
}

// binDir is the tiny GPT-2 with pytorch_model.bin replaced by the file
// at src (or by the real one cut in half when src is "").
func binDir(t *testing.T, src string) string {
	d := copyDir(t, "../../models/gpt/testdata/tiny-bin")
	b, err := os.ReadFile(filepath.Join(d, "pytorch_model.bin"))
	if src != "" {
		b, err = os.ReadFile(src)
	} else {
		b = b[:len(b)/2]
	}
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "pytorch_model.bin"), b, 0o644)
	return d
}

// pegasusDir is a directory with the Pegasus fixture's spiece.model and
// the given tokenizer_config.json.
func pegasusDir(t *testing.T, config string) string {
	d := t.TempDir()
	b, err := os.ReadFile("../../tokenizer/testdata/pegasus/spiece.model")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "spiece.model"), b, 0o644)
	os.WriteFile(filepath.Join(d, "tokenizer_config.json"), []byte(config), 0o644)
	return d
}

// t5Dir is the t5-small-shaped directory of models/t5/testdata.
const t5Dir = "../../models/t5/testdata/t5-small"

// dropTensor copies dir without the named tensor in its model.safetensors.
func dropTensor(t *testing.T, dir, name string) string {
	t.Helper()
	d := copyDir(t, dir)
	f, err := tensor.ReadSafetensors(filepath.Join(d, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []tensor.NamedTensor
	for _, n := range f.Names() {
		if n != name {
			x, err := f.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			keep = append(keep, tensor.NamedTensor{Name: n, Tensor: x})
		}
	}
	if err := tensor.WriteSafetensors(filepath.Join(d, "model.safetensors"), keep, nil); err != nil {
		t.Fatal(err)
	}
	return d
}

// tokConfig writes dir/tokenizer_config.json.
func tokConfig(t *testing.T, dir, config string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// opusDir is the OPUS-MT fixture with the given vocab.json.
func opusDir(t *testing.T, vocab string) string {
	d := t.TempDir()
	for _, src := range []string{"../../tokenizer/testdata/marian/source.spm", "../../tokenizer/testdata/marian/target.spm",
		"../../pipelines/testdata/opus-mt/config.json", "../../pipelines/testdata/opus-mt/pytorch_model.bin"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, filepath.Base(src)), b, 0o644)
	}
	os.WriteFile(filepath.Join(d, "vocab.json"), []byte(vocab), 0o644)
	return d
}

func nanValue() float64 { var z float64; return z / z }

// TestHostileInputs: damaged and adversarial files, flags and text, given
// to every command as a user might: each ends in exit 2 with one line
// naming the field, file or line at fault, within 10 seconds and 1 GiB of
// allocation, and prints nothing to stdout.
func TestHostileInputs(t *testing.T) {
	gpt2 := "testdata/gpt2-pretrained"
	mt := tinyTranslator(t)
	bart := tinyBart(t)
	qa := tinyQA(t)
	enc := func(name string) string { return filepath.Join("..", "..", "pipelines", "testdata", "encoders", name) }
	stMean, sentDir, nliDir, rrDir, nerDir := enc("st-mean"), enc("sentiment"), enc("nli"), enc("reranker"), enc("ner")
	ctxFile := filepath.Join(t.TempDir(), "ctx.txt")
	os.WriteFile(ctxFile, []byte("the tool converts files"), 0o644)
	emptyFile := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(emptyFile, nil, 0o644)
	loop := filepath.Join(t.TempDir(), "loop")
	os.Symlink(loop, loop)
	noMerges := copyDir(t, gpt2)
	os.Remove(filepath.Join(noMerges, "merges.txt"))
	badTok := func(js string) string {
		d := copyDir(t, mt)
		os.WriteFile(filepath.Join(d, "tokenizer.json"), []byte(js), 0o644)
		return d
	}
	hugeLine := strings.Repeat("hund", 1<<18) + "\n"
	benchInputs := func(js string) string {
		p := filepath.Join(t.TempDir(), "inputs.json")
		os.WriteFile(p, []byte(js), 0o644)
		return p
	}
	charDir := t.TempDir()
	if c, err := tokenizer.NewChar("abc\n"); err != nil || c.SaveHF(filepath.Join(charDir, "tokenizer.json")) != nil {
		t.Fatal("character tokenizer", err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"n_layer 1e9", []string{"generate", "--model", setConfig(t, copyDir(t, gpt2), "n_layer", 1e9)}, "", "n_layer 1000000000 is more than"},
		{"n_layer beyond the weights", []string{"eval", "--model", setConfig(t, copyDir(t, gpt2), "n_layer", 3000)}, "", "a size in the config is wrong"},
		{"vocab_size 2e9", []string{"eval", "--model", setConfig(t, copyDir(t, gpt2), "vocab_size", 2e9)}, "", "vocab_size"},
		{"n_positions 1e9", []string{"generate", "--model", setConfig(t, copyDir(t, gpt2), "n_positions", 1e9)}, "", "n_positions"},
		{"negative layer_norm_epsilon", []string{"eval", "--model", setConfig(t, copyDir(t, gpt2), "layer_norm_epsilon", -1)}, "", "layer_norm_epsilon"},
		{"GPT eos_token_id -1", []string{"generate", "--model", setConfig(t, copyDir(t, gpt2), "eos_token_id", -1)}, "", "eos_token_id -1"},
		{"encoder_layers 1e9", []string{"translate", "--model", setConfig(t, copyDir(t, mt), "encoder_layers", 1e9)}, "x\n", "encoder_layers"},
		{"d_model 2^40", []string{"translate", "--model", setConfig(t, copyDir(t, mt), "d_model", 1<<40)}, "x\n", "d_model"},
		{"max_position_embeddings 1e9", []string{"translate", "--model", setConfig(t, copyDir(t, mt), "max_position_embeddings", 1e9)}, "x\n", "max_position_embeddings"},
		{"translation eos_token_id -1", []string{"translate", "--model", setConfig(t, copyDir(t, mt), "eos_token_id", -1)}, "x\n", "eos_token_id -1 is outside the vocabulary"},
		{"NaN weights (info)", []string{"info", "--model", nanWeights(t, copyDir(t, mt))}, "", "non-finite"},
		{"NaN weights (translate)", []string{"translate", "--model", nanWeights(t, copyDir(t, mt))}, "x\n", "non-finite"},
		{"added tokens, no vocab", []string{"tokenizer", "encode", "--model", badTok(`{"added_tokens":[{"id":0,"content":"<pad>"}],"model":{"type":"BPE","merges":[]}}`)}, "x", "model.vocab is missing"},
		{"empty added token", []string{"tokenizer", "encode", "--model", badTok(`{"added_tokens":[{"id":2,"content":""}],"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}`)}, "x", "has no content"},
		{"GPT-2 vocab without merges", []string{"generate", "--model", noMerges}, "", "merges.txt is missing"},
		{"a 1 MB line", []string{"translate", "--model", mt}, hugeLine, "line 1 has"},
		{"invalid UTF-8 to translate", []string{"translate", "--model", mt}, "ein \xff hund\n", "not valid UTF-8"},
		{"invalid UTF-8 prompt", []string{"generate", "--model", gpt2, "--prompt", "a\xffb"}, "", "not valid UTF-8"},
		{"bleu on nothing", []string{"bleu", "--ref", "/dev/null"}, "", "standard input is empty"},
		{"bleu on invalid UTF-8", []string{"bleu", "--ref", "/dev/null"}, "\xff\n", "standard input:1: not valid UTF-8"},
		{"a missing model", []string{"generate", "--model", "/nonexistent/model"}, "", "does not exist"},
		{"bench inputs: an empty source", []string{"bench", "decode", "--config", "opus-mt-base", "--inputs", benchInputs(`{"source":[[]],"steps":[3]}`)}, "", "source 0 is empty"},
		{"bench inputs: a negative id", []string{"bench", "decode", "--config", "opus-mt-base", "--inputs", benchInputs(`{"source":[[1,-4]],"steps":[3]}`)}, "", "negative token id -4"},
		{"bench inputs: steps 0", []string{"bench", "decode", "--config", "opus-mt-base", "--inputs", benchInputs(`{"source":[[1]],"steps":[0]}`)}, "", "steps[0] = 0"},
		{"bench inputs: not JSON", []string{"bench", "decode", "--config", "opus-mt-base", "--inputs", benchInputs(`nonsense`)}, "", "inputs.json: invalid character"},
		{"bench inputs with a GPT", []string{"bench", "decode", "--config", "gpt2", "--inputs", "x.json"}, "", "are for --config opus-mt-base"},
		{"bench train --batch for translation", []string{"bench", "train", "--preset", "multi30k-de-en", "--batch", "3"}, "", "--batch is for language-model presets"},
		{"a symlink loop", []string{"translate", "--model", loop}, "x\n", "too many levels of symbolic links"},
		{"a file as model", []string{"eval", "--model", "testdata/gpt2-eval.txt"}, "", "is a file, not a model directory"},
		{"a huge --max-tokens", []string{"generate", "--model", gpt2, "--max-tokens", "9223372036854775807"}, "", "flag -max-tokens"},
		{"a huge --beam", []string{"translate", "--model", mt, "--beam", "100000"}, "x\n", "flag -beam"},
		{"a huge --threads", []string{"translate", "--model", mt, "--threads", "10000000"}, "x\n", "flag -threads"},
		{"--top-p NaN", []string{"generate", "--model", gpt2, "--top-p", "NaN"}, "", "flag -top-p"},
		{"--alpha NaN", []string{"translate", "--model", mt, "--alpha", "NaN"}, "x\n", "flag -alpha"},
		{"--temperature Inf", []string{"translate", "--model", mt, "--temperature", "Inf"}, "x\n", "flag -temperature"},
		{"--encoder-repetition-penalty on a translator trained here", []string{"translate", "--model", mt, "--encoder-repetition-penalty", "2"}, "x\n", "--encoder-repetition-penalty is transformers'"},
		{"a bad id in the second line", []string{"tokenizer", "decode", "--model", mt, "--lines"}, "1 2\n999999\n", "line 2"},
		{"an empty document", []string{"summarize", "--model", bart}, "a tool\n\n", "document 2: empty document"},
		{"invalid UTF-8 to summarize", []string{"summarize", "--model", bart}, "a \xff tool\n", "not valid UTF-8"},
		{"a GPT-2 to summarize", []string{"summarize", "--model", gpt2}, "a tool\n", `holds a "gpt2" model; summarisation needs an encoder-decoder`},
		{"a bad JSONL field", []string{"summarize", "--model", bart, "--jsonl", "text"}, `{"text": 3}` + "\n", `standard input:1: field "text" is not a string`},
		{"a JSONL line that is not JSON", []string{"summarize", "--model", bart, "--jsonl", "text"}, `{"text": "a"}` + "\nnot json\n", "standard input:2: not a JSON object"},
		{"--early-stopping maybe", []string{"summarize", "--model", bart, "--early-stopping", "maybe"}, "a tool\n", "--early-stopping must be true, false or never"},
		{"--max-length beyond the positions", []string{"summarize", "--model", bart, "--max-length", "1000"}, "a tool\n", "exceed max_position_embeddings"},
		{"--mbr with one beam", []string{"summarize", "--model", bart, "--beams", "1", "--mbr", "4"}, "a tool\n", "--mbr chooses among beam search's hypotheses: it needs --beams above 1"},
		{"--mbr-top-p without --mbr", []string{"summarize", "--model", bart, "--mbr-top-p", "0.5"}, "a tool\n", "apply to --mbr N"},
		{"--mbr-beams-only without --mbr", []string{"summarize", "--model", bart, "--mbr-beams-only"}, "a tool\n", "apply to --mbr N"},
		{"--epsilon-cutoff without sampling", []string{"summarize", "--model", bart, "--epsilon-cutoff", "0.1"}, "a tool\n", "only apply when sampling"},
		{"rouge with fewer references", []string{"rouge", "--ref", "/dev/null"}, "a summary\n", "has 0"},
		{"rouge on invalid UTF-8", []string{"rouge", "--ref", "/dev/null"}, "\xff\n", "standard input:1: not valid UTF-8"},
		{"SQuAD with a wrong answer_start", []string{"squad", "--data", squadFile(t, `"answer_start": 1`), "--predictions", "/dev/null"}, "", `question "q1": answer 0: the context at answer_start 1 does not read "café"`},
		{"SQuAD without answers", []string{"squad", "--data", squadFile(t, `"answers": []`), "--predictions", "/dev/null"}, "", `question "q1": no answers`},
		{"predictions that are not an object", []string{"squad", "--data", squadFile(t, ""), "--predictions", "testdata/gpt2-eval.txt"}, "", "want a JSON object of id → answer text"},
		{"an empty question", []string{"answer", "--model", qa, "--question", " ", "--context", ctxFile}, "", "answer: the question is empty"},
		{"an empty context", []string{"answer", "--model", qa, "--question", "what?", "--context", emptyFile}, "", "answer: the context is empty"},
		{"a model without a QA head", []string{"answer", "--model", "../../models/bert/testdata/mlm", "--question", "what?", "--context", ctxFile}, "", "has no question-answering head"},
		{"a translation model to answer", []string{"answer", "--model", mt, "--question", "what?", "--context", ctxFile}, "", `holds a "pegasus" model; question answering needs a BERT, RoBERTa or DistilBERT`},
		{"a bad JSONL question", []string{"answer", "--model", qa, "--jsonl"}, `{"question": "a"}` + "\n", "standard input:1: want a JSON object with string fields question and context"},
		{"SQuAD to eval with a wrong answer_start", []string{"eval", "--model", qa, "--squad", squadFile(t, `"answer_start": 2`)}, "", `the context at answer_start 2 does not read "café"`},
		{"an unknown character in the second line", []string{"tokenizer", "encode", "--model", charDir, "--lines"}, "abc\nabz\n", "line 2"},
		{"a pickle that calls os.system", []string{"info", "--model", binDir(t, "../../tensor/testdata/pytorch/evil.bin")}, "", "refusing the global posix.system"},
		{"a truncated pytorch_model.bin", []string{"convert", "--model", binDir(t, "")}, "", "pytorch_model.bin"},
		{"a zip as a SentencePiece model", []string{"tokenizer", "encode", "--tokenizer", "../../tensor/testdata/pytorch/evil.bin"}, "x", "neither a tokenizer.json nor a SentencePiece model"},
		{"a Pegasus offset of 1e9", []string{"tokenizer", "encode", "--model", pegasusDir(t, `{"tokenizer_class": "PegasusTokenizer", "offset": 1000000000}`)}, "x", "Pegasus offset of 1000000000"},
		{"an OPUS-MT vocab.json with a repeated id", []string{"translate", "--model", opusDir(t, `{"</s>": 0, "<unk>": 0, "<pad>": 2}`)}, "x\n", `both have id 0`},
		{"a T5 feed_forward_proj unknown", []string{"translate", "--model", setConfig(t, copyDir(t, t5Dir), "feed_forward_proj", "gated-tanh")}, "x\n", `feed_forward_proj "gated-tanh"`},
		{"T5 buckets beyond the weights", []string{"summarize", "--model", setConfig(t, setConfig(t, copyDir(t, t5Dir), "relative_attention_num_buckets", 65536), "relative_attention_max_distance", 1<<20)}, "x\n", "a size in the config is wrong"},
		{"a T5 relative bias table missing", []string{"info", "--model", dropTensor(t, t5Dir, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")}, "",
			`tensor "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" is missing`},
		{"a T5 task that is not there", []string{"translate", "--model", t5Dir, "--task", "summarization_xx"}, "x\n", `no task_specific_params entry "summarization_xx"`},
		{"an empty line to embed", []string{"embed", "--model", stMean}, "a tool\n\nanother\n", "standard input:2: the line is empty"},
		{"invalid UTF-8 to embed", []string{"embed", "--model", stMean}, "a \xff tool\n", "standard input:1: not valid UTF-8"},
		{"nothing to embed", []string{"embed", "--model", stMean}, "", "no text on standard input"},
		{"a GPT-2 to embed", []string{"embed", "--model", gpt2}, "a tool\n", `holds a "gpt2" model; embedding needs a BERT`},
		{"a module path out of the directory", []string{"embed", "--model", writeFile(t, copyDir(t, stMean), "modules.json",
			`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"../x","type":"sentence_transformers.models.Pooling"}]`)}, "a\n", `path "../x" leaves the directory`},
		{"a pooling dimension that is not the model's", []string{"embed", "--model", writeFile(t, copyDir(t, stMean), "1_Pooling/config.json",
			`{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}`)}, "a\n", "word_embedding_dimension 384 is not the model's hidden size 16"},
		{"an unknown module", []string{"embed", "--model", writeFile(t, copyDir(t, stMean), "modules.json",
			`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]`)},
			"a\n", "module 2 (sentence_transformers.models.Dense) is not supported"},
		{"a token classifier to classify", []string{"classify", "--model", nerDir}, "a\n", "has no sequence-classification head"},
		{"labels that do not match the classifier", []string{"classify", "--model", setConfig(t, copyDir(t, sentDir), "id2label", map[string]string{"0": "a", "1": "b"})}, "a\n", "declares 2 labels"},
		{"id2label with a gap", []string{"classify", "--model", setConfig(t, copyDir(t, sentDir), "id2label", map[string]string{"0": "a", "1": "b", "5": "c"})}, "a\n", `id2label key "5"`},
		{"an empty zero-shot label", []string{"classify", "--model", nliDir, "--labels", "a,,b"}, "a\n", "has an empty label"},
		{"a classifier to rerank", []string{"rerank", "--model", sentDir, "--query", "q"}, "a\n", "a cross-encoder has one"},
		{"rerank without a query", []string{"rerank", "--model", rrDir}, "a\n", "--query are required"},
		{"an unknown aggregation", []string{"ner", "--model", nerDir, "--aggregation", "longest"}, "a\n", `--aggregation "longest"`},
		{"a classifier to tag", []string{"ner", "--model", sentDir}, "a\n", "has no token-classification head"},
		{"retrieval data that is missing", []string{"eval", "--model", stMean, "--retrieval", "/nonexistent/pairs.jsonl"}, "", "/nonexistent/pairs.jsonl"},
		{"retrieval on an unknown split", []string{"eval", "--model", stMean, "--retrieval", "debian:dev"}, "", `no split "dev"`},
		{"a T5 extra_ids of -1", []string{"translate", "--model", tokConfig(t, copyDir(t, t5Dir), `{"tokenizer_class": "T5Tokenizer", "extra_ids": -1}`)}, "x\n", "-1 extra_ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdinReader = strings.NewReader(tc.stdin)
			defer func() { stdinReader = os.Stdin }()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			el := time.Since(start)
			runtime.ReadMemStats(&after)
			msg := errb.String()
			if code != exitBadInput || !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSuffix(msg, "\n"), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line with %q", code, msg, tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("partial output on stdout: %q", out.String())
			}
			if el > 10*time.Second {
				t.Errorf("took %v", el)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<30 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
		})
	}
}
