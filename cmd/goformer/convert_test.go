package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvert: a directory with the hub's pytorch_model.bin (or shards)
// gets a model.safetensors that loads to the same model; a second run
// refuses to overwrite it without --force; a pickle that would run code is
// refused and nothing is written.
func TestConvert(t *testing.T) {
	for _, src := range []string{"../../models/gpt/testdata/tiny-bin", "../../models/gpt/testdata/tiny-sharded"} {
		dir := copyDir(t, src)
		code, before, errs := runCLI("info", "--model", dir, "--json")
		if code != 0 {
			t.Fatalf("info on %s: exit %d: %s", src, code, errs)
		}
		code, out, errs := runCLI("convert", "--model", dir)
		if code != 0 || !strings.Contains(out, "wrote "+filepath.Join(dir, "model.safetensors")) {
			t.Fatalf("convert %s: exit %d: %s%s", src, code, out, errs)
		}
		code, after, errs := runCLI("info", "--model", dir, "--json")
		if code != 0 || !strings.Contains(after, `"weights":"model.safetensors"`) {
			t.Fatalf("info after convert: exit %d: %s%s", code, after, errs)
		}
		param := func(s string) string { return s[strings.Index(s, `"parameters"`):strings.Index(s, `"weights"`)] }
		if param(before) != param(after) {
			t.Errorf("%s: %s before, %s after", src, param(before), param(after))
		}
		if code, _, errs := runCLI("convert", "--model", dir); code != 2 || !strings.Contains(errs, "already exists") {
			t.Errorf("second convert: exit %d: %s", code, errs)
		}
		if code, _, errs := runCLI("convert", "--model", dir, "--force"); code != 0 {
			t.Errorf("convert --force: exit %d: %s", code, errs)
		}
	}
	dir := copyDir(t, "../../models/gpt/testdata/tiny-bin")
	evil, err := os.ReadFile("../../tensor/testdata/pytorch/evil.bin")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("convert", "--model", dir)
	if code != 2 || out != "" || !strings.Contains(errs, "refusing the global posix.system") || strings.Count(errs, "\n") != 1 {
		t.Errorf("evil pickle: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		t.Errorf("a refused checkpoint left a model.safetensors")
	}
}
