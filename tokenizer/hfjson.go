package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/goformer/goformer/tensor"
)

// Tokenizer is what every tokenizer here does.
type Tokenizer interface {
	// Encode returns the ids of text (valid UTF-8).
	Encode(text string) ([]int32, error)
	// Decode returns the text of ids.
	Decode(ids []int32) (string, error)
	// VocabSize returns the number of tokens.
	VocabSize() int
}

// hfAddedToken is an entry of tokenizer.json's "added_tokens".
type hfAddedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfFile is the part of Hugging Face's tokenizer.json that we read.
type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
		UnkToken                *string          `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
	} `json:"model"`
}

// typed is any tokenizer.json component: {"type": ...}.
type typed struct {
	Type          string            `json:"type"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	Lowercase     *bool             `json:"lowercase"`
	StripAccents  *bool             `json:"strip_accents"`
	CleanText     *bool             `json:"clean_text"`
	Chinese       *bool             `json:"handle_chinese_chars"`
	AddPrefix     bool              `json:"add_prefix_space"`
	Prefix        string            `json:"prefix"`
	Single        []json.RawMessage `json:"single"`
	CLS           []json.RawMessage `json:"cls"`
	SEP           []json.RawMessage `json:"sep"`
}

// validate checks what every model type needs: a vocabulary of ids 0..n-1
// and added tokens that are non-empty and agree with it.
func (f *hfFile) validate() error {
	if f.Model.Type == "" {
		return nil // reported by the caller
	}
	if len(f.Model.Vocab) == 0 {
		return fmt.Errorf("model.vocab is missing or empty")
	}
	if len(f.Model.Vocab) > MaxVocab {
		return fmt.Errorf("model.vocab has %d tokens; at most %d are supported", len(f.Model.Vocab), MaxVocab)
	}
	n := int32(len(f.Model.Vocab))
	for tok, id := range f.Model.Vocab {
		if id < 0 || id >= n+int32(len(f.AddedTokens)) {
			return fmt.Errorf("model.vocab: token %q has id %d, outside 0..%d", tok, id, n+int32(len(f.AddedTokens))-1)
		}
	}
	for i, a := range f.AddedTokens {
		if a.Content == "" {
			return fmt.Errorf("added_tokens[%d] (id %d) has no content", i, a.ID)
		}
		if a.ID < 0 || a.ID >= n+int32(len(f.AddedTokens)) {
			return fmt.Errorf("added_tokens[%d] %q has id %d, outside the vocabulary", i, a.Content, a.ID)
		}
		if id, ok := f.Model.Vocab[a.Content]; ok && id != a.ID {
			return fmt.Errorf("added token %q has id %d but the vocabulary says %d", a.Content, a.ID, id)
		}
	}
	return nil
}

func componentType(raw json.RawMessage) (typed, error) {
	var t typed
	if len(raw) == 0 || string(raw) == "null" {
		return t, nil
	}
	err := json.Unmarshal(raw, &t)
	return t, err
}

// LoadHF reads a Hugging Face tokenizer.json holding a byte-level BPE
// (GPT-2, RoBERTa, BART and our own trained tokenizers) or a WordPiece
// model with BERT's normalizer, pre-tokenizer and [CLS]/[SEP] template
// (BERT). Other models and components are refused with an error naming them.
func LoadHF(path string) (Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseHF(b, path)
}

// MaxVocab bounds the vocabulary of a tokenizer file (a million and a
// half is far above any published model's).
const MaxVocab = 1 << 24

// ParseHF is LoadHF on the bytes of a tokenizer.json; path names it in
// errors. The whole file is validated before use: the vocabulary's ids,
// each added token (non-empty, its id matching the vocabulary's), each
// merge's tokens.
func ParseHF(b []byte, path string) (Tokenizer, error) {
	var head struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if json.Unmarshal(b, &head) == nil && head.Model.Type != "" && head.Model.Type != "BPE" && head.Model.Type != "WordPiece" {
		hint := ""
		if head.Model.Type == "Unigram" {
			hint = "; a SentencePiece model's conversion: give its spiece.model (or sentencepiece.bpe.model) instead, which goformer reads"
		}
		return nil, fmt.Errorf("%s: model type %q is not supported (want BPE or WordPiece)%s", path, head.Model.Type, hint)
	}
	var f hfFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var t Tokenizer
	var err error
	switch f.Model.Type {
	case "BPE":
		if pre, _ := componentType(f.PreTokenizer); pre.Type == "" && (len(f.Model.Merges) == 0 || string(f.Model.Merges) == "[]") {
			t, err = loadHFChar(&f) // a BPE without merges or pre-tokenizer: characters
		} else {
			t, err = loadHFBPE(&f)
		}
	case "WordPiece":
		t, err = loadHFWordPiece(&f)
	case "":
		return nil, fmt.Errorf("%s: no model type (not a tokenizer.json?)", path)
	default:
		return nil, fmt.Errorf("%s: model type %q is not supported (want BPE or WordPiece)", path, f.Model.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func loadHFBPE(f *hfFile) (*ByteBPE, error) {
	pre, err := componentType(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	byteLevel := pre.Type == "ByteLevel"
	if pre.Type == "Sequence" {
		for _, p := range pre.PreTokenizers {
			if c, err := componentType(p); err == nil && c.Type == "ByteLevel" {
				byteLevel, pre = true, c
			}
		}
	}
	if !byteLevel {
		return nil, fmt.Errorf("pre_tokenizer %q: only byte-level BPE (pre_tokenizer ByteLevel) is supported", pre.Type)
	}
	if pre.AddPrefix {
		return nil, fmt.Errorf("pre_tokenizer ByteLevel with add_prefix_space true is not supported")
	}
	if norm, err := componentType(f.Normalizer); err != nil || norm.Type != "" {
		return nil, fmt.Errorf("normalizer %q: a byte-level BPE with a normalizer is not supported", norm.Type)
	}
	var merges [][2]string
	var asStrings []string
	if err := json.Unmarshal(f.Model.Merges, &asStrings); err == nil {
		for i, m := range asStrings {
			l, r, ok := strings.Cut(m, " ")
			if !ok || l == "" || r == "" || strings.Contains(r, " ") {
				return nil, fmt.Errorf("model.merges[%d] = %q: want two symbols separated by one space", i, m)
			}
			merges = append(merges, [2]string{l, r})
		}
	} else if err := json.Unmarshal(f.Model.Merges, &merges); err != nil {
		return nil, fmt.Errorf("model.merges: want a list of \"a b\" strings or of [a, b] pairs: %w", err)
	}
	vocab := f.Model.Vocab
	var special []string
	for _, a := range f.AddedTokens {
		vocab[a.Content] = a.ID
		special = append(special, a.Content)
	}
	t, err := NewByteBPE(vocab, merges, special)
	if err != nil {
		return nil, err
	}
	if err := t.readTemplate(f.PostProcessor); err != nil {
		return nil, err
	}
	return t, nil
}

// SaveHF writes the tokenizer as a Hugging Face tokenizer.json (a BPE model
// with the ByteLevel pre-tokenizer and decoder, the special tokens as added
// tokens), atomically. transformers' PreTrainedTokenizerFast loads it.
func (t *ByteBPE) SaveHF(path string) error {
	b := t.MarshalHF()
	return tensor.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// MarshalHF returns the tokenizer.json that SaveHF writes (ParseHF reads
// it back).
func (t *ByteBPE) MarshalHF() []byte {
	var buf bytes.Buffer
	enc := func(v any) []byte {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		_ = e.Encode(v) // strings and a plain struct always encode
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	buf.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, s := range t.special {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(enc(hfAddedToken{ID: t.specialIDs[i], Content: s, Special: true}))
	}
	buf.WriteString("\n  ],\n  \"normalizer\": null,\n")
	buf.WriteString(`  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},` + "\n")
	if tp := t.template; tp != nil {
		fmt.Fprintf(&buf, "  \"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [%s, %d], \"cls\": [%s, %d], \"trim_offsets\": true, \"add_prefix_space\": false},\n",
			enc(tp.SEP), tp.SEPID, enc(tp.CLS), tp.CLSID)
	} else {
		buf.WriteString(`  "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},` + "\n")
	}
	buf.WriteString(`  "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},` + "\n")
	buf.WriteString(`  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,` + "\n")
	buf.WriteString("    \"vocab\": {")
	for id, tok := range t.tokens {
		if id > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n      ")
		buf.Write(enc(tok))
		fmt.Fprintf(&buf, ": %d", id)
	}
	buf.WriteString("\n    },\n    \"merges\": [")
	for i, m := range t.merges {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n      ")
		buf.Write(enc(m[0] + " " + m[1]))
	}
	buf.WriteString("\n    ]\n  }\n}\n")
	return buf.Bytes()
}
