package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// CheckpointAverage is a hook that keeps the parameters of the last Last
// evaluated steps, each in its own file under Dir, so that a run can end
// with their mean: the checkpoint averaging of "Attention Is All You Need"
// (its base models were the average of their last five checkpoints). The
// steps kept are in the run's checkpoint, so a resumed run continues the
// same window; a file written after the checkpoint it resumes from is
// written again when its step comes round.
type CheckpointAverage struct {
	Dir    string          `json:"-"` // where the parameter files go (created if missing)
	Last   int             `json:"-"` // how many evaluated steps the average covers (≥ 1)
	Params []*autograd.Var `json:"-"` // the parameters, in the order Average returns them

	Steps []int `json:"steps"` // the evaluated steps kept, oldest first
}

// Name implements Hook.
func (a *CheckpointAverage) Name() string { return "checkpoint_average" }

func (a *CheckpointAverage) file(step int) string {
	return filepath.Join(a.Dir, "step-"+strconv.Itoa(step)+".safetensors")
}

// AfterStep writes the parameters of an evaluated step (one with a
// validation loss) and removes the files that fell out of the window.
func (a *CheckpointAverage) AfterStep(m Metrics) error {
	if m.ValLoss == nil {
		return nil
	}
	if a.Last < 1 {
		return fmt.Errorf("checkpoint averaging over %d steps: it needs at least one", a.Last)
	}
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return err
	}
	tensors := make([]tensor.NamedTensor, len(a.Params))
	for i, p := range a.Params {
		tensors[i] = tensor.NamedTensor{Name: p.Name, Tensor: p.Value}
	}
	if err := tensor.WriteSafetensors(a.file(m.Step), tensors, map[string]string{"step": strconv.Itoa(m.Step)}); err != nil {
		return fmt.Errorf("checkpoint averaging: %w", err)
	}
	if n := len(a.Steps); n > 0 && a.Steps[n-1] == m.Step {
		return nil // the same step again (a resumed run's last)
	}
	a.Steps = append(a.Steps, m.Step)
	for len(a.Steps) > a.Last {
		if err := os.Remove(a.file(a.Steps[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		a.Steps = a.Steps[1:]
	}
	return nil
}

// Average reads the kept steps' files back and returns the mean of each
// parameter, in Params' order (MeanParams).
func (a *CheckpointAverage) Average() ([]*tensor.Tensor, error) {
	if len(a.Steps) == 0 {
		return nil, errors.New("checkpoint averaging: no evaluated step kept yet")
	}
	paths := make([]string, len(a.Steps))
	for i, step := range a.Steps {
		paths[i] = a.file(step)
	}
	mean, err := MeanParams(paths, "", a.Params)
	if err != nil {
		return nil, fmt.Errorf("checkpoint averaging: %w", err)
	}
	return mean, nil
}

// MeanParams returns, for each of params, the mean of the tensors named
// prefix+its name in the safetensors files at paths, accumulated in
// float64 (the trainer's checkpoints name parameters "param."+name). A
// missing or damaged file, or a tensor missing from it or of another
// shape, is an error naming the file and the tensor.
func MeanParams(paths []string, prefix string, params []*autograd.Var) ([]*tensor.Tensor, error) {
	if len(paths) == 0 {
		return nil, errors.New("no files to average")
	}
	sums := make([][]float64, len(params))
	for i, p := range params {
		sums[i] = make([]float64, p.Value.Len())
	}
	for _, path := range paths {
		ts, err := readParams(path, prefix, params)
		if err != nil {
			return nil, err
		}
		for i, t := range ts {
			for j, v := range t.Data() {
				sums[i][j] += float64(v)
			}
		}
	}
	out := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		t := tensor.New(p.Value.Shape()...)
		d := t.Data()
		for j, s := range sums[i] {
			d[j] = float32(s / float64(len(paths)))
		}
		out[i] = t
	}
	return out, nil
}

// readParams reads, for each of params, the tensor named prefix+its name
// from the safetensors file at path; a missing tensor or one of another
// shape is an error naming the file and the tensor.
func readParams(path, prefix string, params []*autograd.Var) ([]*tensor.Tensor, error) {
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	out := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		t, err := f.Tensor(prefix + p.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !t.SameShape(p.Value) {
			return nil, fmt.Errorf("%s: %s is %v, the model's is %v", path, p.Name, t.Shape(), p.Value.Shape())
		}
		out[i] = t
	}
	return out, nil
}

// State implements Hook.
func (a *CheckpointAverage) State() ([]byte, error) { return json.Marshal(a) }

// SetState implements Hook.
func (a *CheckpointAverage) SetState(b []byte) error { return json.Unmarshal(b, a) }

// ChooseWindow picks how many of the last kept steps to average: for each
// k from 1 to len(Steps) it sets Params to the mean of the last k steps'
// parameters (accumulated in float64, each file read once, newest first)
// and calls loss, the validation loss of the model those parameters
// belong to. It returns the k with the lowest loss (the smaller k on a
// tie) and every window's loss (losses[k-1]), and leaves Params holding
// that window's mean. The window is chosen on validation data, as the
// best step is; a longer one averages out more of the noise of a high
// learning rate and reaches back to older, worse parameters.
func (a *CheckpointAverage) ChooseWindow(loss func() (float64, error)) (k int, losses []float64, err error) {
	if len(a.Steps) == 0 {
		return 0, nil, errors.New("checkpoint averaging: no evaluated step kept yet")
	}
	sums := make([][]float64, len(a.Params))
	best := make([][]float32, len(a.Params))
	for i, p := range a.Params {
		sums[i] = make([]float64, p.Value.Len())
		best[i] = make([]float32, p.Value.Len())
	}
	for n := 1; n <= len(a.Steps); n++ {
		ts, err := readParams(a.file(a.Steps[len(a.Steps)-n]), "", a.Params)
		if err != nil {
			return 0, nil, fmt.Errorf("checkpoint averaging: %w", err)
		}
		for i, t := range ts {
			d := a.Params[i].Value.Data()
			for j, v := range t.Data() {
				sums[i][j] += float64(v)
				d[j] = float32(sums[i][j] / float64(n))
			}
		}
		l, err := loss()
		if err != nil {
			return 0, nil, fmt.Errorf("checkpoint averaging over the last %d steps: %w", n, err)
		}
		losses = append(losses, l)
		if k == 0 || l < losses[k-1] {
			k = n
			for i, p := range a.Params {
				copy(best[i], p.Value.Data())
			}
		}
	}
	for i, p := range a.Params {
		copy(p.Value.Data(), best[i])
	}
	return k, losses, nil
}
