package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// TokenizerConfigFile is where transformers keeps a tokenizer's settings
// beside its vocabulary.
const TokenizerConfigFile = "tokenizer_config.json"

// unsetMaxLength is transformers' VERY_LARGE_INTEGER, int(1e30), which
// save_pretrained writes as model_max_length when none was set.
const unsetMaxLength = 1e29

// ModelMaxLength reads model_max_length from dir's tokenizer_config.json:
// the most tokens transformers' tokenizer keeps of a text when asked to
// truncate (tokenizer(text, truncation=True)). It returns 0 when the file
// or the field is absent, or holds transformers' "no limit" (int(1e30));
// a field that is not a positive whole number is an error naming the file.
func ModelMaxLength(dir string) (int, error) {
	path := filepath.Join(dir, TokenizerConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseModelMaxLength(path, b)
}

// parseModelMaxLength is ModelMaxLength on the bytes of the file at path
// (named in errors).
func parseModelMaxLength(path string, b []byte) (int, error) {
	var cfg struct {
		ModelMaxLength json.RawMessage `json:"model_max_length"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.ModelMaxLength == nil || string(cfg.ModelMaxLength) == "null" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(cfg.ModelMaxLength), 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: model_max_length %s is not a number", path, cfg.ModelMaxLength)
	case f >= unsetMaxLength:
		return 0, nil
	case f < 1 || f != math.Trunc(f) || f > math.MaxInt32:
		return 0, fmt.Errorf("%s: model_max_length %s is not a positive whole number of tokens", path, cfg.ModelMaxLength)
	}
	return int(f), nil
}
