package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goformer/goformer/train"
)

// TestMain lets the tests run the command in a child process: the test
// binary itself, with GOFORMER_TEST_MAIN=1, is goformer.
func TestMain(m *testing.M) {
	if os.Getenv("GOFORMER_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestInterruptWritesCheckpoint sends a real SIGINT to a training process:
// it must write a checkpoint, say how to resume, exit 0, and leave no
// temporary files; the run then resumes from that checkpoint.
func TestInterruptWritesCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], "train", "--preset", "shakespeare-char-quick", "--out", dir, "--samples=false", "--threads", "1")
	cmd.Env = append(os.Environ(), "GOFORMER_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	sent := false
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if !sent && strings.HasPrefix(line, "step ") {
			time.Sleep(200 * time.Millisecond)
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, log.String())
	}
	if !sent {
		t.Fatalf("training never reported a step:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "interrupted: checkpoint of step") || !strings.Contains(log.String(), "--resume") {
		t.Errorf("no interruption message:\n%s", log.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, train.CheckpointFile)); err != nil {
		t.Fatalf("no checkpoint after Ctrl-C: %v", err)
	}
	var step int
	if _, err := fmt.Sscanf(log.String()[strings.Index(log.String(), "checkpoint of step"):], "checkpoint of step %d", &step); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("train", "--out", dir, "--preset", "shakespeare-char-quick", "--resume", "--steps", strconv.Itoa(step+2), "--samples=false")
	if code != 0 || !strings.Contains(errs, fmt.Sprintf("resuming %s at step %d", dir, step)) || !strings.Contains(out, fmt.Sprintf("done: step %d", step+2)) {
		t.Errorf("resume after Ctrl-C: exit %d, %q %q", code, out, errs)
	}
}
