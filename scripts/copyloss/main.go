// Command copyloss splits a summariser's validation loss by the kind of
// token predicted: a synopsis token that occurs in the description (one
// the model can copy) or one that does not (one it must produce), so two
// trained models can be compared on what each learnt to do.
//
//	go run ./scripts/copyloss runs/f14a/model runs/s2/model
package main

import (
	"fmt"
	"math"
	"os"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/data"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/pipelines"
	"github.com/goformer/goformer/recipes"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: copyloss MODEL_DIR...")
		os.Exit(2)
	}
	docs, err := data.Debian("valid")
	check(err)
	fmt.Println("model\tcopyable tokens: share, loss\tother tokens (<s> and </s> among them): share, loss\t<s> (the first label) loss\tall")
	for _, dir := range os.Args[1:] {
		s, err := pipelines.LoadSummarizer(dir)
		check(err)
		m, ok := s.Model.(*seq2seq.Model)
		if !ok {
			check(fmt.Errorf("%s: not a seq2seq model", dir))
		}
		ex, err := recipes.SummarizationExamples(s.Tokenizer, docs, s.SourceLimit(), 0)
		check(err)
		batches := data.Bucket(ex, 8192, data.Special{Pad: 1, EOS: 2, Start: 2})
		var sum, n [3]float64 // copyable, other, first
		g := autograd.NewGraph(1)
		for _, b := range batches {
			g.Reset()
			logits, _, err := m.Loss(g, b.Src, b.SrcLen, b.TgtIn, b.Labels, b.TgtLen, b.B, b.SrcPad, b.TgtPad, 0)
			check(err)
			z := logits.Value.Data()
			v := len(z) / (b.B * b.TgtLen)
			for r := 0; r < b.B; r++ {
				inSrc := map[int32]bool{}
				for _, id := range b.Src[r*b.SrcLen : (r+1)*b.SrcLen] {
					if id > 3 {
						inSrc[id] = true
					}
				}
				for t := 0; t < b.TgtLen; t++ {
					lab := b.Labels[r*b.TgtLen+t]
					if lab == 1 {
						continue
					}
					row := z[(r*b.TgtLen+t)*v : (r*b.TgtLen+t+1)*v]
					mx := row[0]
					for _, x := range row {
						mx = max(mx, x)
					}
					var se float64
					for _, x := range row {
						se += math.Exp(float64(x - mx))
					}
					nll := math.Log(se) - float64(row[lab]-mx)
					k := 1
					if inSrc[lab] {
						k = 0
					}
					sum[k] += nll
					n[k]++
					if t == 0 {
						sum[2] += nll
						n[2]++
					}
				}
			}
		}
		all := n[0] + n[1]
		fmt.Printf("%s\t%.3f, %.3f\t%.3f, %.3f\t%.3f\t%.3f\n", dir, n[0]/all, sum[0]/n[0], n[1]/all, sum[1]/n[1], sum[2]/n[2], (sum[0]+sum[1])/all)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "copyloss:", err)
		os.Exit(1)
	}
}
