package main

import (
	"image/color"
	"io"
	"path/filepath"

	"github.com/goformer/goformer/internal/plot"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/train"
)

// plotLoss writes the training and validation loss curves as a PNG,
// atomically.
func plotLoss(path string, history []train.Metrics) error {
	tr := plot.Series{Name: "train loss", Color: color.RGBA{70, 130, 180, 255}}
	val := plot.Series{Name: "val loss", Color: color.RGBA{220, 80, 40, 255}}
	for _, m := range history {
		tr.X, tr.Y = append(tr.X, float64(m.Step)), append(tr.Y, m.Loss)
		if m.ValLoss != nil {
			val.X, val.Y = append(val.X, float64(m.Step)), append(val.Y, *m.ValLoss)
		}
	}
	c := plot.Chart{Title: "goformer training", XLabel: "step", YLabel: "loss (nats)", Series: []plot.Series{tr, val}}
	if err := tensor.WriteFileAtomic(path, func(w io.Writer) error { return c.WritePNG(w) }); err != nil {
		return err
	}
	bleu := plot.Series{Name: "val BLEU", Color: color.RGBA{40, 160, 80, 255}}
	for _, m := range history {
		if m.BLEU != nil {
			bleu.X, bleu.Y = append(bleu.X, float64(m.Step)), append(bleu.Y, *m.BLEU)
		}
	}
	if len(bleu.X) == 0 {
		return nil
	}
	c = plot.Chart{Title: "goformer training: validation BLEU", XLabel: "step", YLabel: "BLEU", Series: []plot.Series{bleu}}
	return tensor.WriteFileAtomic(filepath.Join(filepath.Dir(path), "bleu.png"), func(w io.Writer) error { return c.WritePNG(w) })
}
