package data

import (
	"strings"
	"testing"
)

func TestReadSQuADValidates(t *testing.T) {
	good := `{"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Où est le café? Ici.",
		"qas": [{"id": "q1", "question": "where?", "answers": [{"text": "café", "answer_start": 10}, {"text": "Ici", "answer_start": 16}]}]}]}]}`
	qs, err := ReadSQuAD(strings.NewReader(good), "good.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || qs[0].Answers[0].ByteStart != 11 || qs[0].Context[qs[0].Answers[1].ByteStart:][:3] != "Ici" {
		t.Fatalf("%+v", qs)
	}
	for _, tc := range []struct{ json, want string }{
		{strings.Replace(good, `"answer_start": 10`, `"answer_start": 9`, 1), `question "q1": answer 0: the context at answer_start 9 does not read "café"`},
		{strings.Replace(good, `"answer_start": 10`, `"answer_start": 500`, 1), "outside the context's 20 characters"},
		{strings.Replace(good, `"id": "q1", `, ``, 1), `qas[0]: no "id"`},
		{strings.Replace(good, `"question": "where?", `, ``, 1), `question "q1": no "question"`},
		{strings.Replace(good, `"text": "café", `, ``, 1), `needs "text" and "answer_start"`},
		{`{"version": "1.1"}`, `no "data"`},
		{`[1, 2]`, "not SQuAD JSON"},
		{"{\"data\": \"\xff\"}", "not valid UTF-8"},
	} {
		if _, err := ReadSQuAD(strings.NewReader(tc.json), "bad.json"); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bad.json") {
			t.Errorf("want an error naming bad.json with %q, got %v", tc.want, err)
		}
	}
}
