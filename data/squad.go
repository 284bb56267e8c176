package data

import (
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// SQuADAnswer is one answer to a question: its text and where it starts
// in the context, in characters (Unicode code points, as SQuAD counts) and
// in bytes.
type SQuADAnswer struct {
	Text      string
	Start     int // answer_start, in characters
	ByteStart int // the same position in bytes of the UTF-8 context
}

// SQuADQuestion is a question about a context with its answers (SQuAD
// v1.1: at least one, each a span of the context).
type SQuADQuestion struct {
	ID       string
	Question string
	Context  string
	Title    string
	Answers  []SQuADAnswer
}

// squadFile is SQuAD v1.1 JSON; pointers tell a missing field from an
// empty one.
type squadFile struct {
	Version *string `json:"version"`
	Data    *[]struct {
		Title      string `json:"title"`
		Paragraphs *[]struct {
			Context *string `json:"context"`
			QAs     *[]struct {
				ID       *string `json:"id"`
				Question *string `json:"question"`
				Answers  *[]struct {
					Text  *string `json:"text"`
					Start *int    `json:"answer_start"`
				} `json:"answers"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

// MaxSQuADBytes bounds a SQuAD file read whole.
const MaxSQuADBytes = 1 << 30

// ReadSQuAD reads SQuAD v1.1 JSON (data → paragraphs → context, qas → id,
// question, answers → text, answer_start), validating as it reads: every
// field present, every answer's answer_start pointing at its
// text in the context. An id may occur twice (as in the Debian cloze set:
// two packages' entries): the questions then share one prediction, as in
// the official evaluation script. Errors name the file and the question's id (or the
// article and paragraph).
func ReadSQuAD(r io.Reader, name string) ([]SQuADQuestion, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSQuADBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > MaxSQuADBytes {
		return nil, fmt.Errorf("%s: more than %d bytes", name, MaxSQuADBytes)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%s: not valid UTF-8", name)
	}
	var f squadFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not SQuAD JSON: %v", name, err)
	}
	if f.Data == nil {
		return nil, fmt.Errorf("%s: no \"data\" field (not SQuAD v1.1 JSON?)", name)
	}
	var out []SQuADQuestion
	for ai, art := range *f.Data {
		if art.Paragraphs == nil {
			return nil, fmt.Errorf("%s: data[%d] (%q): no \"paragraphs\"", name, ai, art.Title)
		}
		for pi, p := range *art.Paragraphs {
			where := fmt.Sprintf("%s: data[%d].paragraphs[%d]", name, ai, pi)
			if p.Context == nil || p.QAs == nil {
				return nil, fmt.Errorf("%s: needs \"context\" and \"qas\"", where)
			}
			ctx := *p.Context
			// Character offsets → byte offsets, computed once per context.
			var byteAt []int
			for i := range ctx {
				byteAt = append(byteAt, i)
			}
			byteAt = append(byteAt, len(ctx))
			for qi, qa := range *p.QAs {
				if qa.ID == nil {
					return nil, fmt.Errorf("%s.qas[%d]: no \"id\"", where, qi)
				}
				id := *qa.ID
				switch {
				case qa.Question == nil:
					return nil, fmt.Errorf("%s: question %q: no \"question\"", name, id)
				case qa.Answers == nil || len(*qa.Answers) == 0:
					return nil, fmt.Errorf("%s: question %q: no answers", name, id)
				}
				q := SQuADQuestion{ID: id, Question: *qa.Question, Context: ctx, Title: art.Title}
				for k, a := range *qa.Answers {
					if a.Text == nil || a.Start == nil {
						return nil, fmt.Errorf("%s: question %q: answer %d needs \"text\" and \"answer_start\"", name, id, k)
					}
					s, t := *a.Start, *a.Text
					if s < 0 || s >= len(byteAt) {
						return nil, fmt.Errorf("%s: question %q: answer %d: answer_start %d is outside the context's %d characters", name, id, k, s, len(byteAt)-1)
					}
					bs := byteAt[s]
					if len(ctx)-bs < len(t) || ctx[bs:bs+len(t)] != t {
						return nil, fmt.Errorf("%s: question %q: answer %d: the context at answer_start %d does not read %q", name, id, k, s, t)
					}
					q.Answers = append(q.Answers, SQuADAnswer{Text: t, Start: s, ByteStart: bs})
				}
				out = append(out, q)
			}
		}
	}
	return out, nil
}

// DebianCloze reads a split (one of DebianSplits) of the built-in Debian
// cloze set: SQuAD v1.1 questions (a synopsis with one word blanked) about
// package descriptions.
func DebianCloze(split string) ([]SQuADQuestion, error) {
	r, err := openDebian(split, split+"-cloze-squad.json.gz")
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return ReadSQuAD(r, "debian:"+split+"-cloze")
}
