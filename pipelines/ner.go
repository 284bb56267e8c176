package pipelines

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/models/bert"
	"github.com/goformer/goformer/tokenizer"
)

// The aggregation strategies of transformers' token-classification
// pipeline.
const (
	AggregateNone    = "none"    // one entity per token, its best label
	AggregateSimple  = "simple"  // tokens grouped by label (B-/I- tags)
	AggregateFirst   = "first"   // words take their first token's label, then grouped
	AggregateAverage = "average" // words take the label of their tokens' mean scores
	AggregateMax     = "max"     // words take the label of their best-scoring token
)

// Entity is one tagged token (AggregateNone: Entity and Index) or group
// (the other strategies: EntityGroup), with its score, text, and span in
// characters of the input (Unicode code points, as transformers reports
// them).
type Entity struct {
	Entity      string  `json:"entity,omitempty"`
	EntityGroup string  `json:"entity_group,omitempty"`
	Score       float64 `json:"score"`
	Index       int     `json:"index,omitempty"`
	Word        string  `json:"word"`
	Start       int     `json:"start"`
	End         int     `json:"end"`
}

// tokenStrings is what the tagger needs of a tokenizer beyond offsets.
type tokenStrings interface {
	Token(id int32) string
	JoinTokens(tokens []string) string
}

// Tagger runs a token-classification model (bert.Model with its
// TokenClassification head) as transformers' token-classification (NER)
// pipeline does: softmax scores per token, special tokens skipped, the
// aggregation strategy, and entities whose label is in IgnoreLabels ("O")
// dropped.
type Tagger struct {
	Model        *bert.Model
	Labels       []string
	Aggregation  string   // AggregateNone (the default) … AggregateMax
	IgnoreLabels []string // ["O"]
	// Truncated counts the texts cut to the model's length so far.
	Truncated int

	in   *encoderInput
	strs tokenStrings
	// subwordPrefix is the tokenizer's continuation prefix ("##"), which
	// tells a word's later pieces; "" for byte-level BPE, whose later
	// pieces are told by the text (no space before them).
	subwordPrefix bool
	unk           int32
}

// NewTagger pairs a token-classification model with its tokenizer.
func NewTagger(m *bert.Model, t tokenizer.Tokenizer) (*Tagger, error) {
	if m.Head != bert.TokenClassification {
		return nil, fmt.Errorf("the model has no token-classification head (it is a %s)", m.Head)
	}
	in, err := newEncoderInput(m, t)
	if err != nil {
		return nil, err
	}
	if !in.offsets {
		return nil, fmt.Errorf("token classification needs the tokens' spans in the text, which a %T does not give", t)
	}
	tg := &Tagger{Model: m, Labels: m.Config.Names(), Aggregation: AggregateNone, IgnoreLabels: []string{"O"}, in: in, unk: -1}
	switch tok := t.(type) {
	case *tokenizer.WordPiece:
		tg.strs, tg.subwordPrefix, tg.unk = tok, tok.ContinuationPrefix() != "", tok.Unk()
	case *tokenizer.ByteBPE:
		tg.strs = tok
	default:
		return nil, fmt.Errorf("token classification needs a WordPiece or byte-level BPE tokenizer, not a %T", t)
	}
	return tg, nil
}

// LoadTagger reads a BERT, RoBERTa or DistilBERT directory with a
// token-classification head (…ForTokenClassification) and its tokenizer.
func LoadTagger(dir string) (*Tagger, error) {
	m, err := bert.Load(dir, bert.TokenClassification)
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	tg, err := NewTagger(m, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return tg, nil
}

// preEntity is one token of the text before aggregation.
type preEntity struct {
	word       string
	scores     []float64
	start, end int // characters
	index      int
	subword    bool
}

// Tag returns the entities of text.
func (t *Tagger) Tag(text string) ([]Entity, error) {
	switch t.Aggregation {
	case AggregateNone, AggregateSimple, AggregateFirst, AggregateAverage, AggregateMax:
	default:
		return nil, fmt.Errorf("aggregation strategy %q is not none, simple, first, average or max", t.Aggregation)
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("the text is empty")
	}
	x, err := t.in.single(text)
	if err != nil {
		return nil, err
	}
	if x.truncated {
		t.Truncated++
	}
	g := autograd.NewGraph(0)
	g.NoGrad = true
	var types []int32
	if t.Model.Config.TypeVocabSize > 1 {
		types = x.types
	}
	v, err := t.Model.Logits(g, x.ids, types, 1, len(x.ids), nil)
	if err != nil {
		return nil, err
	}
	nl := len(t.Labels)
	logits := v.Value.Data()
	// Byte offsets to characters.
	chars := make([]int, len(text)+1)
	n := 0
	for i := range text {
		chars[i] = n
		n++
	}
	for i := len(text); i >= 0; i-- { // bytes inside a character map to it; the end to the count
		if i == len(text) {
			chars[i] = n
		} else if !utf8.RuneStart(text[i]) {
			chars[i] = chars[i+1] - 1
		}
	}
	var pre []preEntity
	for i, id := range x.ids {
		if x.seq[i] < 0 { // a special token
			continue
		}
		s, e := x.offsets[i][0], x.offsets[i][1]
		p := preEntity{word: t.strs.Token(id), scores: scores(Softmax, logits[i*nl:(i+1)*nl]), start: chars[s], end: chars[e], index: i}
		ref := text[s:e]
		if t.subwordPrefix {
			p.subword = utf8.RuneCountInString(p.word) != utf8.RuneCountInString(ref)
		} else {
			p.subword = s > 0 && !strings.Contains(text[prevRune(text, s):min(s+1, len(text))], " ")
		}
		if id == t.unk {
			p.word, p.subword = ref, false
		}
		pre = append(pre, p)
	}
	var ents []Entity
	if t.Aggregation == AggregateNone || t.Aggregation == AggregateSimple {
		for _, p := range pre {
			k := argmax(p.scores)
			ents = append(ents, Entity{Entity: t.Labels[k], Score: p.scores[k], Index: p.index, Word: p.word, Start: p.start, End: p.end})
		}
	} else {
		ents = t.aggregateWords(pre)
	}
	if t.Aggregation != AggregateNone {
		ents = t.groupEntities(ents)
	}
	out := ents[:0]
	for _, e := range ents {
		if !slices.Contains(t.IgnoreLabels, e.Entity) && !slices.Contains(t.IgnoreLabels, e.EntityGroup) {
			out = append(out, e)
		}
	}
	return out, nil
}

// prevRune returns the byte index of the character before byte i.
func prevRune(s string, i int) int {
	_, n := utf8.DecodeLastRuneInString(s[:i])
	return i - n
}

func argmax(s []float64) int {
	k := 0
	for i, v := range s {
		if v > s[k] {
			k = i
		}
	}
	return k
}

// aggregateWords groups tokens into words (a word is a token and the
// subword tokens after it) and labels each word by the strategy.
func (t *Tagger) aggregateWords(pre []preEntity) []Entity {
	var out []Entity
	for i := 0; i < len(pre); {
		j := i + 1
		for j < len(pre) && pre[j].subword {
			j++
		}
		out = append(out, t.aggregateWord(pre[i:j]))
		i = j
	}
	return out
}

func (t *Tagger) aggregateWord(ps []preEntity) Entity {
	words := make([]string, len(ps))
	for i, p := range ps {
		words[i] = p.word
	}
	var s []float64
	switch t.Aggregation {
	case AggregateFirst:
		s = ps[0].scores
	case AggregateMax:
		best, bestScore := 0, math.Inf(-1)
		for i, p := range ps {
			if m := slices.Max(p.scores); m > bestScore {
				best, bestScore = i, m
			}
		}
		s = ps[best].scores
	case AggregateAverage:
		s = make([]float64, len(ps[0].scores))
		for _, p := range ps {
			for k, v := range p.scores {
				s[k] += v
			}
		}
		for k := range s {
			s[k] /= float64(len(ps))
		}
	}
	k := argmax(s)
	return Entity{Entity: t.Labels[k], Score: s[k], Word: t.strs.JoinTokens(words), Start: ps[0].start, End: ps[len(ps)-1].end}
}

// tag splits a label into its B/I prefix and its type ("O" is ("I", "O")).
func tag(label string) (bi, typ string) {
	if rest, ok := strings.CutPrefix(label, "B-"); ok {
		return "B", rest
	}
	if rest, ok := strings.CutPrefix(label, "I-"); ok {
		return "I", rest
	}
	return "I", label
}

// groupEntities joins consecutive entities of one type, a B- tag starting
// a new group, as group_entities does.
func (t *Tagger) groupEntities(ents []Entity) []Entity {
	var out, cur []Entity
	for _, e := range ents {
		if len(cur) == 0 {
			cur = append(cur, e)
			continue
		}
		bi, typ := tag(e.Entity)
		_, lastTyp := tag(cur[len(cur)-1].Entity)
		if typ == lastTyp && bi != "B" {
			cur = append(cur, e)
		} else {
			out = append(out, t.group(cur))
			cur = []Entity{e}
		}
	}
	if len(cur) > 0 {
		out = append(out, t.group(cur))
	}
	return out
}

func (t *Tagger) group(es []Entity) Entity {
	typ := es[0].Entity // split("-", 1)[-1]: "B-PER" → "PER", "O" → "O"
	if i := strings.Index(typ, "-"); i >= 0 {
		typ = typ[i+1:]
	}
	var sum float64
	words := make([]string, len(es))
	for i, e := range es {
		sum += e.Score
		words[i] = e.Word
	}
	return Entity{EntityGroup: typ, Score: sum / float64(len(es)), Word: t.strs.JoinTokens(words), Start: es[0].Start, End: es[len(es)-1].End}
}
