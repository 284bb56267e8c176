package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/goformer/goformer/tensor"
)

//go:embed multi30k/*.gz
var multi30k embed.FS

// Multi30kSplits are the parts of the built-in Multi30k corpus.
var Multi30kSplits = []string{"train", "val", "test_2016_flickr"}

// Multi30k opens the built-in Multi30k (task 1) German–English corpus:
// split is "train" (29,000 pairs), "val" (1,014) or "test_2016_flickr"
// (1,000); the sentences are raw, cased text.
func Multi30k(split string) (*ParallelReader, error) {
	if !slices.Contains(Multi30kSplits, split) {
		return nil, fmt.Errorf("data: Multi30k has no split %q (want one of %v)", split, Multi30kSplits)
	}
	open := func(lang string) (io.ReadCloser, string, error) {
		name := "multi30k/" + split + "." + lang + ".gz"
		f, err := multi30k.Open(name)
		if err != nil {
			return nil, "", err
		}
		r, err := decompress(f, name)
		return r, "multi30k:" + split + "." + lang, err
	}
	src, srcName, err := open("de")
	if err != nil {
		return nil, err
	}
	tgt, tgtName, err := open("en")
	if err != nil {
		src.Close()
		return nil, err
	}
	return newParallelReader(src, tgt, srcName, tgtName), nil
}

// Multi30kFile returns the raw bytes of one built-in file, uncompressed:
// split and lang ("de" or "en"), for writing out reference files.
func Multi30kFile(split, lang string) ([]byte, error) {
	name := "multi30k/" + split + "." + lang + ".gz"
	f, err := multi30k.Open(name)
	if err != nil {
		return nil, fmt.Errorf("data: no built-in file %s", name)
	}
	r, err := decompress(f, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// OpenText opens a text file, decompressing it if it is gzip (by its
// first bytes, whatever its name).
func OpenText(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return decompress(f, path)
}

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func decompress(f fs.File, name string) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return multiCloser{br, []io.Closer{f}}, nil
	}
	z, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return multiCloser{z, []io.Closer{z, f}}, nil
}

// ParallelReader streams aligned sentence pairs from two files, one
// sentence per line: it holds one line of each at a time, so a corpus
// larger than memory can be read.
type ParallelReader struct {
	src, tgt         *bufio.Scanner
	closers          []io.Closer
	srcName, tgtName string
	line             int
	err              error
}

// OpenParallel opens a source and a target file (plain or gzip).
func OpenParallel(srcPath, tgtPath string) (*ParallelReader, error) {
	src, err := OpenText(srcPath)
	if err != nil {
		return nil, err
	}
	tgt, err := OpenText(tgtPath)
	if err != nil {
		src.Close()
		return nil, err
	}
	return newParallelReader(src, tgt, srcPath, tgtPath), nil
}

func newParallelReader(src, tgt io.ReadCloser, srcName, tgtName string) *ParallelReader {
	scan := func(r io.Reader) *bufio.Scanner {
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 64<<10), 16<<20)
		return s
	}
	return &ParallelReader{src: scan(src), tgt: scan(tgt), closers: []io.Closer{src, tgt}, srcName: srcName, tgtName: tgtName}
}

// Next returns the next pair; ok is false at the end of both files or on
// an error (see Err). Files of different lengths are an error naming both
// files and their line counts.
func (p *ParallelReader) Next() (src, tgt string, ok bool) {
	if p.err != nil {
		return "", "", false
	}
	s, t := p.src.Scan(), p.tgt.Scan()
	if s && t {
		p.line++
		for _, f := range []struct {
			name string
			text []byte
		}{{p.srcName, p.src.Bytes()}, {p.tgtName, p.tgt.Bytes()}} {
			if !utf8.Valid(f.text) {
				p.err = fmt.Errorf("data: %s line %d is not valid UTF-8", f.name, p.line)
				return "", "", false
			}
		}
		return p.src.Text(), p.tgt.Text(), true
	}
	if err := errors.Join(p.src.Err(), p.tgt.Err()); err != nil {
		p.err = fmt.Errorf("data: reading %s / %s after line %d: %w", p.srcName, p.tgtName, p.line, err)
		return "", "", false
	}
	if s != t { // one file ended first: count the rest of the other
		ns, nt := p.line, p.line
		rest := func(sc *bufio.Scanner) int {
			n := 1
			for sc.Scan() {
				n++
			}
			return n
		}
		if s {
			ns += rest(p.src)
		} else {
			nt += rest(p.tgt)
		}
		p.err = fmt.Errorf("data: %s has %d lines but %s has %d: a parallel corpus needs one line per sentence in each", p.srcName, ns, p.tgtName, nt)
	}
	return "", "", false
}

// Line returns the number of pairs read so far.
func (p *ParallelReader) Line() int { return p.line }

// Err returns the error that stopped Next, if any.
func (p *ParallelReader) Err() error { return p.err }

// Close closes both files.
func (p *ParallelReader) Close() error {
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ReadAll reads the remaining pairs into memory and closes the reader.
func (p *ParallelReader) ReadAll() (src, tgt []string, err error) {
	defer p.Close()
	for {
		s, t, ok := p.Next()
		if !ok {
			break
		}
		src, tgt = append(src, s), append(tgt, t)
	}
	return src, tgt, p.Err()
}

// Example is one tokenized sentence pair.
type Example struct {
	Src, Tgt []int32
	Index    int // position in the corpus
}

// Special names the token ids that batches need.
type Special struct {
	Pad   int32 // padding; labels of padding are Pad (ignored by the loss)
	EOS   int32 // appended to source and to target labels
	Start int32 // the decoder's first input (Marian: the pad id)
}

// Batch is a padded batch of sentence pairs, row-major [B, SrcLen] and
// [B, TgtLen]: the source with EOS, the decoder input (Start, then the
// target) and the labels (the target, then EOS). SrcPad and TgtPad mark
// padding (true = ignore).
type Batch struct {
	B, SrcLen, TgtLen  int
	Src, TgtIn, Labels []int32
	SrcPad, TgtPad     []bool
	Index              []int // the corpus positions of the rows
	Tokens             int   // target tokens that count in the loss (EOS included)
}

// MakeBatch pads examples into one batch.
func MakeBatch(ex []Example, sp Special) Batch {
	b := Batch{B: len(ex)}
	for _, e := range ex {
		b.SrcLen = max(b.SrcLen, len(e.Src)+1)
		b.TgtLen = max(b.TgtLen, len(e.Tgt)+1)
	}
	b.Src = make([]int32, b.B*b.SrcLen)
	b.SrcPad = make([]bool, b.B*b.SrcLen)
	b.TgtIn = make([]int32, b.B*b.TgtLen)
	b.Labels = make([]int32, b.B*b.TgtLen)
	b.TgtPad = make([]bool, b.B*b.TgtLen)
	for i, e := range ex {
		s := b.Src[i*b.SrcLen : (i+1)*b.SrcLen]
		n := copy(s, e.Src)
		s[n] = sp.EOS
		for j := n + 1; j < b.SrcLen; j++ {
			s[j] = sp.Pad
			b.SrcPad[i*b.SrcLen+j] = true
		}
		in, lab := b.TgtIn[i*b.TgtLen:(i+1)*b.TgtLen], b.Labels[i*b.TgtLen:(i+1)*b.TgtLen]
		in[0] = sp.Start
		copy(in[1:], e.Tgt)
		n = copy(lab, e.Tgt)
		lab[n] = sp.EOS
		for j := n + 1; j < b.TgtLen; j++ {
			in[j], lab[j] = sp.Pad, sp.Pad
			b.TgtPad[i*b.TgtLen+j] = true
		}
		b.Index = append(b.Index, e.Index)
		b.Tokens += len(e.Tgt) + 1
	}
	return b
}

// Bucket sorts examples by length and cuts them into batches whose padded
// size, rows × the longer of the source and target lengths, stays within
// maxTokens (a batch holds at least one example). Sentences of similar
// length share a batch, so little is spent on padding. The order of the
// batches is by length; shuffle them for training.
func Bucket(ex []Example, maxTokens int, sp Special) []Batch {
	var out []Batch
	for _, g := range BucketGroups(ex, maxTokens) {
		out = append(out, MakeBatch(g, sp))
	}
	return out
}

// BucketGroups returns the examples of each batch that Bucket makes, in the
// same order: a copy of ex sorted stably by length (so examples of equal
// length keep their order in ex), cut into runs of at most maxTokens
// padded tokens.
func BucketGroups(ex []Example, maxTokens int) [][]Example {
	sorted := slices.Clone(ex)
	slices.SortStableFunc(sorted, func(a, b Example) int {
		if la, lb := max(len(a.Src), len(a.Tgt)), max(len(b.Src), len(b.Tgt)); la != lb {
			return la - lb
		}
		return len(a.Src) - len(b.Src)
	})
	var out [][]Example
	start, longest := 0, 0
	for i, e := range sorted {
		l := max(len(e.Src), len(e.Tgt)) + 1
		if i > start && (i-start+1)*max(longest, l) > maxTokens {
			out = append(out, sorted[start:i:i])
			start, longest = i, 0
		}
		longest = max(longest, l)
	}
	if start < len(sorted) {
		out = append(out, sorted[start:])
	}
	return out
}

// Shuffle permutes batches in place with rng (Fisher–Yates).
func Shuffle[T any](s []T, rng *tensor.RNG) {
	for i := len(s) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// Stream reads a parallel corpus in windows of Window pairs, tokenizes
// them, buckets each window into batches of at most MaxTokens and yields
// the batches of a window in a shuffled order: the way to train on a corpus
// larger than memory (only one window is held at a time).
type Stream struct {
	Reader    *ParallelReader
	Encode    func(string) ([]int32, error)
	Window    int // pairs per window (default 100,000)
	MaxTokens int
	MaxLen    int // pairs with a longer side are skipped (0: no limit)
	Special   Special
	RNG       *tensor.RNG

	pending []Batch
}

// Next returns the next batch; ok is false at the end of the corpus or on
// an error (err).
func (s *Stream) Next() (b Batch, ok bool, err error) {
	for len(s.pending) == 0 {
		window := s.Window
		if window <= 0 {
			window = 100000
		}
		var ex []Example
		for len(ex) < window {
			src, tgt, ok := s.Reader.Next()
			if !ok {
				break
			}
			e, keep, err := encodePair(s.Encode, src, tgt, s.Reader.Line()-1, s.MaxLen)
			if err != nil {
				return Batch{}, false, err
			}
			if keep {
				ex = append(ex, e)
			}
		}
		if err := s.Reader.Err(); err != nil {
			return Batch{}, false, err
		}
		if len(ex) == 0 {
			return Batch{}, false, nil
		}
		s.pending = Bucket(ex, s.MaxTokens, s.Special)
		if s.RNG != nil {
			Shuffle(s.pending, s.RNG)
		}
	}
	b = s.pending[0]
	s.pending = s.pending[1:]
	return b, true, nil
}

func encodePair(encode func(string) ([]int32, error), src, tgt string, index, maxLen int) (Example, bool, error) {
	s, err := encode(src)
	if err != nil {
		return Example{}, false, fmt.Errorf("data: source line %d: %w", index+1, err)
	}
	t, err := encode(tgt)
	if err != nil {
		return Example{}, false, fmt.Errorf("data: target line %d: %w", index+1, err)
	}
	if maxLen > 0 && (len(s) > maxLen || len(t) > maxLen) {
		return Example{}, false, nil
	}
	return Example{Src: s, Tgt: t, Index: index}, true, nil
}

// Tokenize encodes aligned sentences into examples, skipping pairs with a
// side longer than maxLen tokens (0: no limit).
func Tokenize(src, tgt []string, encode func(string) ([]int32, error), maxLen int) ([]Example, error) {
	if len(src) != len(tgt) {
		return nil, fmt.Errorf("data: %d source sentences but %d target sentences", len(src), len(tgt))
	}
	out := make([]Example, 0, len(src))
	for i := range src {
		e, keep, err := encodePair(encode, src[i], tgt[i], i, maxLen)
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, e)
		}
	}
	return out, nil
}
