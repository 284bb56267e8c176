package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/tokenizer"
)

// TestServeSIGTERMDrains starts goformer serve in a child process, puts
// streamed completions in flight, sends SIGTERM, and checks that every one
// of them completed ([DONE]), that the server then refused or closed, and
// that the process exited 0 saying it drained.
func TestServeSIGTERMDrains(t *testing.T) {
	tok, err := tokenizer.NewChar("abcdefghijklmnopqrstuvwxyz .,:\n")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: 256, NEmbd: 64, NLayer: 4, NHead: 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveHF(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--model", dir, "--addr", "127.0.0.1:0", "--threads", "1")
	cmd.Env = append(os.Environ(), "GOFORMER_TEST_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "serving on http://") {
		t.Fatalf("first line %q; stderr %s", sc.Text(), stderr.String())
	}
	url := strings.TrimSuffix(strings.TrimPrefix(sc.Text(), "serving on "), "/")
	rest := make(chan string, 1)
	go func() { // read stdout to the end before Wait closes it
		b, _ := io.ReadAll(stdout)
		rest <- string(b)
	}()
	var finished atomic.Int32
	var wg sync.WaitGroup
	results := make(chan string, 8)
	started := make(chan bool, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(map[string]any{"prompt": "abc", "max_tokens": 250, "temperature": 0, "stream": true})
			resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(b))
			if err != nil {
				results <- "error: " + err.Error()
				started <- false
				return
			}
			started <- true
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			finished.Add(1)
			if resp.StatusCode == 200 && strings.HasSuffix(string(body), "data: [DONE]\n\n") {
				results <- "ok"
			} else {
				results <- "incomplete: " + string(body[max(0, len(body)-80):])
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-started
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if n := finished.Load(); n == 8 {
		t.Fatal("every request had finished before SIGTERM: the test proves nothing; make them longer")
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r != "ok" {
			t.Errorf("a request in flight at SIGTERM: %s", r)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
	if out := <-rest; !strings.Contains(out, "drained") {
		t.Errorf("stdout does not say it drained: %q", out)
	}
	if !strings.Contains(stderr.String(), "draining") {
		t.Errorf("the log does not say it is draining: %s", stderr.String())
	}
}
