package tokenizer

import (
	"container/heap"
	"fmt"
	"slices"
	"unicode/utf8"
)

// BPETrainer learns a byte-level BPE vocabulary from text: words are split
// as GPT-2 splits them, and the most frequent adjacent pair of symbols is
// merged, again and again, until the vocabulary has VocabSize tokens. The
// vocabulary holds the special tokens first, then the 256 bytes, then one
// token per merge (the layout of Hugging Face's ByteLevelBPETokenizer).
type BPETrainer struct {
	VocabSize    int      // the size to reach (special tokens and the 256 bytes included)
	MinFrequency int      // pairs seen fewer times are never merged (0 or 1: no limit)
	Special      []string // special tokens, ids 0, 1, ... in this order

	words map[string]int // word → count
}

// Add counts the words of text, which must be valid UTF-8.
func (b *BPETrainer) Add(text string) error {
	if !utf8.ValidString(text) {
		return fmt.Errorf("tokenizer: training text is not valid UTF-8")
	}
	if b.words == nil {
		b.words = map[string]int{}
	}
	for _, w := range SplitGPT2(text) {
		b.words[w]++
	}
	return nil
}

type pairKey [2]int32

type pairEntry struct {
	p     pairKey
	count int
}

// pairHeap is a max-heap on count; ties go to the pair of lower ids, so
// training is deterministic.
type pairHeap []pairEntry

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	if h[i].p[0] != h[j].p[0] {
		return h[i].p[0] < h[j].p[0]
	}
	return h[i].p[1] < h[j].p[1]
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairEntry)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Train returns the tokenizer learned from the text added so far.
func (b *BPETrainer) Train() (*ByteBPE, error) {
	nSpecial := len(b.Special)
	if b.VocabSize < nSpecial+256 {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is below the %d special tokens + 256 bytes", b.VocabSize, nSpecial)
	}
	if len(b.words) == 0 {
		return nil, fmt.Errorf("tokenizer: no training text")
	}
	vocab := map[string]int32{}
	var tokens []string
	addToken := func(s string) (int32, error) {
		if _, dup := vocab[s]; dup {
			return 0, fmt.Errorf("tokenizer: token %q twice in the vocabulary", s)
		}
		id := int32(len(tokens))
		vocab[s] = id
		tokens = append(tokens, s)
		return id, nil
	}
	for _, s := range b.Special {
		if s == "" {
			return nil, fmt.Errorf("tokenizer: empty special token")
		}
		if _, err := addToken(s); err != nil {
			return nil, err
		}
	}
	enc := byteToRune()
	var byteID [256]int32
	// The bytes in the order of their characters, as Hugging Face sorts
	// its initial alphabet.
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	for i := 1; i < 256; i++ { // insertion sort by rune
		for j := i; j > 0 && enc[order[j]] < enc[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, by := range order {
		s := string(enc[by])
		if _, taken := vocab[s]; taken { // a special token that is one byte's character
			return nil, fmt.Errorf("tokenizer: special token %q collides with a byte token", s)
		}
		byteID[by], _ = addToken(s)
	}

	// Words as symbol sequences, in a deterministic order (sorted).
	keys := make([]string, 0, len(b.words))
	for w := range b.words {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	words := make([][]int32, len(keys))
	freq := make([]int, len(keys))
	for i, w := range keys {
		syms := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			syms[j] = byteID[w[j]]
		}
		words[i], freq[i] = syms, b.words[w]
	}
	merges := learnMerges(&tokens, vocab, words, freq, b.VocabSize, b.MinFrequency, func(a, b string) string { return a + b })
	return NewByteBPE(vocab, merges, b.Special)
}

// learnMerges merges the most frequent adjacent pair of symbols in words
// (each counted freq times), again and again, adding join(a, b) to tokens
// and vocab, until there are vocabSize tokens or no pair is seen
// minFrequency times; it returns the merges in order. Ties go to the pair
// of lower ids, so training is deterministic.
func learnMerges(tokens *[]string, vocab map[string]int32, words [][]int32, freq []int, vocabSize, minFrequency int, join func(a, b string) string) [][2]string {
	counts := map[pairKey]int{}
	where := map[pairKey][]int32{} // pair → words that may hold it
	for i, syms := range words {
		for j := 0; j+1 < len(syms); j++ {
			p := pairKey{syms[j], syms[j+1]}
			counts[p] += freq[i]
			if l := where[p]; len(l) == 0 || l[len(l)-1] != int32(i) {
				where[p] = append(l, int32(i))
			}
		}
	}
	h := make(pairHeap, 0, len(counts))
	for p, c := range counts {
		h = append(h, pairEntry{p, c})
	}
	heap.Init(&h)
	minFreq := max(minFrequency, 1)
	var merges [][2]string
	changed := map[pairKey]bool{}
	for len(*tokens) < vocabSize && h.Len() > 0 {
		top := heap.Pop(&h).(pairEntry)
		if counts[top.p] != top.count { // stale
			continue
		}
		if top.count < minFreq {
			break
		}
		a, c := top.p[0], top.p[1]
		merged := join((*tokens)[a], (*tokens)[c])
		id, ok := vocab[merged]
		if !ok {
			id = int32(len(*tokens))
			vocab[merged] = id
			*tokens = append(*tokens, merged)
		}
		// (Two different pairs can spell the same token; the first merge
		// made it, and this pair's merge maps to it.)
		merges = append(merges, [2]string{(*tokens)[a], (*tokens)[c]})
		clear(changed)
		for _, wi := range where[top.p] {
			syms := words[wi]
			f := freq[wi]
			found := false
			for j := 0; j+1 < len(syms); j++ {
				if syms[j] == a && syms[j+1] == c {
					found = true
					break
				}
			}
			if !found {
				continue
			}
			for j := 0; j+1 < len(syms); j++ {
				p := pairKey{syms[j], syms[j+1]}
				counts[p] -= f
				changed[p] = true
			}
			out := syms[:0]
			for j := 0; j < len(syms); j++ {
				if j+1 < len(syms) && syms[j] == a && syms[j+1] == c {
					out = append(out, id)
					j++
				} else {
					out = append(out, syms[j])
				}
			}
			words[wi] = out
			for j := 0; j+1 < len(out); j++ {
				p := pairKey{out[j], out[j+1]}
				counts[p] += f
				changed[p] = true
				if out[j] == id || out[j+1] == id {
					if l := where[p]; len(l) == 0 || l[len(l)-1] != wi {
						where[p] = append(l, wi)
					}
				}
			}
		}
		delete(where, top.p)
		for p := range changed {
			if c := counts[p]; c > 0 {
				heap.Push(&h, pairEntry{p, c})
			} else {
				delete(counts, p)
			}
		}
	}
	return merges
}
