package metrics

import (
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/goformer/goformer/data"
)

// TestSQuADMatchesOfficial compares exact match and F1 on 2,400
// prediction/answer pairs, the normalisation of the corner cases, and the
// totals of a whole prediction file with the rendering of evaluate-v1.1.py
// in scripts/reference/squad.py.
func TestSQuADMatchesOfficial(t *testing.T) {
	f, err := os.Open("testdata/squad_ref.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Pairs []struct {
			Prediction string   `json:"prediction"`
			Answers    []string `json:"answers"`
			EM, F1     float64
		} `json:"pairs"`
		Normalized  map[string]string `json:"normalized"`
		Predictions map[string]string `json:"baseline_predictions"`
		Baseline    struct {
			EM        float64 `json:"exact_match"`
			F1        float64 `json:"f1"`
			Questions int     `json:"questions"`
		} `json:"baseline"`
	}
	if err := json.NewDecoder(z).Decode(&fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Pairs) < 2000 {
		t.Fatalf("%d pairs", len(fx.Pairs))
	}
	for p, want := range fx.Normalized {
		if got := SQuADNormalize(p); got != want {
			t.Errorf("SQuADNormalize(%q) = %q, official %q", p, got, want)
		}
	}
	bad := 0
	for _, p := range fx.Pairs {
		r := SQuADScore([]SQuADQuestion{{ID: "q", Answers: p.Answers}}, map[string]string{"q": p.Prediction})
		if math.Abs(r.ExactMatch-100*p.EM) > 1e-9 || math.Abs(r.F1-100*p.F1) > 1e-9 {
			if bad++; bad <= 10 {
				t.Errorf("%q vs %q: EM %g F1 %g, official %g %g", p.Prediction, p.Answers, r.ExactMatch, r.F1, 100*p.EM, 100*p.F1)
			}
		}
	}
	qs, err := data.DebianCloze("test")
	if err != nil {
		t.Fatal(err)
	}
	var questions []SQuADQuestion
	for _, q := range qs {
		sq := SQuADQuestion{ID: q.ID}
		for _, a := range q.Answers {
			sq.Answers = append(sq.Answers, a.Text)
		}
		questions = append(questions, sq)
	}
	r := SQuADScore(questions, fx.Predictions)
	if r.Total != fx.Baseline.Questions || math.Abs(r.ExactMatch-fx.Baseline.EM) > 1e-9 || math.Abs(r.F1-fx.Baseline.F1) > 1e-9 {
		t.Errorf("whole file: %+v, official %+v", r, fx.Baseline)
	}
	delete(fx.Predictions, questions[0].ID)
	if r := SQuADScore(questions, fx.Predictions); r.Missing == 0 {
		t.Error("a missing prediction was not counted")
	}
}
