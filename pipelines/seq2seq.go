package pipelines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/models/t5"
)

// Seq2SeqModel is what the encoder-decoder pipelines (Translator,
// Summarizer, Text2Text) need of a model: seq2seq.Model (Marian, Pegasus,
// BART, mBART) and t5.Model are ones.
type Seq2SeqModel interface {
	// Generate decodes sources (ids with their special tokens) with
	// transformers' generation semantics.
	Generate(src [][]int32, o generate.Options, batchRows int, progress func(done int)) ([][]int32, error)
	// GenerationOptions are transformers' defaults with the model's start
	// and end tokens.
	GenerationOptions() generate.Options
	// SourceFormat returns the token a source starts with (BART's <s>; −1
	// for none), the one it ends with (</s>) and the longest source the
	// model reads, those included.
	SourceFormat() (bos, eos int32, maxLen int)
	// VocabSize returns the number of rows of the output projection.
	VocabSize() int
}

// LoadSeq2Seq reads an encoder-decoder model directory by its config's
// model_type: t5 as a t5.Model, marian, pegasus, bart and mbart as a
// seq2seq.Model.
func LoadSeq2Seq(dir string) (Seq2SeqModel, error) {
	if isT5(dir) {
		return t5.Load(dir)
	}
	return seq2seq.Load(dir)
}

func isT5(dir string) bool {
	var probe struct {
		ModelType string `json:"model_type"`
	}
	return hfdir.ReadConfig(dir, &probe) == nil && probe.ModelType == "t5"
}

// Task is one entry of a model's task_specific_params: its name
// ("summarization", "translation_en_to_de"), the input prefix it asks for
// ("summarize: "; empty for none).
type Task struct {
	Name   string
	Prefix string
}

// Tasks returns the task_specific_params of dir/config.json in the order
// the file lists them (transformers picks the first translation_* entry
// when asked for "translation"), and the model's own prefix field.
func Tasks(dir string) (tasks []Task, prefix string, err error) {
	path := filepath.Join(dir, hfdir.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var cfg struct {
		Prefix       *string                    `json:"prefix"`
		TaskSpecific map[string]json.RawMessage `json:"task_specific_params"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Prefix != nil {
		prefix = *cfg.Prefix
	}
	// The keys in file order: find each one's first occurrence after the
	// task_specific_params key.
	at := bytes.Index(b, []byte(`"task_specific_params"`))
	for name, raw := range cfg.TaskSpecific {
		var p struct {
			Prefix string `json:"prefix"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, "", fmt.Errorf("%s: task_specific_params.%s: %w", path, name, err)
		}
		tasks = append(tasks, Task{Name: name, Prefix: p.Prefix})
	}
	pos := func(name string) int {
		k, _ := json.Marshal(name)
		if i := bytes.Index(b[max(at, 0):], k); i >= 0 {
			return i
		}
		return len(b)
	}
	sort.SliceStable(tasks, func(i, j int) bool { return pos(tasks[i].Name) < pos(tasks[j].Name) })
	return tasks, prefix, nil
}

// chooseTask returns the task_specific_params entry for task, as
// transformers' pipelines choose it: the named entry, or for "translation"
// the first translation_* entry; none (and no error) when the config has
// no such entry and task was not named explicitly.
func chooseTask(dir, task string, explicit bool) (Task, error) {
	tasks, prefix, err := Tasks(dir)
	if err != nil {
		return Task{}, err
	}
	var names []string
	for _, t := range tasks {
		names = append(names, t.Name)
		if t.Name == task || task == "translation" && strings.HasPrefix(t.Name, "translation_") {
			return t, nil
		}
	}
	if explicit {
		return Task{}, fmt.Errorf("%s: config.json has no task_specific_params entry %q (it has %v)", dir, task, names)
	}
	return Task{Name: task, Prefix: prefix}, nil
}

// generationFor reads the generation settings of dir for a task (its
// generation_config.json, then task_specific_params[task]) over the
// model's defaults.
func generationFor(dir, task string, m Seq2SeqModel) (generate.Options, error) {
	return generate.ReadOptions(dir, task, m.GenerationOptions())
}

// frame returns ids with the model's source tokens around them.
func frame(m Seq2SeqModel, ids []int32) []int32 {
	bos, eos, _ := m.SourceFormat()
	out := make([]int32, 0, len(ids)+2)
	if bos >= 0 {
		out = append(out, bos)
	}
	return append(append(out, ids...), eos)
}
