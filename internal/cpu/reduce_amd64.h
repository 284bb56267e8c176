// REDUCE8 sums the eight float32 lanes of Y into the low lane of X (Y's
// lower half), with T as scratch: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)),
// the order the Go twins (dotGo, dotI8Go) reproduce.
#define REDUCE8(Y, X, T) \
	VEXTRACTF128 $1, Y, T \
	VADDPS T, X, X \
	VMOVHLPS X, T, T \
	VADDPS T, X, X \
	VMOVSHDUP X, T \
	VADDSS T, X, X
