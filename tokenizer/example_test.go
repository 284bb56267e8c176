package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/goformer/goformer/tokenizer"
)

// A SentencePiece model (T5's spiece.model, OPUS-MT's source.spm, ...)
// gives the pieces and ids the sentencepiece library gives.
func ExampleLoadSentencePiece() {
	sp, err := tokenizer.LoadSentencePiece("testdata/sentencepiece/unigram.model")
	if err != nil {
		log.Fatal(err)
	}
	pieces, ids := sp.EncodePieces("A dog runs in the snow.")
	fmt.Println(pieces)
	fmt.Println(ids)
	text, _ := sp.Decode(ids)
	fmt.Println(text)
	// Output:
	// [▁A ▁dog ▁run s ▁in ▁the ▁ s n ow .]
	// [32 821 352 3 23 8 5 3 18 134 4]
	// A dog runs in the snow.
}
