package tensor_test

import (
	"fmt"

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
