package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/goformer/goformer/generate"
	"github.com/goformer/goformer/internal/cpu"
	"github.com/goformer/goformer/models/hfdir"
	"github.com/goformer/goformer/tensor"
)

// Every numeric flag is registered with its range, checked as it is
// parsed: a value outside it (NaN and ±Inf included) is a usage error
// naming the flag, whichever command takes it. The shared options (threads,
// decoding) are registered by one function each.

// intRange is an int flag value confined to [lo, hi].
type intRange struct {
	v      *int
	lo, hi int
}

func (r intRange) String() string {
	if r.v == nil {
		return "0"
	}
	return strconv.Itoa(*r.v)
}

func (r intRange) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return fmt.Errorf("not an integer")
	}
	if n < int64(r.lo) || n > int64(r.hi) {
		return fmt.Errorf("must be between %d and %d", r.lo, r.hi)
	}
	*r.v = int(n)
	return nil
}

// floatRange is a float64 flag value confined to [lo, hi]; NaN is outside
// every range.
type floatRange struct {
	v      *float64
	lo, hi float64
}

func (r floatRange) String() string {
	if r.v == nil {
		return "0"
	}
	return strconv.FormatFloat(*r.v, 'g', -1, 64)
}

func (r floatRange) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number")
	}
	if !(x >= r.lo && x <= r.hi) || math.IsInf(x, 0) {
		return fmt.Errorf("must be a number between %g and %g", r.lo, r.hi)
	}
	*r.v = x
	return nil
}

// intFlag registers an integer flag that must lie in [lo, hi].
func intFlag(fs *flag.FlagSet, name string, def, lo, hi int, usage string) *int {
	v := def
	fs.Var(intRange{&v, lo, hi}, name, fmt.Sprintf("%s (%d to %d)", usage, lo, hi))
	return &v
}

// floatFlag registers a finite float flag that must lie in [lo, hi].
func floatFlag(fs *flag.FlagSet, name string, def, lo, hi float64, usage string) *float64 {
	v := def
	fs.Var(floatRange{&v, lo, hi}, name, fmt.Sprintf("%s (%g to %g)", usage, lo, hi))
	return &v
}

// Bounds shared by the commands.
const (
	maxThreads   = cpu.MaxThreads
	maxBeam      = 64      // rows per sentence: memory grows with it
	maxNewTokens = 1 << 20 // tokens one generate call may write
	maxSize      = 1 << 16 // a benchmark's matrix or sequence dimension
)

// threadsFlag registers --threads (0: all cores).
func threadsFlag(fs *flag.FlagSet, def int) *int {
	return intFlag(fs, "threads", def, 0, maxThreads, "worker threads; 0: all cores")
}

// samplingFlags are the options of sampling from a model's predictions.
type samplingFlags struct {
	temperature, topP, epsilon *float64
	topK                       *int
	seed                       *uint64
}

// addSampling registers --temperature, --top-k, --top-p, --epsilon-cutoff and --seed with
// the command's defaults.
func addSampling(fs *flag.FlagSet, temperature float64, topK int) samplingFlags {
	return samplingFlags{
		temperature: floatFlag(fs, "temperature", temperature, 0, 100, "sampling temperature; 0 is greedy"),
		topK:        intFlag(fs, "top-k", topK, 0, 1<<24, "sample among the k most likely tokens; 0: all"),
		topP:        floatFlag(fs, "top-p", 1, 0, 1, "sample among the most likely tokens of total probability p"),
		epsilon:     floatFlag(fs, "epsilon-cutoff", 0, 0, 0.999, "epsilon_cutoff: never sample a token less likely than this (0: off)"),
		seed:        fs.Uint64("seed", 1, "random seed of the sampling"),
	}
}

// sampler returns the Sampler the flags describe, or nil at temperature 0
// (greedy or beam search), where --top-k, --top-p and --seed given
// explicitly would be ignored and are refused instead.
func (s samplingFlags) sampler(fs *flag.FlagSet) (*generate.Sampler, error) {
	if *s.temperature == 0 {
		var given []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "top-k" || f.Name == "top-p" || f.Name == "seed" || f.Name == "epsilon-cutoff" {
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return nil, usagef("%s: %v only apply when sampling (--temperature above 0)", fs.Name(), given)
		}
		return nil, nil
	}
	return &generate.Sampler{Temperature: *s.temperature, TopK: *s.topK, TopP: *s.topP, EpsilonCutoff: *s.epsilon, RNG: tensor.NewRNG(*s.seed)}, nil
}

// dtypeFlag registers --dtype: the weight format inference reads,
// checked as it is parsed.
func dtypeFlag(fs *flag.FlagSet) *string {
	d := dtypeValue("fp32")
	fs.Var(&d, "dtype", "weights for inference: fp32, bf16 (half the bytes) or int8 (a quarter, per-channel scales); the model files are not changed")
	return (*string)(&d)
}

type dtypeValue string

func (d *dtypeValue) String() string { return string(*d) }

func (d *dtypeValue) Set(s string) error {
	if s != "fp32" && s != "bf16" && s != "int8" {
		return fmt.Errorf("must be fp32, bf16 or int8")
	}
	*d = dtypeValue(s)
	return nil
}

// quantize puts a loaded model's weights in dtype for inference
// (nn.Params.Quantize); fp32 leaves them as they are.
// savedDType is the --dtype to run dir with: the flag's value when it was
// given, else the scheme dir's weights were saved in by `goformer convert
// --dtype` (said on stderr), so that a converted model runs compact by
// default.
func savedDType(fs *flag.FlagSet, dtype, dir string, stderr io.Writer) string {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "dtype" })
	if set {
		return dtype
	}
	if d := hfdir.SavedDType(dir); d != "" {
		fmt.Fprintf(stderr, "%s holds %s weights: running with --dtype %s (--dtype fp32 widens them)\n", dir, d, d)
		return d
	}
	return dtype
}

func quantize(cmd string, model any, dtype string) error {
	if dtype == "fp32" {
		return nil
	}
	q, ok := model.(interface{ Quantize(string) (int, error) })
	if !ok {
		return usagef("%s: --dtype %s is for GPT-2, Marian/Pegasus/BART and T5 models", cmd, dtype)
	}
	_, err := q.Quantize(dtype)
	return err
}
