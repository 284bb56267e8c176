package data

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/tensor"
)

func writeFile(t *testing.T, path, text string, gz bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if gz {
		z := gzip.NewWriter(f)
		z.Write([]byte(text))
		z.Close()
		return
	}
	f.WriteString(text)
}

func TestParallelPlainAndGzip(t *testing.T) {
	dir := t.TempDir()
	src, tgt := filepath.Join(dir, "a.de"), filepath.Join(dir, "a.en.gz")
	writeFile(t, src, "eins\nzwei\n\ndrei\n", false)
	writeFile(t, tgt, "one\ntwo\n\nthree\n", true)
	r, err := OpenParallel(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	s, g, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, []string{"eins", "zwei", "", "drei"}) || !reflect.DeepEqual(g, []string{"one", "two", "", "three"}) {
		t.Fatalf("read %q / %q", s, g)
	}
}

func TestParallelLineCountMismatch(t *testing.T) {
	dir := t.TempDir()
	src, tgt := filepath.Join(dir, "s.txt"), filepath.Join(dir, "t.txt")
	writeFile(t, src, "a\nb\nc\nd\ne\n", false)
	writeFile(t, tgt, "a\nb\n", true)
	r, err := OpenParallel(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.ReadAll()
	if err == nil {
		t.Fatal("no error for 5 against 2 lines")
	}
	for _, want := range []string{src, tgt, "5 lines", "has 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := OpenParallel(filepath.Join(dir, "missing"), tgt); err == nil {
		t.Error("a missing file opened")
	}
}

func TestMulti30kBuiltIn(t *testing.T) {
	for split, n := range map[string]int{"train": 29000, "val": 1014, "test_2016_flickr": 1000} {
		r, err := Multi30k(split)
		if err != nil {
			t.Fatal(err)
		}
		s, g, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != n || len(g) != n {
			t.Errorf("%s: %d/%d pairs, want %d", split, len(s), len(g), n)
		}
	}
	if _, err := Multi30k("test2017"); err == nil {
		t.Error("unknown split accepted")
	}
}

func bytesEncode(s string) ([]int32, error) {
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i])
	}
	return out, nil
}

func TestBucketBudgetAndMasks(t *testing.T) {
	rng := tensor.NewRNG(3)
	var src, tgt []string
	for i := 0; i < 500; i++ {
		src = append(src, strings.Repeat("x", 3+rng.IntN(40)))
		tgt = append(tgt, strings.Repeat("y", 1+rng.IntN(50)))
	}
	ex, err := Tokenize(src, tgt, bytesEncode, 45)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		if len(e.Src) > 45 || len(e.Tgt) > 45 {
			t.Fatal("an over-long pair was kept")
		}
	}
	sp := Special{Pad: 0, EOS: 1, Start: 2}
	batches := Bucket(ex, 300, sp)
	seen := map[int]bool{}
	padded, real := 0, 0
	for _, b := range batches {
		if b.B*max(b.SrcLen, b.TgtLen) > 300 && b.B > 1 {
			t.Fatalf("batch of %d × max(%d, %d) over the budget of 300", b.B, b.SrcLen, b.TgtLen)
		}
		for i, idx := range b.Index {
			if seen[idx] {
				t.Fatalf("example %d twice", idx)
			}
			seen[idx] = true
			s, y := src[idx], tgt[idx]
			row := b.Src[i*b.SrcLen : (i+1)*b.SrcLen]
			pad := b.SrcPad[i*b.SrcLen : (i+1)*b.SrcLen]
			for j := range row {
				switch {
				case j < len(s):
					if row[j] != 'x' || pad[j] {
						t.Fatalf("source row %d position %d: %d pad=%v", i, j, row[j], pad[j])
					}
				case j == len(s):
					if row[j] != sp.EOS || pad[j] {
						t.Fatalf("source row %d: no EOS at %d", i, j)
					}
				default:
					if row[j] != sp.Pad || !pad[j] {
						t.Fatalf("source row %d position %d should be padding", i, j)
					}
				}
			}
			in := b.TgtIn[i*b.TgtLen : (i+1)*b.TgtLen]
			lab := b.Labels[i*b.TgtLen : (i+1)*b.TgtLen]
			if in[0] != sp.Start || lab[len(y)] != sp.EOS || (len(y) > 0 && in[1] != 'y') || lab[0] != 'y' {
				t.Fatalf("target row %d: in %v labels %v", i, in, lab)
			}
			for j := len(y) + 1; j < b.TgtLen; j++ {
				if lab[j] != sp.Pad || !b.TgtPad[i*b.TgtLen+j] {
					t.Fatalf("target row %d position %d should be padding", i, j)
				}
			}
		}
		padded += b.B * (b.SrcLen + b.TgtLen)
		real += b.Tokens
	}
	if len(seen) != len(ex) {
		t.Fatalf("%d of %d examples batched", len(seen), len(ex))
	}
	// Bucketing by length keeps padding small: well under half the batch.
	srcTok := 0
	for _, e := range ex {
		srcTok += len(e.Src) + 1
	}
	if frac := float64(srcTok+real) / float64(padded); frac < 0.75 {
		t.Errorf("only %.0f%% of the batched positions are real tokens", 100*frac)
	}
}

// TestBucketGroups checks that BucketGroups gives Bucket's batches' examples
// in order, sorted by length with ties in input order.
func TestBucketGroups(t *testing.T) {
	rng := tensor.NewRNG(5)
	var ex []Example
	for i := range 300 {
		ex = append(ex, Example{Src: make([]int32, 2+rng.IntN(6)), Tgt: make([]int32, 1+rng.IntN(3)), Index: i})
	}
	groups := BucketGroups(ex, 40)
	batches := Bucket(ex, 40, Special{Pad: 0, EOS: 1, Start: 2})
	if len(groups) != len(batches) {
		t.Fatalf("%d groups, %d batches", len(groups), len(batches))
	}
	var prev *Example
	n := 0
	for i, g := range groups {
		if !slices.Equal(batches[i].Index, indices(g)) {
			t.Fatalf("group %d holds %v, batch %d %v", i, indices(g), i, batches[i].Index)
		}
		for j := range g {
			e := &g[j]
			if prev != nil {
				lp, le := max(len(prev.Src), len(prev.Tgt)), max(len(e.Src), len(e.Tgt))
				if lp > le || (lp == le && len(prev.Src) > len(e.Src)) ||
					(lp == le && len(prev.Src) == len(e.Src) && prev.Index > e.Index) {
					t.Fatalf("example %d after %d: not sorted by length with ties in input order", e.Index, prev.Index)
				}
			}
			prev = e
			n++
		}
	}
	if n != len(ex) {
		t.Fatalf("%d of %d examples grouped", n, len(ex))
	}
}

func indices(g []Example) []int {
	var out []int
	for _, e := range g {
		out = append(out, e.Index)
	}
	return out
}

func TestStreamReadsEveryPairInWindows(t *testing.T) {
	dir := t.TempDir()
	var s, g strings.Builder
	for i := 0; i < 230; i++ {
		s.WriteString(strings.Repeat("a", 1+i%17) + "\n")
		g.WriteString(strings.Repeat("b", 1+i%13) + "\n")
	}
	writeFile(t, filepath.Join(dir, "s"), s.String(), true)
	writeFile(t, filepath.Join(dir, "t"), g.String(), false)
	r, err := OpenParallel(filepath.Join(dir, "s"), filepath.Join(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st := &Stream{Reader: r, Encode: bytesEncode, Window: 50, MaxTokens: 64, Special: Special{EOS: 1}, RNG: tensor.NewRNG(1)}
	seen := map[int]bool{}
	for {
		b, ok, err := st.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		for _, i := range b.Index {
			seen[i] = true
		}
		// A window of 50 pairs: no batch mixes windows.
		lo := b.Index[0] / 50
		for _, i := range b.Index {
			if i/50 != lo {
				t.Fatalf("batch mixes windows: %v", b.Index)
			}
		}
	}
	if len(seen) != 230 {
		t.Fatalf("streamed %d of 230 pairs", len(seen))
	}
}
