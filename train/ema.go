package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// TensorHook is a Hook whose state holds tensors as well (EMA's averages):
// the trainer writes them into its checkpoint beside the parameters, named
// "hook."+Name()+"."+their own name, and gives them back on resume, so that
// they are as safe (atomic, checksummed) as the parameters are.
type TensorHook interface {
	Hook
	// Tensors returns the state tensors to save (none yet is fine).
	Tensors() []tensor.NamedTensor
	// SetTensors restores them; get reads a tensor by the name Tensors
	// gave it. It is called after SetState.
	SetTensors(get func(name string) (*tensor.Tensor, error)) error
}

// EMA is a hook that keeps an exponential moving average of the
// parameters (Polyak averaging, as fairseq's and timm's EMA keep it),
// from step Start on: after each step, acc ← Decay·acc + (1−Decay)·param
// from acc = 0, and the average is acc/(1−Decayⁿ) after n steps (Adam's
// correction of the start's bias, so that the first steps are not
// overweighted as copying them in would do). A decay d averages over about
// 1/(1−d) steps, weights falling off geometrically: beside
// CheckpointAverage's uniform mean of evaluated steps, it is the per-step
// way to settle weights that a high learning rate keeps moving. It never
// touches the parameters the model trains with.
type EMA struct {
	Decay  float64         `json:"decay"`
	Start  int             `json:"start"` // the first step averaged (≤ 1: from the first)
	Params []*autograd.Var `json:"-"`

	Updates int `json:"updates"` // steps folded in so far

	avg []*tensor.Tensor
}

// Name implements Hook; it includes the decay, so that a run can keep
// several.
func (e *EMA) Name() string { return "ema_" + strconv.FormatFloat(e.Decay, 'g', -1, 64) }

// AfterStep folds the step's parameters into the average.
func (e *EMA) AfterStep(m Metrics) error {
	if !(e.Decay > 0 && e.Decay < 1) {
		return fmt.Errorf("EMA decay must be in (0, 1), got %g", e.Decay)
	}
	if m.Step < e.Start {
		return nil
	}
	if e.avg == nil {
		e.avg = make([]*tensor.Tensor, len(e.Params))
		for i, p := range e.Params {
			e.avg[i] = tensor.New(p.Value.Shape()...)
		}
	}
	w := float32(1 - e.Decay)
	for i, p := range e.Params {
		a := e.avg[i].Data()
		for j, v := range p.Value.Data() {
			a[j] += w * (v - a[j])
		}
	}
	e.Updates++
	return nil
}

// Average returns the averages (new tensors), in Params' order. It is an
// error before step Start.
func (e *EMA) Average() ([]*tensor.Tensor, error) {
	if e.avg == nil || e.Updates == 0 {
		return nil, fmt.Errorf("EMA %g: no step averaged yet (it starts at step %d)", e.Decay, e.Start)
	}
	scale := float32(1 / (1 - math.Pow(e.Decay, float64(e.Updates))))
	out := make([]*tensor.Tensor, len(e.avg))
	for i, a := range e.avg {
		out[i] = a.Clone()
		d := out[i].Data()
		for j := range d {
			d[j] *= scale
		}
	}
	return out, nil
}

// State implements Hook.
func (e *EMA) State() ([]byte, error) { return json.Marshal(e) }

// SetState implements Hook.
func (e *EMA) SetState(b []byte) error {
	e.avg = nil
	return json.Unmarshal(b, e)
}

// Tensors implements TensorHook.
func (e *EMA) Tensors() []tensor.NamedTensor {
	out := make([]tensor.NamedTensor, len(e.avg))
	for i, a := range e.avg {
		out[i] = tensor.NamedTensor{Name: e.Params[i].Name, Tensor: a}
	}
	return out
}

// SetTensors implements TensorHook.
func (e *EMA) SetTensors(get func(string) (*tensor.Tensor, error)) error {
	if e.Updates == 0 {
		e.avg = nil
		return nil
	}
	avg := make([]*tensor.Tensor, len(e.Params))
	for i, p := range e.Params {
		t, err := get(p.Name)
		if err != nil {
			return err
		}
		if !t.SameShape(p.Value) {
			return fmt.Errorf("EMA of %s has shape %v, the parameter %v", p.Name, t.Shape(), p.Value.Shape())
		}
		avg[i] = t.Clone()
	}
	e.avg = avg
	return nil
}
