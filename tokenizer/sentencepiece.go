package tokenizer

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// SentencePiece is a tokenizer read from a SentencePiece model file (the
// .model of spm_train; source.spm / target.spm of OPUS-MT, spiece.model of
// T5 and Pegasus, sentencepiece.bpe.model of mBART), giving the pieces and
// ids the sentencepiece library gives: its normaliser (the precompiled
// character map, whitespace escaped to ▁, the dummy prefix, extra spaces
// removed), user-defined symbols kept whole, the unigram model's Viterbi
// search (its optimized encoder, ties broken as it breaks them) or BPE's
// merges by piece score, unknown characters as the unknown piece (runs of
// them merged into one) or as byte pieces <0xXX> with byte fallback, and
// decoding back to text. Encode does not add <s> or </s>: the model's
// template does that, as transformers' tokenizers do.
type SentencePiece struct {
	pieces      []spPiece
	vocab       map[string]int32 // normal, user-defined and unused pieces: what text can match
	sorted      []string         // vocab's pieces in order, to stop a search no piece continues
	reserved    map[string]int32 // control, unknown and byte pieces
	maxPieceLen int              // bytes of the longest piece in vocab
	model       int              // spUnigram or spBPE
	unk         int32
	bos, eos    int32 // -1 when the model has none
	pad         int32
	byteFall    bool
	byteIDs     [256]int32
	byteOf      map[int32]byte // the byte of each byte piece
	minScore    float32        // of normal pieces
	maxScore    float32
	userDefined map[string]bool
	maxUserLen  int
	wsSuffix    bool // treat_whitespace_as_suffix
	unkSurface  string
	norm        *spNormalizer
	denorm      *spNormalizer
}

type spPiece struct {
	text  string
	score float32
	kind  int // spNormal, ...
}

// Piece types and model types of sentencepiece_model.proto.
const (
	spNormal      = 1
	spUnknown     = 2
	spControl     = 3
	spUserDefined = 4
	spUnused      = 5
	spByte        = 6

	spUnigram = 1
	spBPE     = 2
)

// spaceSymbol is U+2581, which stands for a space inside pieces.
const spaceSymbol = "\u2581"

// fltMin is C's FLT_MIN, where sentencepiece starts its maximum score.
const fltMin = float32(1.17549435e-38)

// LoadSentencePiece reads a SentencePiece model file.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sp, err := ParseSentencePiece(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sp, nil
}

// ParseSentencePiece reads a SentencePiece model (a serialized ModelProto)
// and checks it as the library does when it loads one: pieces non-empty
// and unique, one unknown piece, 256 byte pieces when byte_fallback is on,
// a precompiled character map that holds together.
func ParseSentencePiece(b []byte) (*SentencePiece, error) {
	sp := &SentencePiece{vocab: map[string]int32{}, reserved: map[string]int32{}, userDefined: map[string]bool{}, byteOf: map[int32]byte{},
		model: spUnigram, unk: 0, bos: 1, eos: 2, pad: -1, unkSurface: " \u2047 ", minScore: math.MaxFloat32, maxScore: fltMin}
	for i := range sp.byteIDs {
		sp.byteIDs[i] = -1
	}
	var normSpec, denormSpec []byte
	err := protoFields(b, func(field int, wire int, v uint64, data []byte) error {
		switch field {
		case 1:
			p := spPiece{kind: spNormal}
			if err := protoFields(data, func(f, w int, v uint64, d []byte) error {
				switch {
				case f == 1 && w == 2:
					if !utf8.Valid(d) {
						return fmt.Errorf("piece %d is not valid UTF-8", len(sp.pieces))
					}
					p.text = string(d)
				case f == 2 && w == 5:
					p.score = math.Float32frombits(uint32(v))
				case f == 3 && w == 0:
					p.kind = int(v)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("piece %d: %w", len(sp.pieces), err)
			}
			sp.pieces = append(sp.pieces, p)
		case 2:
			return protoFields(data, func(f, w int, v uint64, d []byte) error {
				switch f {
				case 3:
					sp.model = int(v)
				case 24:
					sp.wsSuffix = v != 0
				case 35:
					sp.byteFall = v != 0
				case 40:
					sp.unk = int32(v)
				case 41:
					sp.bos = int32(v)
				case 42:
					sp.eos = int32(v)
				case 43:
					sp.pad = int32(v)
				case 44:
					sp.unkSurface = string(d)
				}
				return nil
			})
		case 3:
			normSpec = data
		case 5:
			denormSpec = data
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("not a SentencePiece model: %w", err)
	}
	if len(sp.pieces) == 0 {
		return nil, errors.New("not a SentencePiece model: no pieces")
	}
	if sp.model != spUnigram && sp.model != spBPE {
		return nil, fmt.Errorf("model_type %d (WORD or CHAR): only UNIGRAM and BPE models are read", sp.model)
	}
	if sp.norm, err = parseNormalizer(normSpec); err != nil {
		return nil, fmt.Errorf("normalizer_spec: %w", err)
	}
	if denormSpec != nil {
		if sp.denorm, err = parseNormalizer(denormSpec); err != nil {
			return nil, fmt.Errorf("denormalizer_spec: %w", err)
		}
	}
	sp.unk = -1
	for i, p := range sp.pieces {
		id := int32(i)
		if p.text == "" {
			return nil, fmt.Errorf("piece %d is empty", i)
		}
		switch p.kind {
		case spNormal, spUserDefined, spUnused:
			if _, dup := sp.vocab[p.text]; dup {
				return nil, fmt.Errorf("piece %q is defined twice", p.text)
			}
			sp.vocab[p.text] = id
			sp.maxPieceLen = max(sp.maxPieceLen, len(p.text))
			if p.kind == spNormal {
				sp.minScore, sp.maxScore = min(sp.minScore, p.score), max(sp.maxScore, p.score)
			}
			if p.kind == spUserDefined {
				sp.userDefined[p.text] = true
				sp.maxUserLen = max(sp.maxUserLen, len(p.text))
			}
		case spUnknown, spControl, spByte:
			if _, dup := sp.reserved[p.text]; dup {
				return nil, fmt.Errorf("piece %q is defined twice", p.text)
			}
			sp.reserved[p.text] = id
			if p.kind == spUnknown {
				if sp.unk >= 0 {
					return nil, errors.New("two unknown pieces")
				}
				sp.unk = id
			}
			if p.kind == spByte {
				if !sp.byteFall {
					return nil, fmt.Errorf("byte piece %q although byte_fallback is off", p.text)
				}
				var c int
				if _, err := fmt.Sscanf(p.text, "<0x%02X>", &c); err != nil || len(p.text) != 6 || c < 0 || c > 255 {
					return nil, fmt.Errorf("byte piece %q is not <0xXX>", p.text)
				}
				sp.byteIDs[c], sp.byteOf[id] = id, byte(c)
			}
		default:
			return nil, fmt.Errorf("piece %q has type %d", p.text, p.kind)
		}
	}
	if sp.unk < 0 {
		return nil, errors.New("no unknown piece")
	}
	for p := range sp.vocab {
		sp.sorted = append(sp.sorted, p)
	}
	slices.Sort(sp.sorted)
	if sp.byteFall {
		for c, id := range sp.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("byte_fallback is on but there is no piece <0x%02X>", c)
			}
		}
	}
	for _, id := range []*int32{&sp.bos, &sp.eos, &sp.pad} {
		if *id >= int32(len(sp.pieces)) {
			*id = -1
		}
	}
	return sp, nil
}

// protoFields calls fn for each field of a protobuf message: its number,
// wire type, and value (varints and fixed values in v, length-delimited
// ones in data).
func protoFields(b []byte, fn func(field, wire int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := protoVarint(b)
		if n <= 0 {
			return errors.New("a damaged field key")
		}
		b = b[n:]
		field, wire := int(key>>3), int(key&7)
		var v uint64
		var data []byte
		switch wire {
		case 0:
			if v, n = protoVarint(b); n <= 0 {
				return fmt.Errorf("field %d: a damaged varint", field)
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return fmt.Errorf("field %d: truncated", field)
			}
			for i := 7; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return fmt.Errorf("field %d: truncated", field)
			}
			v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
			b = b[4:]
		case 2:
			l, n := protoVarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: a length past the end of the data", field)
			}
			data, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("field %d: wire type %d", field, wire)
		}
		if field == 0 {
			return errors.New("field number 0")
		}
		if err := fn(field, wire, v, data); err != nil {
			return err
		}
	}
	return nil
}

// protoVarint decodes a varint; n ≤ 0 when it is damaged.
func protoVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// VocabSize returns the number of pieces.
func (sp *SentencePiece) VocabSize() int { return len(sp.pieces) }

// ID returns the id of a piece (any type), and whether there is one.
func (sp *SentencePiece) ID(piece string) (int32, bool) {
	if id, ok := sp.reserved[piece]; ok {
		return id, true
	}
	id, ok := sp.vocab[piece]
	return id, ok
}

// Piece returns the text of piece id ("" outside the vocabulary).
func (sp *SentencePiece) Piece(id int32) string {
	if id < 0 || int(id) >= len(sp.pieces) {
		return ""
	}
	return sp.pieces[id].text
}

// Unk returns the id of the unknown piece.
func (sp *SentencePiece) Unk() int32 { return sp.unk }

// BOS returns the id of <s> (bos_id), or -1.
func (sp *SentencePiece) BOS() int32 { return sp.bos }

// EOS returns the id of </s> (eos_id), or -1.
func (sp *SentencePiece) EOS() int32 { return sp.eos }

// Pad returns the id of <pad> (pad_id), or -1.
func (sp *SentencePiece) Pad() int32 { return sp.pad }

// Encode returns the ids of text's pieces.
func (sp *SentencePiece) Encode(text string) ([]int32, error) {
	_, ids := sp.EncodePieces(text)
	return ids, nil
}

// EncodePieces returns text's pieces and their ids, as the library's
// encode(out_type=str) and encode(out_type=int) give them.
func (sp *SentencePiece) EncodePieces(text string) ([]string, []int32) {
	normalized := sp.norm.normalize(text, sp.userPrefix, sp.wsSuffix)
	var raw []spToken
	if sp.model == spBPE {
		raw = sp.encodeBPE(normalized)
	} else {
		raw = sp.encodeUnigram(normalized)
	}
	var pieces []string
	var ids []int32
	prevUnk := false
	for _, t := range raw {
		isUnk := t.id == sp.unk
		switch {
		case isUnk && sp.byteFall:
			for i := 0; i < len(t.piece); i++ {
				id := sp.byteIDs[t.piece[i]]
				pieces, ids = append(pieces, sp.pieces[id].text), append(ids, id)
			}
		case isUnk && prevUnk: // runs of unknown characters are one piece
			pieces[len(pieces)-1] += t.piece
		default:
			pieces, ids = append(pieces, t.piece), append(ids, t.id)
		}
		prevUnk = isUnk
	}
	return pieces, ids
}

type spToken struct {
	piece string
	id    int32
}

// userPrefix returns the length of the longest user-defined symbol at the
// start of s (0 if none).
func (sp *SentencePiece) userPrefix(s string) int {
	if sp.maxUserLen == 0 {
		return 0
	}
	for n := min(len(s), sp.maxUserLen); n > 0; n-- {
		if sp.userDefined[s[:n]] {
			return n
		}
	}
	return 0
}

// oneCharLen is sentencepiece's length of the UTF-8 character starting
// with byte c (from its lead byte alone).
func oneCharLen(c byte) int {
	return int("\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x02\x02\x03\x04"[c>>4])
}

// encodeUnigram is the library's optimized Viterbi search: for each
// position, the best path ending there, candidates taken in order of start
// and then length, a later one winning only with a strictly higher score.
func (sp *SentencePiece) encodeUnigram(s string) []spToken {
	if s == "" {
		return nil
	}
	type best struct {
		id    int32
		score float32
		from  int
	}
	n := len(s)
	ends := make([]best, n+1)
	for i := range ends {
		ends[i].from = -1
	}
	unkScore := sp.minScore - 10
	for start := 0; start < n; {
		here := ends[start].score
		mblen := min(oneCharLen(s[start]), n-start)
		single := false
		for end := start + 1; end <= n && end-start <= sp.maxPieceLen; end++ {
			// As the library's trie does, stop where no piece goes on.
			if i, _ := slices.BinarySearch(sp.sorted, s[start:end]); i == len(sp.sorted) || !strings.HasPrefix(sp.sorted[i], s[start:end]) {
				break
			}
			id, ok := sp.vocab[s[start:end]]
			if !ok || sp.pieces[id].kind == spUnused {
				continue
			}
			t := &ends[end]
			var better bool
			var cand float32
			if sp.pieces[id].kind == spUserDefined {
				// float(length) * max_score - 0.1, in double as C++ does.
				c64 := float64(float32(end-start)*sp.maxScore) - 0.1 + float64(here)
				better = t.from == -1 || c64 > float64(t.score)
				cand = float32(c64)
			} else {
				cand = sp.pieces[id].score + here
				better = t.from == -1 || cand > t.score
			}
			if better {
				t.score, t.from, t.id = cand, start, id
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			t := &ends[start+mblen]
			if cand := unkScore + here; t.from == -1 || cand > t.score {
				t.score, t.from, t.id = cand, start, sp.unk
			}
		}
		start += mblen
	}
	var out []spToken
	for end := n; end > 0; end = ends[end].from {
		out = append(out, spToken{s[ends[end].from:end], ends[end].id})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// encodeBPE is sentencepiece's BPE: characters (and user-defined symbols,
// never merged) as symbols, then repeatedly the adjacent pair whose merge
// is the piece with the highest score (the leftmost among equals), with
// merges through unused pieces split back at the end.
func (sp *SentencePiece) encodeBPE(s string) []spToken {
	type symbol struct {
		prev, next int
		freeze     bool
		piece      string
	}
	var syms []symbol
	for rest := s; rest != ""; {
		n := sp.userPrefix(rest)
		freeze := n > 0
		if n == 0 {
			n = min(oneCharLen(rest[0]), len(rest))
		}
		syms = append(syms, symbol{prev: len(syms) - 1, next: len(syms) + 1, freeze: freeze, piece: rest[:n]})
		rest = rest[n:]
	}
	if len(syms) == 0 {
		return nil
	}
	syms[len(syms)-1].next = -1
	revMerge := map[string][2]string{}
	q := &spPairs{}
	add := func(l, r int) {
		if l < 0 || r < 0 || syms[l].freeze || syms[r].freeze {
			return
		}
		merged := syms[l].piece + syms[r].piece
		id, ok := sp.vocab[merged]
		if !ok {
			return
		}
		heap.Push(q, spPair{left: l, right: r, score: sp.pieces[id].score, size: len(merged)})
		if sp.pieces[id].kind == spUnused {
			revMerge[merged] = [2]string{syms[l].piece, syms[r].piece}
		}
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for q.Len() > 0 {
		top := heap.Pop(q).(spPair)
		l, r := &syms[top.left], &syms[top.right]
		if l.piece == "" || r.piece == "" || len(l.piece)+len(r.piece) != top.size {
			continue
		}
		l.piece += r.piece
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.piece = ""
		add(l.prev, top.left)
		add(top.left, l.next)
	}
	var out []spToken
	var resegment func(w string)
	resegment = func(w string) {
		id, ok := sp.ID(w)
		if !ok {
			out = append(out, spToken{w, sp.unk})
			return
		}
		if sp.pieces[id].kind != spUnused {
			out = append(out, spToken{w, id})
			return
		}
		p, ok := revMerge[w]
		if !ok {
			out = append(out, spToken{w, id})
			return
		}
		resegment(p[0])
		resegment(p[1])
	}
	for i := 0; i >= 0; i = syms[i].next {
		resegment(syms[i].piece)
	}
	return out
}

type spPair struct {
	left, right int
	score       float32
	size        int
}

// spPairs is a max-heap of pairs by score, then leftmost.
type spPairs []spPair

func (h spPairs) Len() int { return len(h) }
func (h spPairs) Less(i, j int) bool {
	return h[i].score > h[j].score || (h[i].score == h[j].score && h[i].left < h[j].left)
}
func (h spPairs) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *spPairs) Push(x any)   { *h = append(*h, x.(spPair)) }
func (h *spPairs) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Decode returns the text of ids as the library's decode does: control
// pieces vanish, the unknown piece becomes its surface (" ⁇ "), byte
// pieces are joined into UTF-8 (U+FFFD for bytes that make none), ▁ is a
// space, and the first piece's leading space (the dummy prefix) goes.
func (sp *SentencePiece) Decode(ids []int32) (string, error) {
	pieces := make([]string, len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= len(sp.pieces) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is outside the vocabulary [0, %d)", id, i, len(sp.pieces))
		}
		pieces[i] = sp.pieces[id].text
	}
	return sp.decode(ids, pieces), nil
}

// DecodePieces returns the text of pieces as the library's decode_pieces
// does: as Decode of their ids, except that a piece the model lacks comes
// out as itself.
func (sp *SentencePiece) DecodePieces(pieces []string) string {
	ids := make([]int32, len(pieces))
	for i, p := range pieces {
		id, ok := sp.ID(p)
		if !ok {
			id = sp.unk
		}
		ids[i] = id
	}
	return sp.decode(ids, pieces)
}

func (sp *SentencePiece) decode(ids []int32, texts []string) string {
	var text strings.Builder
	var bytesRun []byte
	flush := func() {
		for len(bytesRun) > 0 {
			r, n := utf8.DecodeRune(bytesRun)
			if r == utf8.RuneError && n <= 1 {
				text.WriteString("\uFFFD")
				n = 1
			} else {
				text.Write(bytesRun[:n])
			}
			bytesRun = bytesRun[n:]
		}
	}
	bosWS, bosWSSeen := true, false
	for i, id := range ids {
		p := sp.pieces[id]
		if p.kind == spByte {
			bytesRun = append(bytesRun, sp.byteOf[id])
			continue
		}
		flush()
		if bosWSSeen || text.Len() > 0 {
			bosWS = false
		}
		piece := texts[i]
		bosWSSeen = false
		switch {
		case p.kind == spControl:
			piece = ""
		case p.kind == spUnknown && piece == p.text:
			piece = sp.unkSurface
		case p.kind == spUnknown: // a piece the model lacks: itself
		default:
			if bosWS && (sp.norm.addDummyPrefix || sp.norm.removeExtraSpaces) {
				var had bool
				piece, had = strings.CutPrefix(piece, spaceSymbol)
				bosWSSeen = had && !sp.norm.removeExtraSpaces
			}
			piece = strings.ReplaceAll(piece, spaceSymbol, " ")
		}
		text.WriteString(piece)
	}
	flush()
	out := text.String()
	if sp.denorm != nil {
		out = sp.denorm.normalize(out, nil, false)
	}
	return out
}

// spNormalizer is a NormalizerSpec: a precompiled character map (a
// darts-clone double-array trie over UTF-8 byte strings whose values point
// at NUL-terminated replacements) and the whitespace rules.
type spNormalizer struct {
	trie                                            []uint32
	replacements                                    []byte
	addDummyPrefix, removeExtraSpaces, escapeSpaces bool
}

func parseNormalizer(b []byte) (*spNormalizer, error) {
	n := &spNormalizer{addDummyPrefix: true, removeExtraSpaces: true, escapeSpaces: true}
	var charsmap []byte
	err := protoFields(b, func(f, w int, v uint64, d []byte) error {
		switch f {
		case 2:
			charsmap = d
		case 3:
			n.addDummyPrefix = v != 0
		case 4:
			n.removeExtraSpaces = v != 0
		case 5:
			n.escapeSpaces = v != 0
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(charsmap) > 0 {
		if len(charsmap) <= 4 {
			return nil, errors.New("precompiled_charsmap is broken (shorter than its header)")
		}
		size := uint64(charsmap[0]) | uint64(charsmap[1])<<8 | uint64(charsmap[2])<<16 | uint64(charsmap[3])<<24
		if size >= uint64(len(charsmap)) || size%4 != 0 || size == 0 {
			return nil, fmt.Errorf("precompiled_charsmap: a trie of %d bytes in %d", size, len(charsmap))
		}
		n.trie = make([]uint32, size/4)
		for i := range n.trie {
			o := 4 + 4*i
			n.trie[i] = uint32(charsmap[o]) | uint32(charsmap[o+1])<<8 | uint32(charsmap[o+2])<<16 | uint32(charsmap[o+3])<<24
		}
		n.replacements = charsmap[4+size:]
	}
	return n, nil
}

// prefix returns the normalised form of the longest rule matching the
// start of s and the bytes it consumes: a user-defined symbol as it is,
// else the trie's longest match, else one character (U+FFFD for a byte
// that starts no valid UTF-8).
func (n *spNormalizer) prefix(s string, user func(string) int) (string, int) {
	if user != nil {
		if l := user(s); l > 0 {
			return s[:l], l
		}
	}
	longest, value := 0, 0
	if n.trie != nil {
		// darts-clone's commonPrefixSearch, the first 32 matches.
		node := uint32(0)
		unit := n.trie[0]
		node ^= dartsOffset(unit)
		found := 0
		for i := 0; i < len(s); i++ {
			node ^= uint32(s[i])
			if int(node) >= len(n.trie) {
				break
			}
			unit = n.trie[node]
			if unit&(1<<31|0xff) != uint32(s[i]) {
				break
			}
			node ^= dartsOffset(unit)
			if (unit>>8)&1 == 1 {
				if int(node) >= len(n.trie) {
					break
				}
				if found < 32 {
					if i+1 > longest {
						longest, value = i+1, int(n.trie[node]&(1<<31-1))
					}
				}
				found++
			}
		}
	}
	if longest > 0 && value < len(n.replacements) {
		r := n.replacements[value:]
		if end := strings.IndexByte(string(r[:min(len(r), 1<<10)]), 0); end >= 0 {
			r = r[:end]
		}
		return string(r), longest
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return "\uFFFD", 1
	}
	return s[:size], size
}

func dartsOffset(unit uint32) uint32 { return (unit >> 10) << ((unit & (1 << 9)) >> 6) }

// normalize is the library's Normalizer::Normalize.
func (n *spNormalizer) normalize(input string, user func(string) int, wsSuffix bool) string {
	if n.removeExtraSpaces {
		for input != "" {
			p, l := n.prefix(input, user)
			if p != " " {
				break
			}
			input = input[l:]
		}
	}
	if input == "" {
		return ""
	}
	space := " "
	if n.escapeSpaces {
		space = spaceSymbol
	}
	var out strings.Builder
	if !wsSuffix && n.addDummyPrefix {
		out.WriteString(space)
	}
	prevSpace := n.removeExtraSpaces
	for input != "" {
		p, l := n.prefix(input, user)
		for prevSpace && strings.HasPrefix(p, " ") {
			p = p[1:]
		}
		if p != "" {
			if n.escapeSpaces {
				out.WriteString(strings.ReplaceAll(p, " ", spaceSymbol))
			} else {
				out.WriteString(p)
			}
			prevSpace = strings.HasSuffix(p, " ")
		}
		input = input[l:]
		if !n.removeExtraSpaces {
			prevSpace = false
		}
	}
	s := out.String()
	if n.removeExtraSpaces {
		for strings.HasSuffix(s, space) {
			s = s[:len(s)-len(space)]
		}
	}
	if wsSuffix && n.addDummyPrefix {
		s += space
	}
	return s
}

// IsSpecial reports whether id is a control or unknown piece (<s>, </s>,
// <pad>, <unk>): what decoding with skip_special_tokens drops.
func (sp *SentencePiece) IsSpecial(id int32) bool {
	if id < 0 || int(id) >= len(sp.pieces) {
		return false
	}
	k := sp.pieces[id].kind
	return k == spControl || k == spUnknown
}
