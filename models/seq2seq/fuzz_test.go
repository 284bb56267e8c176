package seq2seq

import (
	"testing"

	"github.com/goformer/goformer/internal/fixture"
)

// FuzzLoadConfig: any config.json beside a real weights file loads or is
// refused naming the file; never a panic or an allocation beyond the
// weights (fixture.FuzzLoadConfig).
func FuzzLoadConfig(f *testing.F) {
	fixture.FuzzLoadConfig(f, "marian", func(dir string) error {
		_, err := Load(dir)
		return err
	})
}
