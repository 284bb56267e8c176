package tokenizer

import (
	"encoding/json"
	"fmt"
)

// Template is RoBERTa's and BART's post-processing of a byte-level BPE:
// one text becomes <s> X </s> and a pair <s> A </s></s> B </s> (the
// tokenizer.json post_processor "RobertaProcessing").
type Template struct {
	CLS, SEP     string // "<s>", "</s>"
	CLSID, SEPID int32
}

// SetTemplate makes the tokenizer wrap encodings in cls … sep (RoBERTa's
// template), both of which must be special tokens.
func (t *ByteBPE) SetTemplate(cls, sep string) error {
	c, ok1 := t.vocab[cls]
	s, ok2 := t.vocab[sep]
	if !ok1 || !ok2 || !t.IsSpecial(c) || !t.IsSpecial(s) {
		return fmt.Errorf("tokenizer: template tokens %q and %q must be special tokens of the vocabulary", cls, sep)
	}
	t.template = &Template{CLS: cls, SEP: sep, CLSID: c, SEPID: s}
	return nil
}

// Template returns the post-processing template, or nil when encodings are
// not wrapped (GPT-2).
func (t *ByteBPE) Template() *Template { return t.template }

// EncodeWithSpecials encodes text as transformers' tokenizer(text) does:
// wrapped in the template's tokens when there is one.
func (t *ByteBPE) EncodeWithSpecials(text string) ([]int32, error) {
	ids, err := t.Encode(text)
	if err != nil || t.template == nil {
		return ids, err
	}
	return append(append([]int32{t.template.CLSID}, ids...), t.template.SEPID), nil
}

// hfRoberta is tokenizer.json's RobertaProcessing post_processor.
type hfRoberta struct {
	Type string            `json:"type"`
	Sep  []json.RawMessage `json:"sep"`
	Cls  []json.RawMessage `json:"cls"`
}

// readTemplate sets the template from a RobertaProcessing post_processor;
// ByteLevel, null or absent leave none; others are refused.
func (t *ByteBPE) readTemplate(raw json.RawMessage) error {
	c, err := componentType(raw)
	if err != nil {
		return fmt.Errorf("post_processor: %w", err)
	}
	switch c.Type {
	case "", "ByteLevel":
		return nil
	case "RobertaProcessing":
		var r hfRoberta
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("post_processor: %w", err)
		}
		name := func(x []json.RawMessage, what string) (string, error) {
			var s string
			if len(x) != 2 || json.Unmarshal(x[0], &s) != nil {
				return "", fmt.Errorf("post_processor.%s: want [token, id]", what)
			}
			return s, nil
		}
		cls, err := name(r.Cls, "cls")
		if err != nil {
			return err
		}
		sep, err := name(r.Sep, "sep")
		if err != nil {
			return err
		}
		if err := t.SetTemplate(cls, sep); err != nil {
			return fmt.Errorf("post_processor: %w", err)
		}
		for _, p := range []struct {
			x  []json.RawMessage
			id int32
		}{{r.Cls, t.template.CLSID}, {r.Sep, t.template.SEPID}} {
			var id int32
			if json.Unmarshal(p.x[1], &id) != nil || id != p.id {
				return fmt.Errorf("post_processor: the id of %s is not the vocabulary's %d", p.x[0], p.id)
			}
		}
		return nil
	}
	return fmt.Errorf("post_processor %q is not supported for a byte-level BPE (want ByteLevel or RobertaProcessing)", c.Type)
}
