package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

var vecSizes = []int{0, 1, 3, 7, 8, 16, 31, 33, 65, 127, 257, 1000}

// bothVecPaths runs f with the assembly vector kernels (where the CPU has
// them) and with the Go ones.
func bothVecPaths(t *testing.T, f func(t *testing.T)) {
	saved := useVecAsm
	defer func() { useVecAsm = saved }()
	for _, asm := range []bool{true, false} {
		if asm && !saved {
			continue
		}
		useVecAsm = asm
		name := "go"
		if asm {
			name = "asm"
		}
		t.Run(name, f)
	}
}

func closeTo(got float32, want, rel, abs float64) bool {
	return math.Abs(float64(got)-want) <= rel*math.Abs(want)+abs
}

func TestAxpyDotAddScale(t *testing.T) {
	bothVecPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 1))
		for _, n := range vecSizes {
			x, y := randSlice(rng, n+3), randSlice(rng, n)
			y0 := append([]float32(nil), y...)
			Axpy(-1.5, x, y)
			for i := range y {
				want := float64(y0[i]) + -1.5*float64(x[i])
				if !closeTo(y[i], want, 1e-6, 1e-6) {
					t.Fatalf("Axpy n=%d: y[%d] = %g, want %g", n, i, y[i], want)
				}
			}
			var want, abs float64
			for i := 0; i < n; i++ {
				want += float64(x[i]) * float64(y[i])
				abs += math.Abs(float64(x[i]) * float64(y[i]))
			}
			if got := Dot(x[:n], y); !closeTo(got, want, 0, float64(n+1)*6e-8*abs+1e-30) {
				t.Fatalf("Dot n=%d = %g, want %g", n, got, want)
			}
			d := make([]float32, n)
			Add(d, x, y)
			Scale(0.5, d)
			for i := range d {
				if want := 0.5 * (x[i] + y[i]); d[i] != want {
					t.Fatalf("Add+Scale n=%d: [%d] = %g, want %g", n, i, d[i], want)
				}
			}
		}
	})
}

func TestExp32(t *testing.T) {
	check := func(x float32) {
		got, want := Exp32(x), math.Exp(float64(x))
		if math.IsInf(want, 1) || want > math.MaxFloat32 {
			if !math.IsInf(float64(got), 1) {
				t.Fatalf("Exp32(%g) = %g, want +Inf", x, got)
			}
			return
		}
		// 2 ulp relative for normal results; subnormal results lose bits.
		tol := 2.5 * 0x1p-23 * want
		if want < 0x1p-126 {
			tol = 0x1p-149
		}
		if math.Abs(float64(got)-want) > tol {
			t.Fatalf("Exp32(%g) = %g, want %g (err %.3g ulp)", x, got, want, math.Abs(float64(got)-want)/(0x1p-23*want))
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 200000; i++ {
		check(rng.Float32()*200 - 104)
	}
	for _, x := range []float32{0, -0, 1, -1, 88.72, 88.73, 89, -87.3, -103.9, -104, -200, 1e-10, -1e-10} {
		check(x)
	}
	if got := Exp32(float32(math.Inf(-1))); got != 0 {
		t.Fatalf("Exp32(-Inf) = %g", got)
	}
	if got := Exp32(float32(math.NaN())); got == got {
		t.Fatalf("Exp32(NaN) = %g", got)
	}
}

func TestTanh32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 200000; i++ {
		x := (rng.Float32()*2 - 1) * 12
		if i%2 == 0 {
			x /= 10
		}
		got, want := Tanh32(x), math.Tanh(float64(x))
		if math.Abs(float64(got)-want) > 4*0x1p-24*math.Max(math.Abs(want), 0x1p-20) {
			t.Fatalf("Tanh32(%g) = %g, want %g", x, got, want)
		}
	}
}

func TestSoftmaxRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, cols := range []int{1, 3, 7, 33, 257, 1000} {
		const rows = 5
		x := randSlice(rng, rows*cols)
		for i := range x {
			x[i] *= 30 // large spread: stability matters
		}
		for i := 0; i < cols; i++ {
			x[2*cols+i] = float32(math.Inf(-1)) // a fully masked row
		}
		if cols > 1 {
			x[3*cols] = float32(math.Inf(-1)) // one masked key
		}
		y := make([]float32, rows*cols)
		SoftmaxRows(y, x, rows, cols)
		for r := 0; r < rows; r++ {
			m := math.Inf(-1)
			for _, v := range x[r*cols : (r+1)*cols] {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range x[r*cols : (r+1)*cols] {
				s += math.Exp(float64(v) - m)
			}
			for i := 0; i < cols; i++ {
				want := 0.0
				if !math.IsInf(m, -1) {
					want = math.Exp(float64(x[r*cols+i])-m) / s
				}
				if !closeTo(y[r*cols+i], want, 1e-6, 1e-9) {
					t.Fatalf("cols=%d row %d: y[%d] = %g, want %g", cols, r, i, y[r*cols+i], want)
				}
			}
		}
		// Backward against the float64 formula dx = y(dy - Σ dy y).
		dy := randSlice(rng, rows*cols)
		dx := make([]float32, rows*cols)
		SoftmaxRowsBackward(dx, y, dy, rows, cols)
		for r := 0; r < rows; r++ {
			var s float64
			for i := 0; i < cols; i++ {
				s += float64(y[r*cols+i]) * float64(dy[r*cols+i])
			}
			for i := 0; i < cols; i++ {
				want := float64(y[r*cols+i]) * (float64(dy[r*cols+i]) - s)
				if !closeTo(dx[r*cols+i], want, 1e-5, 1e-7) {
					t.Fatalf("backward cols=%d: dx[%d] = %g, want %g", cols, i, dx[r*cols+i], want)
				}
			}
		}
	}
}

// TestSoftmaxBackwardFiniteDifferences checks the softmax gradient formula
// itself: the loss L = Σ dy·softmax(x) differentiated numerically.
func TestSoftmaxBackwardFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const cols = 9
	x, dy := randSlice(rng, cols), randSlice(rng, cols)
	y, dx := make([]float32, cols), make([]float32, cols)
	SoftmaxRows(y, x, 1, cols)
	SoftmaxRowsBackward(dx, y, dy, 1, cols)
	loss := func(x []float64) float64 {
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range x {
			s += math.Exp(v - m)
		}
		var l float64
		for i, v := range x {
			l += float64(dy[i]) * math.Exp(v-m) / s
		}
		return l
	}
	checkFiniteDiff(t, "softmax", x, dx, loss)
}

// checkFiniteDiff compares an analytic gradient with central differences of
// a float64 loss at x.
func checkFiniteDiff(t *testing.T, name string, x, grad []float32, loss func([]float64) float64) {
	t.Helper()
	const h = 1e-5
	xd := make([]float64, len(x))
	for i, v := range x {
		xd[i] = float64(v)
	}
	for i := range xd {
		orig := xd[i]
		xd[i] = orig + h
		lp := loss(xd)
		xd[i] = orig - h
		lm := loss(xd)
		xd[i] = orig
		num := (lp - lm) / (2 * h)
		if !closeTo(grad[i], num, 1e-4, 1e-5) {
			t.Fatalf("%s: gradient[%d] = %g, finite differences %g", name, i, grad[i], num)
		}
	}
}

func TestLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, cols := range []int{1, 7, 33, 128, 1000} {
		const rows, eps = 4, 1e-5
		x, gamma, beta := randSlice(rng, rows*cols), randSlice(rng, cols), randSlice(rng, cols)
		for i := range x {
			x[i] = x[i]*3 + 100 // a large mean tests the two-pass variance
		}
		y, mean, rstd := make([]float32, rows*cols), make([]float32, rows), make([]float32, rows)
		LayerNorm(y, x, gamma, beta, mean, rstd, rows, cols, eps)
		ref := func(xs, g, b []float64) []float64 {
			var mu, v float64
			for _, a := range xs {
				mu += a
			}
			mu /= float64(len(xs))
			for _, a := range xs {
				v += (a - mu) * (a - mu)
			}
			v /= float64(len(xs))
			out := make([]float64, len(xs))
			for i, a := range xs {
				out[i] = (a-mu)/math.Sqrt(v+eps)*g[i] + b[i]
			}
			return out
		}
		for r := 0; r < rows; r++ {
			xs := make([]float64, cols)
			for i := range xs {
				xs[i] = float64(x[r*cols+i])
			}
			want := ref(xs, to64(gamma), to64(beta))
			for i := range want {
				if !closeTo(y[r*cols+i], want[i], 1e-5, 1e-5) {
					t.Fatalf("cols=%d: y[%d][%d] = %g, want %g", cols, r, i, y[r*cols+i], want[i])
				}
			}
		}
		// Backward, checked against finite differences of the float64 forward
		// for x, gamma and beta, with loss Σ dy·y.
		dy := randSlice(rng, rows*cols)
		dx := make([]float32, rows*cols)
		dgamma, dbeta := make([]float32, cols), make([]float32, cols)
		LayerNormBackward(dx, dgamma, dbeta, x, gamma, mean, rstd, dy, rows, cols)
		if cols > 128 {
			continue // finite differences are O(cols²) per row
		}
		for r := 0; r < rows; r++ {
			row := r
			checkFiniteDiff(t, "layernorm dx", x[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols], func(xs []float64) float64 {
				var l float64
				for i, v := range ref(xs, to64(gamma), to64(beta)) {
					l += float64(dy[row*cols+i]) * v
				}
				return l
			})
		}
		lossGB := func(g, b []float64) float64 {
			var l float64
			for r := 0; r < rows; r++ {
				xs := make([]float64, cols)
				for i := range xs {
					xs[i] = float64(x[r*cols+i])
				}
				for i, v := range ref(xs, g, b) {
					l += float64(dy[r*cols+i]) * v
				}
			}
			return l
		}
		checkFiniteDiff(t, "layernorm dgamma", gamma, dgamma, func(g []float64) float64 { return lossGB(g, to64(beta)) })
		checkFiniteDiff(t, "layernorm dbeta", beta, dbeta, func(b []float64) float64 { return lossGB(to64(gamma), b) })
	}
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestGELUAndReLU(t *testing.T) {
	bothVecPaths(t, testGELUAndReLU)
}

func testGELUAndReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	n := 1001
	x := randSlice(rng, n)
	for i := range x {
		x[i] *= 6
	}
	x[0], x[1], x[2], x[3], x[4] = 0, -0.0, 40, -40, 1e-4 // saturated tails, tiny input
	gelu := func(v float64) float64 {
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	}
	y, dx, dy := make([]float32, n), make([]float32, n), randSlice(rng, n)
	GELU(y, x)
	GELUBackward(dx, x, dy)
	for i, v := range x {
		if want := gelu(float64(v)); !closeTo(y[i], want, 2e-6, 2e-7) {
			t.Fatalf("GELU(%g) = %g, want %g", v, y[i], want)
		}
		const h = 1e-4
		num := float64(dy[i]) * (gelu(float64(v)+h) - gelu(float64(v)-h)) / (2 * h)
		if !closeTo(dx[i], num, 1e-4, 1e-5) {
			t.Fatalf("GELU'(%g)·dy = %g, finite differences %g", v, dx[i], num)
		}
	}
	ReLU(y, x)
	ReLUBackward(dx, x, dy)
	for i, v := range x {
		wantY, wantDx := float32(0), float32(0)
		if v > 0 {
			wantY, wantDx = v, dy[i]
		}
		if y[i] != wantY || dx[i] != wantDx {
			t.Fatalf("ReLU(%g) = %g, grad %g; want %g, %g", v, y[i], dx[i], wantY, wantDx)
		}
	}
}

func TestAdamW(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const n = 37
	p, m, v := randSlice(rng, n), make([]float32, n), make([]float32, n)
	pd, md, vd := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range p {
		pd[i] = float64(p[i])
	}
	h := AdamWParams{LR: 1e-2, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1}
	for step := 1; step <= 10; step++ {
		g := randSlice(rng, n)
		h.Step = step
		AdamW(p, g, m, v, h)
		lr, b1, b2 := float64(h.LR), float64(h.Beta1), float64(h.Beta2)
		for i := range pd {
			gi := float64(g[i])
			pd[i] *= 1 - lr*float64(h.WeightDecay)
			md[i] = b1*md[i] + (1-b1)*gi
			vd[i] = b2*vd[i] + (1-b2)*gi*gi
			mhat := md[i] / (1 - math.Pow(b1, float64(step)))
			vhat := vd[i] / (1 - math.Pow(b2, float64(step)))
			pd[i] -= lr * mhat / (math.Sqrt(vhat) + float64(h.Eps))
		}
	}
	for i := range p {
		if !closeTo(p[i], pd[i], 1e-5, 1e-6) {
			t.Fatalf("AdamW p[%d] = %g, want %g", i, p[i], pd[i])
		}
	}
}

func TestExpShiftSumAndMax(t *testing.T) {
	bothVecPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		for _, n := range vecSizes {
			x := randSlice(rng, n)
			for i := range x {
				x[i] *= 60
			}
			if n > 2 {
				x[1] = float32(math.Inf(-1)) // a masked score
			}
			orig := append([]float32(nil), x...)
			wantMax := math.Inf(-1)
			for _, v := range orig {
				wantMax = math.Max(wantMax, float64(v))
			}
			if got := Max(x); float64(got) != wantMax {
				t.Fatalf("Max n=%d = %g, want %g", n, got, wantMax)
			}
			shift := float32(wantMax)
			if n == 0 {
				shift = 0
			}
			sum := ExpShiftSum(x, shift)
			var wantSum float64
			for i, v := range orig {
				want := math.Exp(float64(v - shift)) // the kernel subtracts in float32
				if float64(v)-float64(shift) < -87 {
					// Below -87 the vector path flushes subnormal results.
					if x[i] > 1e-37 {
						t.Fatalf("n=%d: exp(%g) = %g, want ~0", n, float64(v)-float64(shift), x[i])
					}
					continue
				}
				wantSum += want
				if !closeTo(x[i], want, 3*0x1p-23, 0) {
					t.Fatalf("n=%d: exp(%g - %g) = %g, want %g", n, v, shift, x[i], want)
				}
			}
			if !closeTo(sum, wantSum, 1e-6*float64(n+1), 1e-30) {
				t.Fatalf("n=%d: sum %g, want %g", n, sum, wantSum)
			}
		}
	})
}

func BenchmarkExpShiftSum(b *testing.B) {
	x := make([]float32, 1024)
	for b.Loop() {
		ExpShiftSum(x, 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1024, "ns/elem")
}

// TestDotsAxpys: one query's scores against keys ks apart (dots) and its
// output from their probabilities (axpys) are, key by key, exactly dot and
// axpy: the decoding step's attention gives the same bits as before it had
// its own kernels. Zero probabilities are skipped (a NaN in their value
// row would otherwise spread); widths straddle the kernels' blocks of 64,
// 32, 8 and 1.
func TestDotsAxpys(t *testing.T) {
	bothVecPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, d := range []int{1, 7, 8, 31, 32, 40, 64, 65, 72, 128, 200} {
			for _, n := range []int{1, 2, 5, 17} {
				ks := d + 3
				q, k := scaledSlice(rng, d, 2), scaledSlice(rng, (n-1)*ks+d, 2)
				got, want := make([]float32, n), make([]float32, n)
				dots(q, k, ks, 0.3, got)
				for c := range want {
					want[c] = 0.3 * dot(q, k[c*ks:c*ks+d])
				}
				for c := range got {
					if got[c] != want[c] {
						t.Fatalf("dots d=%d n=%d key %d: %g, dot %g", d, n, c, got[c], want[c])
					}
				}
				p := scaledSlice(rng, n, 1)
				p[n/2] = 0
				v := append([]float32(nil), k...)
				v[(n/2)*ks] = float32(math.NaN())
				o, ow := scaledSlice(rng, d, 1), make([]float32, d)
				copy(ow, o)
				axpys(p, v, ks, o)
				for c, pc := range p {
					if pc != 0 {
						axpy(pc, v[c*ks:c*ks+d], ow)
					}
				}
				for i := range o {
					if o[i] != ow[i] {
						t.Fatalf("axpys d=%d n=%d [%d]: %g, axpy per key %g", d, n, i, o[i], ow[i])
					}
				}
			}
		}
	})
}
