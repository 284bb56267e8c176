// Package optim holds the optimizers (SGD with momentum, Adam, AdamW),
// global gradient-norm clipping and learning-rate schedules (the paper's,
// warmup + cosine, constant) that the training loop applies to a model's
// parameters after each backward pass.
package optim

import (
	"fmt"
	"math"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr.
	Step(lr float32)
	// State returns the optimizer's tensors (moments, ...) by name and its
	// step count, for checkpoints; SetState restores them.
	State() ([]tensor.NamedTensor, int)
	SetState(get func(name string) (*tensor.Tensor, error), step int) error
}

// DecaysByDefault is the default weight-decay rule: matrices (embeddings,
// projections) decay; vectors (biases, layer-norm gains) do not.
func DecaysByDefault(p *autograd.Var) bool { return p.Value.Dims() >= 2 }

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter), with
// PyTorch's arithmetic (see cpu.AdamW). With WeightDecay 0 it is Adam.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float32
	// Decay chooses the parameters that weight decay applies to
	// (DecaysByDefault if nil).
	Decay  func(*autograd.Var) bool
	params []*autograd.Var
	m, v   []*tensor.Tensor
	step   int
}

// NewAdamW returns AdamW over params with PyTorch's defaults for eps (1e-8).
func NewAdamW(params []*autograd.Var, beta1, beta2, weightDecay float32) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: 1e-8, WeightDecay: weightDecay, params: params}
	for _, p := range params {
		o.m = append(o.m, tensor.New(p.Value.Shape()...))
		o.v = append(o.v, tensor.New(p.Value.Shape()...))
	}
	return o
}

// NewAdam returns Adam (no weight decay).
func NewAdam(params []*autograd.Var, beta1, beta2 float32) *AdamW {
	return NewAdamW(params, beta1, beta2, 0)
}

// Step applies one AdamW update.
func (o *AdamW) Step(lr float32) {
	o.step++
	decay := o.Decay
	if decay == nil {
		decay = DecaysByDefault
	}
	for i, p := range o.params {
		wd := float32(0)
		if decay(p) {
			wd = o.WeightDecay
		}
		cpu.AdamW(p.Value.Data(), p.Grad.Data(), o.m[i].Data(), o.v[i].Data(),
			cpu.AdamWParams{LR: lr, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: wd, Step: o.step})
	}
}

// State returns the moments as "adam.m.<param>" and "adam.v.<param>".
func (o *AdamW) State() ([]tensor.NamedTensor, int) {
	var out []tensor.NamedTensor
	for i, p := range o.params {
		out = append(out, tensor.NamedTensor{Name: "adam.m." + p.Name, Tensor: o.m[i]}, tensor.NamedTensor{Name: "adam.v." + p.Name, Tensor: o.v[i]})
	}
	return out, o.step
}

// SetState restores what State saved.
func (o *AdamW) SetState(get func(string) (*tensor.Tensor, error), step int) error {
	for i, p := range o.params {
		for _, x := range []struct {
			name string
			dst  *tensor.Tensor
		}{{"adam.m." + p.Name, o.m[i]}, {"adam.v." + p.Name, o.v[i]}} {
			t, err := get(x.name)
			if err != nil {
				return err
			}
			if !t.SameShape(x.dst) {
				return fmt.Errorf("optimizer state %q has shape %v, want %v", x.name, t.Shape(), x.dst.Shape())
			}
			copy(x.dst.Data(), t.Data())
		}
	}
	o.step = step
	return nil
}

// SGD is stochastic gradient descent with momentum μ (PyTorch's form:
// b ← μ·b + g, p ← p - lr·b) and optional L2 weight decay added to g.
type SGD struct {
	Momentum, WeightDecay float32
	params                []*autograd.Var
	buf                   []*tensor.Tensor
	step                  int
}

// NewSGD returns SGD over params.
func NewSGD(params []*autograd.Var, momentum, weightDecay float32) *SGD {
	o := &SGD{Momentum: momentum, WeightDecay: weightDecay, params: params}
	for _, p := range params {
		o.buf = append(o.buf, tensor.New(p.Value.Shape()...))
	}
	return o
}

// Step applies one SGD update.
func (o *SGD) Step(lr float32) {
	o.step++
	for i, p := range o.params {
		pv, g, b := p.Value.Data(), p.Grad.Data(), o.buf[i].Data()
		for j := range pv {
			gj := g[j] + o.WeightDecay*pv[j]
			if o.Momentum != 0 {
				if o.step == 1 {
					b[j] = gj
				} else {
					b[j] = o.Momentum*b[j] + gj
				}
				gj = b[j]
			}
			pv[j] -= lr * gj
		}
	}
}

// State returns the momentum buffers as "sgd.momentum.<param>".
func (o *SGD) State() ([]tensor.NamedTensor, int) {
	var out []tensor.NamedTensor
	for i, p := range o.params {
		out = append(out, tensor.NamedTensor{Name: "sgd.momentum." + p.Name, Tensor: o.buf[i]})
	}
	return out, o.step
}

// SetState restores what State saved.
func (o *SGD) SetState(get func(string) (*tensor.Tensor, error), step int) error {
	for i, p := range o.params {
		t, err := get("sgd.momentum." + p.Name)
		if err != nil {
			return err
		}
		if !t.SameShape(o.buf[i]) {
			return fmt.Errorf("optimizer state for %q has shape %v, want %v", p.Name, t.Shape(), o.buf[i].Shape())
		}
		copy(o.buf[i].Data(), t.Data())
	}
	o.step = step
	return nil
}

// GradNorm returns the global L2 norm of the parameters' gradients,
// accumulated in float64.
func GradNorm(params []*autograd.Var) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad.Data() {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// ClipGradNorm scales all gradients so that their global norm is at most
// maxNorm (as torch.nn.utils.clip_grad_norm_) and returns the norm before
// clipping.
func ClipGradNorm(params []*autograd.Var, maxNorm float64) float64 {
	n := GradNorm(params)
	if maxNorm > 0 && n > maxNorm {
		s := float32(maxNorm / (n + 1e-6))
		for _, p := range params {
			cpu.Scale(s, p.Grad.Data())
		}
	}
	return n
}
