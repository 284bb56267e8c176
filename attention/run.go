package attention

import (
	"fmt"
	"strings"

	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/tokenizer"
)

// Result is one look at a model's attention: the tokens, the maps, and
// for an encoder-decoder the word alignment of one cross-attention layer.
type Result struct {
	Source     []string `json:"source"`              // the tokens read (an encoder-decoder's source)
	Target     []string `json:"target,omitempty"`    // the token each decoder position produces
	Alignment  string   `json:"alignment,omitempty"` // Pharaoh pairs, source-target words
	AlignLayer int      `json:"align_layer"`         // the cross-attention layer aligned
	Outline    [][2]int `json:"outline,omitempty"`   // the aligned (row, column) token pairs
	Maps       []Map    `json:"maps"`
}

// Labels returns a readable label for each id: its decoded text, or #id
// when that is empty (special tokens, lone spaces).
func Labels(tok tokenizer.Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		s, err := tok.Decode([]int32{id})
		s = strings.TrimSpace(s)
		if err != nil || s == "" {
			s = fmt.Sprintf("#%d", id)
		}
		out[i] = s
	}
	return out
}

// LanguageModel looks at a GPT-2 model reading text.
func LanguageModel(m *gpt.Model, tok tokenizer.Tokenizer, text string) (*Result, error) {
	ids, err := tok.Encode(text)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 || len(ids) > m.Config.NPositions {
		return nil, fmt.Errorf("the text gives %d tokens; the model reads 1 to %d", len(ids), m.Config.NPositions)
	}
	labels := Labels(tok, ids)
	maps, err := OfDecoder(m, ids, labels)
	if err != nil {
		return nil, err
	}
	return &Result{Source: labels, Maps: maps}, nil
}

// EncoderModel looks at a BERT-family model reading text (with the
// tokenizer's [CLS] … [SEP] or <s> … </s>).
func EncoderModel(m *bert.Model, tok tokenizer.Tokenizer, text string) (*Result, error) {
	var ids []int32
	var err error
	if t, ok := tok.(interface{ EncodeWithSpecials(string) ([]int32, error) }); ok {
		ids, err = t.EncodeWithSpecials(text)
	} else {
		ids, err = tok.Encode(text)
	}
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 || len(ids) > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("the text gives %d tokens; the model reads 1 to %d", len(ids), m.Config.MaxPositionEmbeddings)
	}
	labels := Labels(tok, ids)
	maps, err := OfEncoder(m, ids, nil, labels)
	if err != nil {
		return nil, err
	}
	return &Result{Source: labels, Maps: maps}, nil
}

// Translation looks at an encoder-decoder translating src into tgt (or,
// when tgt is empty, into its own translation), and aligns the words
// through cross-attention layer alignLayer (−1: the last). Rows are
// labelled with the token each decoder position produces.
func Translation(tr *pipelines.Translator, src, tgt string, alignLayer int) (*Result, error) {
	model, ok := tr.Model.(EncoderDecoder)
	if !ok {
		return nil, fmt.Errorf("a %T cannot show its attention", tr.Model)
	}
	tok := tr.Tokenizer
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("the source is empty")
	}
	if tgt == "" {
		outs, err := tr.Translate([]string{src})
		if err != nil {
			return nil, err
		}
		tgt = outs[0]
	}
	bos, eos, maxLen := tr.Model.SourceFormat()
	srcIDs, err := tok.Encode(tr.Prefix + src)
	if err != nil {
		return nil, err
	}
	y, err := tok.Encode(tgt)
	if err != nil {
		return nil, err
	}
	in := append(append([]int32{}, srcIDs...), eos)
	if bos >= 0 {
		in = append([]int32{bos}, in...)
	}
	if len(in) > maxLen || len(y)+1 > maxLen {
		return nil, fmt.Errorf("the source (%d tokens) or the target (%d) is longer than the model reads (%d)", len(in), len(y)+1, maxLen)
	}
	start := tr.Model.GenerationOptions().Start
	if tr.Generation != nil {
		start = tr.Generation.Start
		if tr.Generation.ForcedBOS >= 0 { // BART: the first token generated is <s>
			y = append([]int32{tr.Generation.ForcedBOS}, y...)
		}
	}
	produced := append(append([]int32{}, y...), eos) // what each decoder position produces
	input := append([]int32{start}, y...)            // what the decoder reads
	srcLabels, producedLabels := Labels(tok, in), Labels(tok, produced)
	maps, err := OfEncoderDecoder(model, in, input, srcLabels, producedLabels)
	if err != nil {
		return nil, err
	}
	inputLabels := Labels(tok, input)
	for i := range maps {
		if maps[i].Kind == "decoder" {
			maps[i].Keys = inputLabels
		}
	}
	cross := Select(maps, "cross", -1)
	if alignLayer < 0 {
		alignLayer = len(cross) - 1
	}
	if alignLayer >= len(cross) {
		return nil, fmt.Errorf("align layer %d, but the decoder has %d layers", alignLayer, len(cross))
	}
	srcWords, err := WordIndex(tok.Decode, tok.IsSpecial, in)
	if err != nil {
		return nil, err
	}
	if n := len(strings.Fields(tr.Prefix)); n > 0 { // T5's task prefix is not part of the sentence
		for i := range srcWords {
			if srcWords[i] -= n; srcWords[i] < 0 {
				srcWords[i] = -1
			}
		}
	}
	tgtWords, err := WordIndex(tok.Decode, tok.IsSpecial, produced)
	if err != nil {
		return nil, err
	}
	outline, words, err := Align(&cross[alignLayer], tgtWords, srcWords)
	if err != nil {
		return nil, err
	}
	return &Result{Source: srcLabels, Target: producedLabels, Alignment: Pharaoh(words), AlignLayer: alignLayer, Outline: outline, Maps: maps}, nil
}
