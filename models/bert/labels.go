package bert

import (
	"fmt"
	"strconv"
)

// MaxLabels bounds the labels a classification config may declare.
const MaxLabels = 1 << 16

// Labels are a classification head's labels as transformers' config.json
// holds them: id2label (keys are the ids written as strings), label2id,
// and problem_type, which says how logits become scores.
type Labels struct {
	ID2Label map[string]string `json:"id2label,omitempty"`
	Label2ID map[string]int    `json:"label2id,omitempty"`
	// NumLabelsField is num_labels, read when id2label is absent.
	NumLabelsField int `json:"num_labels,omitempty"`
	// ProblemType is "single_label_classification" (softmax),
	// "multi_label_classification" (sigmoid), "regression" or "" (softmax,
	// or the raw logit when there is one label, as the pipeline does).
	ProblemType string `json:"problem_type,omitempty"`
}

// NumLabels is the number of labels: id2label's size, else num_labels,
// else 2 (transformers' default).
func (l *Labels) NumLabels() int {
	switch {
	case len(l.ID2Label) > 0:
		return len(l.ID2Label)
	case l.NumLabelsField > 0:
		return l.NumLabelsField
	}
	return 2
}

// Names returns the labels in id order; an id id2label does not name is
// LABEL_<id>, as transformers names it.
func (l *Labels) Names() []string {
	out := make([]string, l.NumLabels())
	for i := range out {
		if name, ok := l.ID2Label[strconv.Itoa(i)]; ok {
			out[i] = name
		} else {
			out[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	return out
}

// Validate reports id2label keys that are not the ids 0…n−1, and an
// unknown problem_type.
func (l *Labels) Validate() error {
	n := l.NumLabels()
	if n > MaxLabels || l.NumLabelsField < 0 || l.NumLabelsField > MaxLabels {
		return fmt.Errorf("%d labels: at most %d", max(n, l.NumLabelsField), MaxLabels)
	}
	for k := range l.ID2Label {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= n || strconv.Itoa(id) != k {
			return fmt.Errorf("id2label key %q is not one of the ids 0…%d", k, n-1)
		}
	}
	if len(l.ID2Label) > 0 && l.NumLabelsField > 0 && l.NumLabelsField != len(l.ID2Label) {
		return fmt.Errorf("num_labels %d does not match the %d labels of id2label", l.NumLabelsField, len(l.ID2Label))
	}
	switch l.ProblemType {
	case "", "single_label_classification", "multi_label_classification", "regression":
	default:
		return fmt.Errorf("problem_type %q is not single_label_classification, multi_label_classification or regression", l.ProblemType)
	}
	return nil
}
