package train

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/tensor"
)

// TestCheckpointAverage checks the averaging hook: only evaluated steps are
// written, the window keeps the last ones (older files removed), the mean
// is each parameter's over the window, the window survives State/SetState,
// and a damaged or misshapen file is an error naming it.
func TestCheckpointAverage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "averaging")
	a, b := autograd.NewParam("a", tensor.New(2, 3)), autograd.NewParam("b", tensor.New(5))
	h := &CheckpointAverage{Dir: dir, Last: 3, Params: []*autograd.Var{a, b}}
	val := 1.0
	fill := func(step int) {
		for i := range a.Value.Data() {
			a.Value.Data()[i] = float32(step*10 + i)
		}
		for i := range b.Value.Data() {
			b.Value.Data()[i] = float32(-step) / 3
		}
	}
	for step := 1; step <= 9; step++ {
		fill(step)
		m := Metrics{Step: step}
		if step%2 == 1 { // evaluated: 1, 3, 5, 7, 9
			m.ValLoss = &val
		}
		if err := h.AfterStep(m); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int{5, 7, 9}; !reflect.DeepEqual(h.Steps, want) {
		t.Fatalf("steps kept %v, want %v", h.Steps, want)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 3 {
		t.Fatalf("files %v, want the three kept steps'", files)
	}
	mean, err := h.Average()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range mean[0].Data() {
		if want := float32(70 + i); v != want { // (50+70+90)/3 + i
			t.Fatalf("a[%d] = %g, want %g", i, v, want)
		}
	}
	for i, v := range mean[1].Data() {
		if want := float32(-7) / 3; v-want > 1e-6 || want-v > 1e-6 {
			t.Fatalf("b[%d] = %g, want %g", i, v, want)
		}
	}
	if !mean[0].SameShape(a.Value) || !mean[1].SameShape(b.Value) {
		t.Fatalf("shapes %v %v", mean[0].Shape(), mean[1].Shape())
	}
	// A resumed run restores the window and continues it.
	st, err := h.State()
	if err != nil {
		t.Fatal(err)
	}
	h2 := &CheckpointAverage{Dir: dir, Last: 3, Params: h.Params}
	if err := h2.SetState(st); err != nil || !reflect.DeepEqual(h2.Steps, h.Steps) {
		t.Fatalf("restored %v (%v), want %v", h2.Steps, err, h.Steps)
	}
	fill(11)
	if err := h2.AfterStep(Metrics{Step: 11, ValLoss: &val}); err != nil {
		t.Fatal(err)
	}
	if want := []int{7, 9, 11}; !reflect.DeepEqual(h2.Steps, want) {
		t.Fatalf("after resuming: %v, want %v", h2.Steps, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "step-5.safetensors")); !os.IsNotExist(err) {
		t.Errorf("step 5's file was not removed: %v", err)
	}
	// Damaged and misshapen files are refused, naming the file.
	path := filepath.Join(dir, "step-9.safetensors")
	good, _ := os.ReadFile(path)
	os.WriteFile(path, good[:len(good)/2], 0o644)
	if _, err := h2.Average(); err == nil || !strings.Contains(err.Error(), "step-9.safetensors") {
		t.Errorf("truncated file: %v", err)
	}
	os.WriteFile(path, good, 0o644)
	h3 := &CheckpointAverage{Dir: dir, Last: 3, Params: []*autograd.Var{autograd.NewParam("a", tensor.New(3, 2)), b}, Steps: h2.Steps}
	if _, err := h3.Average(); err == nil || !strings.Contains(err.Error(), "step-7.safetensors") || !strings.Contains(err.Error(), "a is") {
		t.Errorf("misshapen tensor: %v", err)
	}
	if _, err := (&CheckpointAverage{Dir: dir, Last: 3, Params: h.Params}).Average(); err == nil {
		t.Error("no step kept: no error")
	}
}

// TestChooseWindow checks the choice of how many kept steps to average:
// every window from the newest step back is scored, the lowest loss wins
// (the shorter window on a tie), its mean is left in the parameters, and a
// damaged file is an error naming it.
func TestChooseWindow(t *testing.T) {
	dir := t.TempDir()
	a, b := autograd.NewParam("a", tensor.New(2, 3)), autograd.NewParam("b", tensor.New(5))
	h := &CheckpointAverage{Dir: dir, Last: 4, Params: []*autograd.Var{a, b}}
	val := 1.0
	for step := 1; step <= 4; step++ { // a = 10·step + i, b = step
		for i := range a.Value.Data() {
			a.Value.Data()[i] = float32(step*10 + i)
		}
		for i := range b.Value.Data() {
			b.Value.Data()[i] = float32(step)
		}
		if err := h.AfterStep(Metrics{Step: step, ValLoss: &val}); err != nil {
			t.Fatal(err)
		}
	}
	// Windows' means of a[0]: 40, 35, 30, 25. The loss is lowest at 30
	// (the last three steps).
	target := float32(30)
	loss := func() (float64, error) {
		d := a.Value.Data()[0] - target
		return float64(d * d), nil
	}
	k, losses, err := h.ChooseWindow(loss)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{100, 25, 0, 25}; k != 3 || !reflect.DeepEqual(losses, want) {
		t.Fatalf("window %d, losses %v; want 3, %v", k, losses, want)
	}
	for i, v := range a.Value.Data() {
		if want := float32(30 + i); v != want {
			t.Fatalf("a[%d] = %g after choosing, want %g", i, v, want)
		}
	}
	if v := b.Value.Data()[4]; v != 3 {
		t.Fatalf("b[4] = %g after choosing, want 3", v)
	}
	// The chosen window's mean is Average's over the same steps.
	h3 := &CheckpointAverage{Dir: dir, Last: 3, Params: h.Params, Steps: h.Steps[1:]}
	mean, err := h3.Average()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mean[0].Data(), a.Value.Data()) || !reflect.DeepEqual(mean[1].Data(), b.Value.Data()) {
		t.Fatalf("ChooseWindow left %v %v, Average gives %v %v", a.Value.Data(), b.Value.Data(), mean[0].Data(), mean[1].Data())
	}
	// A tie keeps the shorter window.
	target = 37.5
	if k, _, err := h.ChooseWindow(loss); err != nil || k != 1 {
		t.Fatalf("tie between 1 and 2 steps (40 and 35 around 37.5): window %d (%v), want 1", k, err)
	}
	os.WriteFile(filepath.Join(dir, "step-2.safetensors"), []byte("{"), 0o644)
	if _, _, err := h.ChooseWindow(loss); err == nil || !strings.Contains(err.Error(), "step-2.safetensors") {
		t.Errorf("damaged file: %v", err)
	}
	if _, _, err := (&CheckpointAverage{Dir: dir, Last: 3, Params: h.Params}).ChooseWindow(loss); err == nil {
		t.Error("no step kept: no error")
	}
}
