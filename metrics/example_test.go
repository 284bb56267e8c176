package metrics_test

import (
	"fmt"

	"github.com/goformer/goformer/metrics"
)

// ROUGE of one summary, as Google's rouge-score computes it with the
// stemmer on ("converts" and "convert" share the stem "convert").
func ExampleRougeScores() {
	r := metrics.RougeScores("Converts files between formats", "A tool to convert files", true)
	fmt.Printf("ROUGE-1 %.2f ROUGE-2 %.2f ROUGE-L %.2f\n", r.Rouge1, r.Rouge2, r.RougeL)
	// Output: ROUGE-1 44.44 ROUGE-2 28.57 ROUGE-L 44.44
}

// SQuAD v1.1 exact match and F1 over two questions, as evaluate-v1.1.py
// scores them: "the Eiffel Tower" matches "Eiffel Tower" once articles and
// case are dropped; the second prediction shares one of two words.
func ExampleSQuADScore() {
	qs := []metrics.SQuADQuestion{{ID: "1", Answers: []string{"Eiffel Tower"}}, {ID: "2", Answers: []string{"red wine"}}}
	r := metrics.SQuADScore(qs, map[string]string{"1": "the Eiffel tower", "2": "wine"})
	fmt.Printf("EM %.1f F1 %.1f\n", r.ExactMatch, r.F1)
	// Output: EM 50.0 F1 83.3
}
