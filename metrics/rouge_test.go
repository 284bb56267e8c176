package metrics

import (
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"testing"
)

type rougeFixture struct {
	Pairs []struct {
		Pred, Ref string
		StemRaw   []float64 `json:"stem"`
		NoStemRaw []float64 `json:"nostem"`
	} `json:"pairs"`
	Stems map[string]string `json:"stems"`
}

func readRougeFixture(t *testing.T) *rougeFixture {
	t.Helper()
	f, err := os.Open("testdata/rouge_ref.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var fx rougeFixture
	if err := json.NewDecoder(z).Decode(&fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Pairs) < 1000 || len(fx.Stems) < 1000 {
		t.Fatalf("fixture has %d pairs and %d stems", len(fx.Pairs), len(fx.Stems))
	}
	return &fx
}

// TestPorterMatchesNLTK compares every stem with NLTK's PorterStemmer
// (scripts/reference/rouge.py: the words of the Debian test descriptions
// and the rules' own examples).
func TestPorterMatchesNLTK(t *testing.T) {
	fx := readRougeFixture(t)
	bad := 0
	for w, want := range fx.Stems {
		if got := PorterStem(w); got != want {
			if bad++; bad <= 20 {
				t.Errorf("PorterStem(%q) = %q, NLTK %q", w, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d stems differ", bad, len(fx.Stems))
	}
}

// TestRougeMatchesReference compares ROUGE-1, -2, -L and -Lsum, with and
// without stemming, on 1,600 pairs and the corner cases, with the reference
// written from rouge-score.
func TestRougeMatchesReference(t *testing.T) {
	fx := readRougeFixture(t)
	bad := 0
	for i, p := range fx.Pairs {
		for _, stem := range []bool{true, false} {
			want := p.NoStemRaw
			if stem {
				want = p.StemRaw
			}
			r := RougeScores(p.Pred, p.Ref, stem)
			got := []float64{r.Rouge1, r.Rouge2, r.RougeL, r.RougeLsum}
			for k := range got {
				if math.Abs(got[k]-want[k]) > 1e-9 {
					if bad++; bad <= 10 {
						t.Errorf("pair %d (%q vs %q, stem %v): score %d = %v, reference %v", i, p.Pred, p.Ref, stem, k, got[k], want[k])
					}
				}
			}
		}
	}
}

func TestRougeCorners(t *testing.T) {
	if r := RougeScores("", "", true); r != (Rouge{}) {
		t.Errorf("empty: %+v", r)
	}
	if r := RougeScores("The cat sat.", "the CAT sat", false); r.Rouge1 != 100 || r.Rouge2 != 100 || r.RougeL != 100 || r.RougeLsum != 100 {
		t.Errorf("identical up to case and punctuation: %+v", r)
	}
	if _, err := CorpusRouge([]string{"a"}, nil, true); err == nil {
		t.Error("CorpusRouge accepted mismatched lengths")
	}
	if got := Lead("Tool for X.  It does\nY. More."); got != "Tool for X." {
		t.Errorf("Lead = %q", got)
	}
	if got := Lead("no stop at all"); got != "no stop at all" {
		t.Errorf("Lead = %q", got)
	}
}
