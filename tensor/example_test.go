package tensor_test

import (
	"fmt"
	"log"

	"github.com/goformer/goformer/tensor"
)

func ExampleMatMul() {
	a, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b, _ := tensor.FromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	c, err := tensor.MatMul(a, b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c)

	_, err = tensor.MatMul(a, a)
	fmt.Println(err)
	// Output:
	// Tensor[2 2][4 5 10 11]
	// tensor.MatMul: shapes [2 3] and [2 3]: inner dimensions differ (3 and 2)
}

func ExampleTensor_Reshape() {
	x := tensor.New(2, 3, 4)
	y, _ := x.Reshape(-1, 4)
	fmt.Println(y.Shape())
	_, err := x.Reshape(5, -1)
	fmt.Println(err)
	// Output:
	// [6 4]
	// tensor.Reshape: shapes [2 3 4] and [5 -1]: 24 elements do not divide into the given dimensions
}

// A PyTorch checkpoint (torch.save of a state dict; a hub's
// pytorch_model.bin) is read without running its pickle: each tensor comes
// back contiguous, in its own dtype.
func ExampleReadPyTorch() {
	f, err := tensor.ReadPyTorch("testdata/pytorch/state.bin")
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"0.weight", "a_t", "half", "position_ids"} {
		in := f.Info(name)
		fmt.Println(name, in.DType, in.Shape)
	}
	w, _ := f.Tensor("a_t") // float32 whatever the file's dtype
	fmt.Println(w.Shape())
	// Output:
	// 0.weight F32 [3 4]
	// a_t F32 [4 3]
	// half F16 [2 3]
	// position_ids I64 [1 6]
	// [4 3]
}
