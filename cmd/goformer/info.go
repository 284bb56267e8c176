package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/nn"
)

type infoResult struct {
	Dir          string          `json:"dir"`
	ModelType    string          `json:"model_type"`
	Architecture string          `json:"architecture"`
	Parameters   int             `json:"parameters"`
	Weights      string          `json:"weights"` // the file the weights were read from
	Config       json.RawMessage `json:"config"`
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("goformer info",
		"Describes a model directory (Hugging Face layout: config.json + model.safetensors): its family,\n"+
			"architecture, parameter count and configuration. The weights are read and checked.",
		"  goformer info --model runs/shakespeare-char-small/model\n  goformer info --model DIR --json", stderr)
	dir := fs.String("model", "", "model directory (required)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("info: --model is required")
	}
	r, err := describeModel(*dir)
	if err != nil {
		return usageError{"info: " + err.Error()}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintf(stdout, "%s\n  %s\n  %d parameters (%.2fM)\n  config: %s\n  weights: %s\n", r.Dir, r.Architecture, r.Parameters, float64(r.Parameters)/1e6,
		filepath.Join(*dir, "config.json"), filepath.Join(*dir, r.Weights))
	return err
}

// describeModel loads the model in dir with its family's loader (which
// reads and checks every weight) and describes it. Errors are usage errors
// naming the file and field.
func describeModel(dir string) (infoResult, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return infoResult{}, usagef("%s is not a model directory: %v", dir, err)
	}
	var head struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return infoResult{}, usagef("%s: %v", filepath.Join(dir, "config.json"), err)
	}
	var params *nn.Params
	arch := ""
	switch head.ModelType {
	case "gpt2":
		m, err := gpt.Load(dir)
		if err != nil {
			return infoResult{}, usageError{err.Error()}
		}
		params = &m.Params
		arch = fmt.Sprintf("GPT-2 decoder: %d layers, width %d, %d heads, context %d, vocabulary %d",
			m.Config.NLayer, m.Config.NEmbd, m.Config.NHead, m.Config.NPositions, m.Config.VocabSize)
	case "marian", "pegasus", "bart", "mbart":
		m, err := seq2seq.Load(dir)
		if err != nil {
			return infoResult{}, usageError{err.Error()}
		}
		params = &m.Params
		ln := map[string]string{"marian": "post-LN, sinusoidal positions", "pegasus": "pre-LN, sinusoidal positions",
			"bart": "post-LN, learned positions, layernorm_embedding", "mbart": "pre-LN, learned positions, layernorm_embedding"}[m.Config.ModelType]
		arch = fmt.Sprintf("encoder-decoder (%s, %s): %d+%d layers, d_model %d, %d heads, ffn %d, vocabulary %d",
			head.ModelType, ln, m.Config.EncoderLayers, m.Config.DecoderLayers, m.Config.DModel, m.Config.EncoderAttentionHeads, m.Config.EncoderFFNDim, m.Config.VocabSize)
		if m.Config.PointerGenerator {
			arch += "; pointer-generator copy head (goformer's pointer.* tensors: transformers loads the model without it)"
		}
	case "t5":
		m, err := t5.Load(dir)
		if err != nil {
			return infoResult{}, usageError{err.Error()}
		}
		params = &m.Params
		c := &m.Config
		arch = fmt.Sprintf("encoder-decoder (t5: %s, relative position bias of %d buckets up to %d, RMS norm before each sub-layer): %d+%d layers, d_model %d, %d heads of %d, d_ff %d, vocabulary %d",
			c.Variant(), c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance, c.NumLayers, c.DecoderLayers(), c.DModel, c.NumHeads, c.DKV, c.DFF, c.VocabSize)
	case "bert", "roberta", "xlm-roberta", "distilbert":
		h := encoderHeadOf(head.Architectures)
		m, err := bert.Load(dir, h)
		if err != nil {
			return infoResult{}, usageError{err.Error()}
		}
		params = &m.Params
		what := map[bert.Head]string{bert.MaskedLM: "masked-LM head", bert.QuestionAnswering: "question-answering head", bert.Base: "no head",
			bert.SequenceClassification: fmt.Sprintf("sequence-classification head, labels %v", m.Config.Names()),
			bert.TokenClassification:    fmt.Sprintf("token-classification head, labels %v", m.Config.Names())}[h]
		arch = fmt.Sprintf("%s encoder (%s): %d layers, hidden %d, %d heads, vocabulary %d",
			map[string]string{"bert": "BERT", "roberta": "RoBERTa", "xlm-roberta": "XLM-RoBERTa", "distilbert": "DistilBERT"}[head.ModelType], what, m.Config.NumHiddenLayers, m.Config.HiddenSize, m.Config.NumAttentionHeads, m.Config.VocabSize)
	default:
		return infoResult{}, usagef("%s: model_type %q is not one goformer knows (gpt2, marian, pegasus, bart, mbart, t5, bert, roberta, xlm-roberta, distilbert)", dir, head.ModelType)
	}
	weights, err := weightsFile(dir)
	if err != nil {
		return infoResult{}, err
	}
	return infoResult{Dir: dir, ModelType: head.ModelType, Architecture: arch, Parameters: params.Count(), Weights: weights, Config: raw}, nil
}

// weightsFile names the file of dir's weights that the loaders read.
func weightsFile(dir string) (string, error) {
	path, err := hfdir.WeightsPath(dir, hfdir.WeightsFiles)
	if err != nil {
		return "", usageError{err.Error()}
	}
	return filepath.Base(path), nil
}

// encoderHeadOf is the head a BERT-family config's architectures name
// (the bare encoder when they name none goformer reads).
func encoderHeadOf(archs []string) bert.Head {
	for _, a := range archs {
		if h, ok := bert.HeadOf(a); ok {
			return h
		}
	}
	return bert.Base
}
