package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/goformer/goformer/train"
)

func TestPlotLoss(t *testing.T) {
	var h []train.Metrics
	for i := 1; i <= 30; i++ {
		m := train.Metrics{Step: i, Loss: 4 - float64(i)*0.05}
		if i%10 == 0 {
			v := 4.1 - float64(i)*0.05
			m.ValLoss = &v
		}
		h = append(h, m)
	}
	path := filepath.Join(t.TempDir(), "loss.png")
	if err := plotLoss(path, h); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 800 {
		t.Fatalf("loss.png: %v", err)
	}
}
