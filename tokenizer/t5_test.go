package tokenizer

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestT5Tokenizer(t *testing.T) {
	tok, err := LoadDir(filepath.Join("..", "models", "t5", "testdata", "t5-small"))
	if err != nil {
		t.Fatal(err)
	}
	t5, ok := tok.(*T5)
	if !ok {
		t.Fatalf("LoadDir read a T5 directory as %T", tok)
	}
	sp := t5.SP
	if t5.VocabSize() != sp.VocabSize()+100 || sp.Pad() != 0 || sp.EOS() != 1 || sp.Unk() != 2 {
		t.Fatalf("vocab %d (pieces %d), pad %d eos %d unk %d", t5.VocabSize(), sp.VocabSize(), sp.Pad(), sp.EOS(), sp.Unk())
	}
	enc := func(s string) []int32 {
		ids, err := sp.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	x0, _ := t5.Sentinel(0)
	x1, _ := t5.Sentinel(1)
	x99, _ := t5.Sentinel(99)
	if int(x0) != sp.VocabSize()+99 || int(x99) != sp.VocabSize() {
		t.Fatalf("<extra_id_0> = %d, <extra_id_99> = %d", x0, x99)
	}
	for _, c := range []struct {
		text string
		want []int32
	}{
		{"translate English to German: A dog runs.", enc("translate English to German: A dog runs.")},
		{"", nil},
		// Sentinels split the text, the spaces beside them dropped.
		{"The <extra_id_0> walks in <extra_id_1> park", slices.Concat(enc("The"), []int32{x0}, enc("walks in"), []int32{x1}, enc("park"))},
		{"<extra_id_99>x", slices.Concat([]int32{x99}, enc("x"))},
		// </s> typed in the text is the token; not a sentinel: text.
		{"a</s> b", slices.Concat(enc("a"), []int32{1}, enc(" b"))},
		{"<extra_id_100> <extra_id_01> <extra_id_x>", enc("<extra_id_100> <extra_id_01> <extra_id_x>")},
	} {
		got, err := t5.Encode(c.text)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", c.text, got, err, c.want)
		}
	}
	ids := slices.Concat(enc("The dog ."), []int32{x0}, enc("is n't here"), []int32{1})
	got, err := t5.Decode(ids)
	if want := "The dog. <extra_id_0> isn't here </s>"; err != nil || got != want {
		t.Errorf("Decode = %q, %v; want %q", got, err, want)
	}
	if !t5.IsSpecial(x0) || !t5.IsSpecial(0) || !t5.IsSpecial(1) || !t5.IsSpecial(2) || !t5.IsSpecial(int32(t5.VocabSize()+5)) || t5.IsSpecial(enc("dog")[0]) {
		t.Error("IsSpecial is wrong")
	}
	if _, err := t5.Decode([]int32{int32(t5.VocabSize())}); err == nil {
		t.Error("Decode accepted an id past the vocabulary")
	}
}
