package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// splitCases are the kernels split over the pool by spans, each as a
// function that runs it on fresh outputs (inputs made once from the
// seed) and returns every output it writes.
func splitCases() map[string]func() [][]float32 {
	rng := rand.New(rand.NewPCG(31, 7))
	const n = 70001 // spans of 16 and 32 and a ragged end
	const rows, cols = 517, 97
	x, y, dy := randSlice(rng, n), randSlice(rng, n), randSlice(rng, n)
	lx, ldy := randSlice(rng, rows*cols), randSlice(rng, rows*cols)
	gamma, beta := randSlice(rng, cols), randSlice(rng, cols)
	const vocab = 701
	logits := scaledSlice(rng, 300*vocab, 4)
	targets := make([]int32, 300)
	for i := range targets {
		targets[i] = int32(rng.IntN(vocab))
		if i%7 == 3 {
			targets[i] = -100
		}
	}
	probs := make([]float32, len(logits))
	SoftmaxCrossEntropy(probs, logits, targets, -100, 0.1, make([]float64, 300), 300, vocab)
	mask := make([]uint32, (n+31)/32)
	Dropout(make([]float32, n), x, mask, 0.3, 1/0.7, 5)
	unary := func(f func(y, x []float32)) func() [][]float32 {
		return func() [][]float32 { out := make([]float32, n); f(out, x); return [][]float32{out} }
	}
	binary := func(f func(dx, x, dy []float32), acc bool) func() [][]float32 {
		return func() [][]float32 {
			out := make([]float32, n)
			if acc {
				copy(out, y)
			}
			f(out, x, dy)
			return [][]float32{out}
		}
	}
	return map[string]func() [][]float32{
		"Add":             binary(Add, false),
		"ReLU":            unary(ReLU),
		"ReLUBackward":    binary(ReLUBackward, false),
		"ReLUBackwardAdd": binary(ReLUBackwardAdd, true),
		"GELU":            unary(GELU),
		"GELUBackward":    binary(GELUBackward, false),
		"GELUErf":         unary(GELUErf),
		"GELUErfBackward": binary(GELUErfBackward, false),
		"LayerNorm": func() [][]float32 {
			out, mean, rstd := make([]float32, rows*cols), make([]float32, rows), make([]float32, rows)
			LayerNorm(out, lx, gamma, beta, mean, rstd, rows, cols, 1e-5)
			return [][]float32{out, mean, rstd}
		},
		"LayerNormBackward": func() [][]float32 {
			mean, rstd := make([]float32, rows), make([]float32, rows)
			LayerNorm(make([]float32, rows*cols), lx, gamma, beta, mean, rstd, rows, cols, 1e-5)
			dx, dg, db := make([]float32, rows*cols), make([]float32, cols), make([]float32, cols)
			copy(dg, beta) // accumulated into
			LayerNormBackward(dx, dg, db, lx, gamma, mean, rstd, ldy, rows, cols)
			return [][]float32{dx, dg, db}
		},
		"FillRows": func() [][]float32 {
			out := make([]float32, rows*cols)
			FillRows(out, gamma, rows)
			return [][]float32{out}
		},
		"Dropout": func() [][]float32 {
			out, kept := make([]float32, n), make([]uint32, (n+31)/32)
			Dropout(out, x, kept, 0.3, 1/0.7, 11)
			return [][]float32{out, wordsAsFloats(kept)}
		},
		"DropoutBackward": func() [][]float32 {
			out := make([]float32, n)
			DropoutBackward(out, dy, mask, 1/0.7, false)
			acc := append([]float32(nil), y...)
			DropoutBackward(acc, dy, mask, 1/0.7, true)
			return [][]float32{out, acc}
		},
		"SoftmaxCrossEntropy": func() [][]float32 {
			p, loss := make([]float32, len(logits)), make([]float64, 300)
			SoftmaxCrossEntropy(p, logits, targets, -100, 0.1, loss, 300, vocab)
			l32 := make([]float32, 300)
			for i, v := range loss {
				l32[i] = float32(v)
			}
			return [][]float32{p, l32}
		},
		"SoftmaxCrossEntropyBackward": func() [][]float32 {
			dl := make([]float32, len(logits))
			SoftmaxCrossEntropyBackward(dl, probs, targets, -100, 0.1, 0.25, false, 300, vocab)
			acc := append([]float32(nil), logits...)
			SoftmaxCrossEntropyBackward(acc, probs, targets, -100, 0.1, 0.25, true, 300, vocab)
			return [][]float32{dl, acc}
		},
	}
}

func wordsAsFloats(w []uint32) []float32 {
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = math.Float32frombits(v)
	}
	return out
}

// TestSplitKernelsThreadsBitIdentical: every kernel split over the pool
// gives the same bits on one thread (the serial loop, which the kernels'
// own tests check against references) as on three (spans, ragged ends).
func TestSplitKernelsThreadsBitIdentical(t *testing.T) {
	defer SetThreads(0)
	for name, run := range splitCases() {
		SetThreads(1)
		one := run()
		SetThreads(3)
		three := run()
		for o := range one {
			for i := range one[o] {
				if math.Float32bits(one[o][i]) != math.Float32bits(three[o][i]) {
					t.Fatalf("%s: output %d element %d: 1 thread %g, 3 threads %g", name, o, i, one[o][i], three[o][i])
				}
			}
		}
	}
}

// TestSplitKernelsAllocateNothing: the jobs come from free lists.
func TestSplitKernelsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	defer SetThreads(0)
	SetThreads(2)
	rng := rand.New(rand.NewPCG(3, 3))
	const rows, cols = 400, 128
	x, out := randSlice(rng, rows*cols), make([]float32, rows*cols)
	gamma, beta, mean, rstd := randSlice(rng, cols), randSlice(rng, cols), make([]float32, rows), make([]float32, rows)
	kept := make([]uint32, rows*cols/32)
	targets, loss := make([]int32, rows), make([]float64, rows)
	for name, f := range map[string]func(){
		"Add":               func() { Add(out, x, x) },
		"ReLU":              func() { ReLU(out, x) },
		"LayerNorm":         func() { LayerNorm(out, x, gamma, beta, mean, rstd, rows, cols, 1e-5) },
		"LayerNormBackward": func() { LayerNormBackward(out, gamma, beta, x, gamma, mean, rstd, x, rows, cols) },
		"Dropout":           func() { Dropout(out, x, kept, 0.1, 1/0.9, 1) },
		"DropoutBackward":   func() { DropoutBackward(out, x, kept, 1/0.9, true) },
		"FillRows":          func() { FillRows(out, gamma, rows) },
		"SoftmaxCrossEntropy": func() {
			SoftmaxCrossEntropy(out, x, targets, -100, 0.1, loss, rows, cols)
		},
	} {
		f()
		if a := testing.AllocsPerRun(10, f); a != 0 {
			t.Errorf("%s allocates %v times a call", name, a)
		}
	}
}

// TestDropoutRateAndMask: the share dropped is p (within five standard
// deviations), each pair's two halves are independent, the output is x
// scaled where the mask says kept and zero elsewhere, the backward follows
// the same mask, and seeds give different masks.
func TestDropoutRateAndMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	const n = 1<<20 + 7
	x := randSlice(rng, n)
	for _, p := range []float32{0.1, 0.5} {
		y, kept := make([]float32, n), make([]uint32, (n+31)/32)
		scale := 1 / (1 - p)
		Dropout(y, x, kept, p, scale, 42)
		dropped, bothDropped := 0, 0
		for i := range y {
			keep := kept[i/32]>>(i%32)&1 != 0
			switch {
			case keep && y[i] != x[i]*scale:
				t.Fatalf("p %g: element %d kept as %g, want %g", p, i, y[i], x[i]*scale)
			case !keep && y[i] != 0:
				t.Fatalf("p %g: element %d dropped but %g", p, i, y[i])
			}
			if !keep {
				dropped++
				if i%2 == 1 && kept[(i-1)/32]>>((i-1)%32)&1 == 0 {
					bothDropped++
				}
			}
		}
		checkShare := func(what string, got, trials int, want float64) {
			sd := math.Sqrt(want * (1 - want) / float64(trials))
			if share := float64(got) / float64(trials); math.Abs(share-want) > 5*sd {
				t.Errorf("p %g: %s share %.5f, want %.5f ± %.5f", p, what, share, want, 5*sd)
			}
		}
		checkShare("dropped", dropped, n, float64(p))
		checkShare("pair both dropped", bothDropped, n/2, float64(p)*float64(p))
		for _, w := range kept[(n+31)/32-1:] {
			if w>>(n%32) != 0 {
				t.Fatalf("p %g: bits set past the end in the last word %032b", p, w)
			}
		}
		dy, dx := randSlice(rng, n), make([]float32, n)
		DropoutBackward(dx, dy, kept, scale, false)
		for i := range dx {
			want := float32(0)
			if kept[i/32]>>(i%32)&1 != 0 {
				want = dy[i] * scale
			}
			if dx[i] != want {
				t.Fatalf("p %g: backward element %d is %g, want %g", p, i, dx[i], want)
			}
		}
		other := make([]uint32, len(kept))
		Dropout(make([]float32, n), x, other, p, scale, 43)
		same := 0
		for i := range other {
			if other[i] == kept[i] {
				same++
			}
		}
		if same > len(kept)/100 {
			t.Errorf("p %g: seeds 42 and 43 agree on %d of %d mask words", p, same, len(kept))
		}
	}
	y, kept := make([]float32, 100), make([]uint32, 4)
	Dropout(y, x, kept, 0, 1, 1)
	if kept[0] != ^uint32(0) || kept[3] != 1<<4-1 || y[99] != x[99] {
		t.Errorf("p 0: mask %x, last element %g of %g", kept, y[99], x[99])
	}
	Dropout(y, x, kept, 1, 1, 1)
	if kept[0] != 0 || kept[3] != 0 || y[5] != 0 {
		t.Errorf("p 1: mask %x, element 5 %g", kept, y[5])
	}
}

// TestSoftmaxCrossEntropyAgainstFloat64: losses and gradients against a
// float64 reference written from the definition (PyTorch's
// cross_entropy with label_smoothing), ignored rows included.
func TestSoftmaxCrossEntropyAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 5))
	const rows, cols, ignore = 211, 333, -1
	logits := scaledSlice(rng, rows*cols, 6)
	targets := make([]int32, rows)
	for i := range targets {
		targets[i] = int32(rng.IntN(cols))
		if i%5 == 0 {
			targets[i] = ignore
		}
	}
	for _, eps := range []float32{0, 0.1} {
		probs, loss := make([]float32, rows*cols), make([]float64, rows)
		SoftmaxCrossEntropy(probs, logits, targets, ignore, eps, loss, rows, cols)
		const scale = 0.5
		dl := make([]float32, rows*cols)
		for i := range dl {
			dl[i] = 7 // overwritten, or kept on ignored rows when accumulating
		}
		acc := append([]float32(nil), dl...)
		SoftmaxCrossEntropyBackward(dl, probs, targets, ignore, eps, scale, false, rows, cols)
		SoftmaxCrossEntropyBackward(acc, probs, targets, ignore, eps, scale, true, rows, cols)
		for r := 0; r < rows; r++ {
			row := logits[r*cols : (r+1)*cols]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - m)
			}
			lse := m + math.Log(s)
			if targets[r] == ignore {
				if loss[r] != 0 || dl[r*cols] != 0 || acc[r*cols] != 7 {
					t.Fatalf("eps %g: ignored row %d: loss %g, gradient %g, accumulated %g", eps, r, loss[r], dl[r*cols], acc[r*cols])
				}
				continue
			}
			var want float64
			for c, v := range row {
				q := float64(eps) / cols
				if int32(c) == targets[r] {
					q += 1 - float64(eps)
				}
				want -= q * (float64(v) - lse)
				g := scale * (math.Exp(float64(v)-lse) - q)
				if math.Abs(float64(dl[r*cols+c])-g) > 1e-6 || math.Abs(float64(acc[r*cols+c])-7-g) > 1e-5 {
					t.Fatalf("eps %g: gradient row %d col %d: %g and %g−7, want %g", eps, r, c, dl[r*cols+c], acc[r*cols+c], g)
				}
			}
			if math.Abs(loss[r]-want) > 1e-5*math.Max(1, want) {
				t.Fatalf("eps %g: row %d loss %g, want %g", eps, r, loss[r], want)
			}
		}
	}
}
