package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// RNG is a seeded random number generator (PCG) for initialisation and
// dropout. Its state can be saved and restored (MarshalBinary,
// UnmarshalBinary) so that a resumed training run draws the same numbers.
type RNG struct {
	src *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a generator seeded with seed: the same seed gives the same
// sequence on every machine.
func NewRNG(seed uint64) *RNG {
	src := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	return &RNG{src: src, r: rand.New(src)}
}

// Seed resets the generator to the state NewRNG(seed) starts in.
func (g *RNG) Seed(seed uint64) { g.src.Seed(seed, 0x9e3779b97f4a7c15) }

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Uint64 returns a uniform 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// IntN returns a uniform value in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Normal returns a standard normal value.
func (g *RNG) Normal() float64 { return g.r.NormFloat64() }

// MarshalBinary saves the generator's state.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error {
	if err := g.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("tensor.RNG: restoring state: %w", err)
	}
	return nil
}

// FillUniform sets every element to a uniform value in [lo, hi).
func (t *Tensor) FillUniform(g *RNG, lo, hi float32) {
	for i := range t.data {
		t.data[i] = lo + (hi-lo)*g.Float32()
	}
}

// FillNormal sets every element to a normal value with the given mean and
// standard deviation.
//
// A nil g leaves t as it is: a loader that is about to overwrite every value
// skips the drawing.
func (t *Tensor) FillNormal(g *RNG, mean, std float32) {
	if g == nil {
		return
	}
	for i := range t.data {
		t.data[i] = mean + std*float32(g.Normal())
	}
}

// Fans returns the fan-in and fan-out of a weight of the given shape, as
// PyTorch computes them: a 2-D [out, in] weight has fan-in in and fan-out
// out; further dimensions multiply both (receptive field).
func Fans(shape []int) (fanIn, fanOut int, err error) {
	if len(shape) < 2 {
		return 0, 0, &ShapeError{Op: "Fans", Shapes: [][]int{shape}, Reason: "fan-in and fan-out need at least 2 dimensions"}
	}
	field := 1
	for _, d := range shape[2:] {
		field *= d
	}
	return shape[1] * field, shape[0] * field, nil
}

// XavierUniform fills t (a weight [out, in, ...]) from U(-a, a) with
// a = gain·sqrt(6/(fan_in+fan_out)) (Glorot and Bengio).
func (t *Tensor) XavierUniform(g *RNG, gain float64) error {
	in, out, err := Fans(t.shape)
	if err != nil {
		return err
	}
	a := float32(gain * math.Sqrt(6/float64(in+out)))
	t.FillUniform(g, -a, a)
	return nil
}

// XavierNormal fills t from N(0, std²) with std = gain·sqrt(2/(fan_in+fan_out)).
func (t *Tensor) XavierNormal(g *RNG, gain float64) error {
	in, out, err := Fans(t.shape)
	if err != nil {
		return err
	}
	t.FillNormal(g, 0, float32(gain*math.Sqrt(2/float64(in+out))))
	return nil
}

// KaimingUniform fills t from U(-b, b) with b = gain·sqrt(3/fan_in) (He et
// al.); gain is sqrt(2) for ReLU layers. PyTorch's default for nn.Linear is
// gain = sqrt(1/3), giving b = 1/sqrt(fan_in).
func (t *Tensor) KaimingUniform(g *RNG, gain float64) error {
	in, _, err := Fans(t.shape)
	if err != nil {
		return err
	}
	b := float32(gain * math.Sqrt(3/float64(in)))
	t.FillUniform(g, -b, b)
	return nil
}

// KaimingNormal fills t from N(0, std²) with std = gain/sqrt(fan_in).
func (t *Tensor) KaimingNormal(g *RNG, gain float64) error {
	in, _, err := Fans(t.shape)
	if err != nil {
		return err
	}
	t.FillNormal(g, 0, float32(gain/math.Sqrt(float64(in))))
	return nil
}
