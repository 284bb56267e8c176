package recipes

import (
	"image/color"
	"io"
	"path/filepath"

	"github.com/goformer/goformer/internal/plot"
	"github.com/goformer/goformer/tensor"
	"github.com/goformer/goformer/train"
)

// PlotLoss writes the training and validation loss curves to dir/loss.png
// and, when the run was scored, the score's curve to dir/<score>.png
// (bleu.png), atomically.
func PlotLoss(dir string, history []train.Metrics) error {
	tr := plot.Series{Name: "train loss", Color: color.RGBA{70, 130, 180, 255}}
	val := plot.Series{Name: "val loss", Color: color.RGBA{220, 80, 40, 255}}
	score := plot.Series{Color: color.RGBA{40, 160, 80, 255}}
	name := "score"
	for _, m := range history {
		tr.X, tr.Y = append(tr.X, float64(m.Step)), append(tr.Y, m.Loss)
		if m.ValLoss != nil {
			val.X, val.Y = append(val.X, float64(m.Step)), append(val.Y, *m.ValLoss)
		}
		if m.Score != nil {
			score.X, score.Y = append(score.X, float64(m.Step)), append(score.Y, *m.Score)
			if m.ScoreName != "" {
				name = m.ScoreName
			}
		}
	}
	c := plot.Chart{Title: "goformer training", XLabel: "step", YLabel: "loss (nats)", Series: []plot.Series{tr, val}}
	if err := writePNG(filepath.Join(dir, "loss.png"), c); err != nil || len(score.X) == 0 {
		return err
	}
	score.Name = "val " + name
	c = plot.Chart{Title: "goformer training: validation " + name, XLabel: "step", YLabel: name, Series: []plot.Series{score}}
	return writePNG(filepath.Join(dir, name+".png"), c)
}

func writePNG(path string, c plot.Chart) error {
	return tensor.WriteFileAtomic(path, func(w io.Writer) error { return c.WritePNG(w) })
}
