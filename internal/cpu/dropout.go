package cpu

import (
	"fmt"
	"math"
)

// Dropout sets y[i] = x[i]·scale for the elements it keeps and 0 for the
// ones it drops, each dropped with probability p, and records the
// decisions as bits of kept (bit i%32 of word i/32 set when element i is
// kept; kept needs (len(y)+31)/32 words). scale is 1/(1−p) in inverted
// dropout. The decisions come from a counter-based generator — SplitMix64
// of seed and the index of each pair of elements, 32 bits an element — so
// they are the same however the work is split over threads, and a caller
// draws one seed per call from its own generator.
func Dropout(y, x []float32, kept []uint32, p, scale float32, seed uint64) {
	n := len(y)
	checkLen("Dropout", n, x)
	if len(kept) < (n+31)/32 {
		panic(fmt.Sprintf("cpu.Dropout: kept has %d words, need %d", len(kept), (n+31)/32))
	}
	j := dropoutJobs.get()
	*j = dropoutJob{spans: newSpans(n, elementwiseGrain, 32), y: y, x: x[:n], kept: kept,
		threshold: dropThreshold(p), scale: scale, seed: seed}
	j.run(j)
	dropoutJobs.put(j)
}

// dropThreshold is the 32-bit level below which a uniform draw drops an
// element: p·2³², with p ≥ 1 dropping everything.
func dropThreshold(p float32) uint64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1 << 32
	}
	return uint64(math.Round(float64(p) * (1 << 32)))
}

// DropoutBackward sets dx[i] = dy[i]·scale where kept has element i's
// bit and 0 elsewhere, or adds that to dx when accumulate is set; dx may
// alias dy.
func DropoutBackward(dx, dy []float32, kept []uint32, scale float32, accumulate bool) {
	n := len(dx)
	checkLen("DropoutBackward", n, dy)
	if len(kept) < (n+31)/32 {
		panic(fmt.Sprintf("cpu.DropoutBackward: kept has %d words, need %d", len(kept), (n+31)/32))
	}
	j := dropoutJobs.get()
	*j = dropoutJob{spans: newSpans(n, elementwiseGrain, 32), y: dx, x: dy[:n], kept: kept, scale: scale,
		backward: true, accumulate: accumulate}
	j.run(j)
	dropoutJobs.put(j)
}

type dropoutJob struct {
	spans
	y, x                 []float32
	kept                 []uint32
	threshold            uint64
	scale                float32
	seed                 uint64
	backward, accumulate bool
}

var dropoutJobs jobs[dropoutJob]

func (j *dropoutJob) Do(part int) {
	lo, hi := j.at(part) // lo is a multiple of 32
	if j.backward {
		dropoutBackwardSpan(j.y[lo:hi], j.x[lo:hi], j.kept[lo/32:], j.scale, j.accumulate)
		return
	}
	dropoutSpan(j.y[lo:hi], j.x[lo:hi], j.kept[lo/32:], j.threshold, j.scale, j.seed, uint64(lo/2))
}

// splitMix64 is the output function of SplitMix64 (Steele, Lea and Flood)
// at counter i of the stream seed.
func splitMix64(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// dropoutSpan does Dropout's work for the elements of y from pair index
// pair0 on (an even element index over two); len(y) need not be even.
func dropoutSpan(y, x []float32, kept []uint32, threshold uint64, scale float32, seed, pair0 uint64) {
	x = x[:len(y)]
	for w := 0; w*32 < len(y); w++ {
		var bits uint32
		end := min(32, len(y)-w*32)
		ys, xs := y[w*32:w*32+end], x[w*32:w*32+end]
		for i := 0; i < end; i += 2 {
			r := splitMix64(seed, pair0+uint64(w*16+i/2))
			if uint64(uint32(r)) >= threshold {
				bits |= 1 << i
				ys[i] = xs[i] * scale
			} else {
				ys[i] = 0
			}
			if i+1 < end {
				if r>>32 >= threshold {
					bits |= 1 << (i + 1)
					ys[i+1] = xs[i+1] * scale
				} else {
					ys[i+1] = 0
				}
			}
		}
		kept[w] = bits
	}
}

func dropoutBackwardSpan(dx, dy []float32, kept []uint32, scale float32, accumulate bool) {
	dy = dy[:len(dx)]
	for i := range dx {
		var d float32
		if kept[i>>5]>>(i&31)&1 != 0 {
			d = scale * dy[i]
		}
		if accumulate {
			dx[i] += d
		} else {
			dx[i] = d
		}
	}
}
