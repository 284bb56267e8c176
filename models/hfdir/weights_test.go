package hfdir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/tensor"
)

// TestReadWeightsOrderAndNames: model.safetensors is preferred over
// pytorch_model.bin, as from_pretrained prefers it; old LayerNorm.gamma /
// beta names come back as weight / bias; a directory without weights says
// which files it looked for.
func TestReadWeightsOrderAndNames(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadWeights(dir); err == nil || !strings.Contains(err.Error(), "no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin") {
		t.Errorf("empty directory: %v", err)
	}
	bin, err := os.ReadFile("../../tensor/testdata/pytorch/state.bin")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ReadWeights(dir)
	if err != nil || filepath.Base(f.Path) != "pytorch_model.bin" || f.Info("a_t") == nil {
		t.Fatalf("pytorch_model.bin alone: %v", err)
	}
	x, _ := tensor.FromSlice([]float32{1, 2}, 2)
	st := []tensor.NamedTensor{{Name: "emb.LayerNorm.gamma", Tensor: x}, {Name: "emb.LayerNorm.beta", Tensor: x}, {Name: "w", Tensor: x}}
	if err := tensor.WriteSafetensors(filepath.Join(dir, WeightsFile), st, nil); err != nil {
		t.Fatal(err)
	}
	f, err = ReadWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"emb.LayerNorm.weight", "emb.LayerNorm.bias", "w"}; filepath.Base(f.Path) != WeightsFile || !slices.Equal(got, want) {
		t.Errorf("read %s with names %v, want model.safetensors with %v", f.Path, got, want)
	}
}
