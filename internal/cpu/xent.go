package cpu

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropy computes, for each of the rows of cols logits whose
// target is not ignore, the softmax into the same row of probs and the
// cross-entropy −log softmax[target] into loss[r]; with label smoothing
// eps the target distribution is (1−eps)·onehot + eps/cols, as PyTorch's
// label_smoothing. Rows whose target is ignore get loss 0 and keep their
// probs. Targets must lie in [0, cols) or be ignore. Rows are split over
// the kernels' threads; each row's arithmetic is the same however they
// are split.
func SoftmaxCrossEntropy(probs, logits []float32, targets []int32, ignore int32, eps float32, loss []float64, rows, cols int) {
	checkLen("SoftmaxCrossEntropy", rows*cols, probs, logits)
	if len(targets) < rows || len(loss) < rows {
		panic(fmt.Sprintf("cpu.SoftmaxCrossEntropy: %d targets and %d losses for %d rows", len(targets), len(loss), rows))
	}
	j := rowsJobs.get()
	*j = rowsJob{fn: xentRows, cols: cols, f: [6][]float32{probs, logits}, ids: targets, ignore: ignore, losses: loss, eps: eps}
	j.runRows(rows)
}

// SoftmaxCrossEntropyBackward sets each counted row of dl to
// scale·(probs − (1−eps)·onehot(target) − eps/cols), or adds that to it
// when accumulate is set; rows whose target is ignore are set to zero (or
// left as they are when accumulating).
func SoftmaxCrossEntropyBackward(dl, probs []float32, targets []int32, ignore int32, eps, scale float32, accumulate bool, rows, cols int) {
	checkLen("SoftmaxCrossEntropyBackward", rows*cols, dl, probs)
	if len(targets) < rows {
		panic(fmt.Sprintf("cpu.SoftmaxCrossEntropyBackward: %d targets for %d rows", len(targets), rows))
	}
	j := rowsJobs.get()
	*j = rowsJob{fn: xentBackwardRows, cols: cols, f: [6][]float32{dl, probs}, ids: targets, ignore: ignore, eps: eps,
		scale: scale, accumulate: accumulate}
	j.runRows(rows)
}

func xentRows(j *rowsJob, r0, r1 int) {
	probs, logits, targets, ignore, loss := j.f[0], j.f[1], j.ids, j.ignore, j.losses
	cols, eps := j.cols, j.eps
	for r := r0; r < r1; r++ {
		t := targets[r]
		if t == ignore {
			loss[r] = 0
			continue
		}
		row := logits[r*cols : (r+1)*cols]
		p := probs[r*cols : (r+1)*cols]
		copy(p, row)
		m := maxOf(p)
		sum := float64(expShiftSum(p, m))
		lse := float64(m) + math.Log(sum)
		Scale(float32(1/sum), p)
		l := lse - float64(row[t])
		if eps != 0 {
			var mean float64
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(cols)
			l = (1-float64(eps))*l + float64(eps)*(lse-mean)
		}
		loss[r] = l
	}
}

func xentBackwardRows(j *rowsJob, r0, r1 int) {
	dl, probs, targets, ignore := j.f[0], j.f[1], j.ids, j.ignore
	scale, accumulate := j.scale, j.accumulate
	cols, eps := j.cols, j.eps
	for r := r0; r < r1; r++ {
		t := targets[r]
		drow := dl[r*cols : (r+1)*cols]
		if t == ignore {
			if !accumulate {
				clear(drow)
			}
			continue
		}
		p := probs[r*cols : (r+1)*cols]
		if accumulate {
			axpy(scale, p, drow)
		} else {
			p = p[:len(drow)]
			for i, v := range p {
				drow[i] = float32(scale * v)
			}
		}
		drow[t] -= scale * (1 - eps)
		if eps != 0 {
			u := scale * eps / float32(cols)
			for i := range drow {
				drow[i] -= u
			}
		}
	}
}
