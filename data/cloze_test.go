package data

import (
	"testing"
)

// TestClozeQuestionsCoverPublishedSet makes every question of the
// published validation cloze set from the same split's documents: each
// published question (its blanked synopsis, answer text and start) must be
// among those ClozeQuestions makes for its package, and every question
// made must be a valid SQuAD question (the answer where it says).
func TestClozeQuestionsCoverPublishedSet(t *testing.T) {
	docs, err := Debian("valid")
	if err != nil {
		t.Fatal(err)
	}
	published, err := DebianCloze("valid")
	if err != nil {
		t.Fatal(err)
	}
	made := ClozeQuestions(docs)
	type key struct{ pkg, question, answer string }
	have := map[key]int{}
	for _, q := range made {
		a := q.Answers[0]
		if q.Context[a.ByteStart:a.ByteStart+len(a.Text)] != a.Text || len([]rune(q.Context[:a.ByteStart])) != a.Start {
			t.Fatalf("%s: answer %q not at byte %d / character %d", q.ID, a.Text, a.ByteStart, a.Start)
		}
		have[key{q.Title, q.Question, a.Text}] = a.Start
	}
	missing := 0
	for _, q := range published {
		start, ok := have[key{q.ID, q.Question, q.Answers[0].Text}]
		if !ok || start != q.Answers[0].Start {
			missing++
			if missing <= 5 {
				t.Logf("not made: %s %q → %q at %d", q.ID, q.Question, q.Answers[0].Text, q.Answers[0].Start)
			}
		}
	}
	t.Logf("%d questions made from %d documents; %d of %d published ones not among them", len(made), len(docs), missing, len(published))
	if missing > len(published)/100 {
		t.Errorf("%d of %d published questions are not made by ClozeQuestions", missing, len(published))
	}
	if len(made) < 2*len(published) {
		t.Errorf("only %d questions made for %d published: the rule should allow about 2.5 per package", len(made), len(published))
	}
}

func TestClozeQuestionsRule(t *testing.T) {
	docs := []Document{{ID: "libfoo-perl", Text: "Foo::Bar is a PERL module; it parses Widgets (widgets-ng too).\nÉcole helps.",
		Summary: "Perl module to parse widgets with École widgets x86"}}
	got := map[string]string{}
	for _, q := range ClozeQuestions(docs) {
		got[q.Question] = q.Answers[0].Text
	}
	want := map[string]string{
		// "Perl" is part of the package name, "with" a stop word, "parse" is no whole word of the text
		// ("parses"), "x86" is too short; "widgets" is asked once and answered by its first whole-word
		// occurrence; "module" and "École" are found whatever their case.
		"Perl _____ to parse widgets with École widgets x86":  "module",
		"Perl module to parse _____ with École widgets x86":   "Widgets",
		"Perl module to parse widgets with _____ widgets x86": "École",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for q, a := range want {
		if got[q] != a {
			t.Errorf("%q: got %q, want %q", q, got[q], a)
		}
	}
}
