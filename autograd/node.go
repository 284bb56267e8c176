package autograd

import (
	"fmt"

	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/tensor"
)

type opKind uint8

const (
	opMatMul opKind = iota + 1
	opLinear
	opAdd
	opScale
	opReshape
	opNarrow
	opLayerNorm
	opGELU
	opGELUErf
	opSiLU
	opReLU
	opDropout
	opEmbedding
	opSoftmax
	opAttention
	opAttentionQKV
	opCrossEntropy
	opRMSNorm
	opMul
	opRelativeBias
	opTanh
	opMeanPool
	opMaxPool
	opNormalize
	opConcatRows
	opGatherRows
	opSoftCrossEntropy
	opPointerMix
	opPointerCrossEntropy
)

// node is one recorded operation: which, its inputs and output, and what
// its backward pass needs, each in a field named for what it holds. One
// concrete struct (no closures, no interfaces) keeps recording free of
// allocations; an operation uses only the fields its backward reads.
type node struct {
	op  opKind
	out *Var
	in  [4]*Var

	m, k, n int // GEMM sizes: rows, inner and output width (MatMul, Linear)
	rows    int // rows of the last dimension (LayerNorm, Softmax, CrossEntropy)
	cols    int // width of the last dimension (LayerNorm, Softmax, CrossEntropy, Embedding, Narrow, GatherRows)
	offset  int // Narrow: first column taken; PointerMix: positions per source

	scale float32 // Scale's factor; Embedding's multiplier; PointerMix: 1/√d
	eps   float32 // CrossEntropy's label smoothing

	mean, rstd []float32 // LayerNorm, RMSNorm: per-row statistics of the forward pass
	mask       []float32 // MeanPool: per-position weights; MaxPool: each maximum's position (−1: padding); SoftCrossEntropy: the target distributions; PointerMix: the copy attention
	kept       []uint32  // Dropout: one bit per element, set where it was kept (scaled by scale)
	probs      []float32 // CrossEntropy: softmax of the logits
	lse        []float32 // Attention: per-query log-sum-exp; PointerMix: per-row log-sum-exp of the logits

	ids     []int32 // Embedding: the ids looked up; CrossEntropy: the targets; PointerMix: the source ids; RelativeBias: the buckets; GatherRows: the rows
	counted int     // CrossEntropy: targets not ignored
	ignore  int32   // CrossEntropy: the ignored target

	attn cpu.Attention // Attention: sizes and masks

	pad     []bool  // PointerMix: the sources' padding
	owner   []int32 // PointerMix: each row's source
	targets []int32 // PointerCrossEntropy: the targets
}

// backward runs one node's backward pass, writing or adding into its
// inputs' gradients. Each case is the backward of the operation of that
// name, written beside its forward.
func (g *Graph) backward(n *node) {
	switch n.op {
	case opMatMul:
		g.matMulBackward(n)
	case opLinear:
		g.linearBackward(n)
	case opAdd:
		g.addBackward(n)
	case opScale, opReshape:
		g.passBackward(n)
	case opNarrow:
		g.narrowBackward(n)
	case opConcatRows:
		g.concatRowsBackward(n)
	case opGatherRows:
		g.gatherRowsBackward(n)
	case opLayerNorm:
		g.layerNormBackward(n)
	case opGELU, opGELUErf, opSiLU:
		g.activationBackward(n)
	case opReLU:
		g.reluBackward(n)
	case opTanh:
		g.tanhBackward(n)
	case opMeanPool:
		g.meanPoolBackward(n)
	case opMaxPool:
		g.maxPoolBackward(n)
	case opNormalize:
		g.normalizeBackward(n)
	case opDropout:
		g.dropoutBackward(n)
	case opEmbedding:
		g.embeddingBackward(n)
	case opSoftmax:
		g.softmaxBackward(n)
	case opAttention:
		g.attentionBackward(n)
	case opAttentionQKV:
		g.attentionQKVBackward(n)
	case opSoftCrossEntropy:
		g.softCrossEntropyBackward(n)
	case opCrossEntropy:
		g.crossEntropyBackward(n)
	case opRMSNorm:
		g.rmsNormBackward(n)
	case opMul:
		g.mulBackward(n)
	case opRelativeBias:
		g.relativeBiasBackward(n)
	case opPointerMix:
		g.pointerMixBackward(n)
	case opPointerCrossEntropy:
		g.pointerCrossEntropyBackward(n)
	default:
		panic(fmt.Sprintf("autograd: no backward for op %d", n.op))
	}
}

// needs reports whether input i of n wants a gradient.
func (n *node) needs(i int) bool { return n.in[i] != nil && n.in[i].RequiresGrad }

func shapeErr(op string, reason string, vs ...*Var) error {
	shapes := make([][]int, len(vs))
	for i, v := range vs {
		if v != nil {
			shapes[i] = v.Shape()
		}
	}
	return &tensor.ShapeError{Op: op, Shapes: shapes, Reason: reason}
}

// rows returns the product of all but the last dimension.
func rows(v *Var) int {
	if v.Value.Dims() == 0 {
		return 1
	}
	return v.Value.Len() / max(1, v.Value.Dim(-1))
}

func lastDim(v *Var) int {
	if v.Value.Dims() == 0 {
		return 1
	}
	return v.Value.Dim(-1)
}

// withLast returns v's shape with the last dimension replaced by n, in a
// small reused buffer.
func withLast(shape []int, n int, buf *[8]int) []int {
	s := append(buf[:0], shape...)
	s[len(s)-1] = n
	return s
}
