package cpu

import (
	"math"
	"testing"
)

// TestGELUErfAccuracy compares the float32 exact GELU and its derivative
// with float64 math.Erfc over [-12, 12]: the value within 3e-5 relative
// everywhere (the negative tail keeps its precision; what is lost there is
// the float32 rounding of x²/2 inside the exponential), the derivative
// within 1e-6 absolute plus 3e-5 relative.
func TestGELUErfAccuracy(t *testing.T) {
	const n = 200001
	x, y, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(-12 + 24*float64(i)/float64(n-1))
		dy[i] = 1
	}
	GELUErf(y, x)
	GELUErfBackward(dx, x, dy)
	worstY, worstD := 0.0, 0.0
	for i, v := range x {
		xv := float64(v)
		want := 0.5 * xv * math.Erfc(-xv/math.Sqrt2)
		wantD := 0.5*math.Erfc(-xv/math.Sqrt2) + xv*math.Exp(-0.5*xv*xv)/math.Sqrt(2*math.Pi)
		if want != 0 {
			worstY = math.Max(worstY, math.Abs(float64(y[i])-want)/math.Max(math.Abs(want), 1e-30))
		}
		worstD = math.Max(worstD, math.Abs(float64(dx[i])-wantD)/(1e-6/3e-5+math.Abs(wantD)))
	}
	t.Logf("worst relative error: GELU %.2g, derivative %.2g", worstY, worstD)
	if worstY > 3e-5 || worstD > 3e-5 {
		t.Errorf("exact GELU: worst relative error %.3g (value), %.3g (derivative)", worstY, worstD)
	}
}
