package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/tokenizer"
)

// tinyGPT writes a small random GPT-2 with a character tokenizer.
func tinyGPT(t testing.TB) string {
	t.Helper()
	return gptModel(t, 64, 16, 2)
}

// gptModel writes a random character GPT of n positions, width d and
// layers layers.
func gptModel(t testing.TB, n, d, layers int) string {
	t.Helper()
	tok, err := tokenizer.NewChar("abcdefghijklmnopqrstuvwxyz .,:\n")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: n, NEmbd: d, NLayer: layers, NHead: 2}, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveHF(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestServer(t testing.TB, cfg Config, dirs map[string]string) (*Server, *httptest.Server) {
	t.Helper()
	cfg.Logger = quietLogger()
	s, err := New(cfg, dirs)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

func post(t testing.TB, url string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func completionText(t testing.TB, out map[string]any) (string, string) {
	t.Helper()
	choices, ok := out["choices"].([]any)
	if !ok || len(choices) == 0 {
		t.Fatalf("no choices in %v", out)
	}
	c := choices[0].(map[string]any)
	return c["text"].(string), c["finish_reason"].(string)
}

// slowSteps makes every decoding step of the schedulers take at least
// 100 µs for the rest of the test: a tiny model's step takes a few, and
// requests sent together would otherwise often not overlap at all.
func slowSteps(t *testing.T) {
	stepHook = func() { time.Sleep(100 * time.Microsecond) }
	t.Cleanup(func() { stepHook = nil })
}

// TestContinuousBatchingMatchesSolo: greedy completions requested together
// (joining and leaving one running batch) equal those requested alone, and
// the batch did hold several sequences at once.
func TestContinuousBatchingMatchesSolo(t *testing.T) {
	slowSteps(t)
	s, ts := newTestServer(t, Config{}, map[string]string{"gpt": tinyGPT(t)})
	prompts := []string{"the cat", "a", "hello world, this is a longer prompt", "xyz:", "to be or not", "q"}
	maxTokens := []int{40, 50, 20, 45, 45, 55}
	solo := make([]string, len(prompts))
	for i, p := range prompts {
		code, out, _ := post(t, ts.URL+"/v1/completions", map[string]any{"model": "gpt", "prompt": p, "max_tokens": maxTokens[i], "temperature": 0})
		if code != 200 {
			t.Fatalf("%d: %v", code, out)
		}
		solo[i], _ = completionText(t, out)
	}
	body := metricsText(t, ts.URL)
	count0, _ := histogram(body, "goformer_batch_occupancy", `model="gpt"`)
	single0 := bucket(body, "goformer_batch_occupancy", `model="gpt",le="1"`)
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		got := make([]string, len(prompts))
		for i, p := range prompts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i*round) * time.Millisecond) // join at different steps
				_, out, _ := post(t, ts.URL+"/v1/completions", map[string]any{"model": "gpt", "prompt": p, "max_tokens": maxTokens[i], "temperature": 0})
				got[i], _ = completionText(t, out)
			}()
		}
		wg.Wait()
		for i := range prompts {
			if got[i] != solo[i] {
				t.Errorf("round %d, prompt %q: together %q, alone %q", round, prompts[i], got[i], solo[i])
			}
		}
	}
	body = metricsText(t, ts.URL)
	count, _ := histogram(body, "goformer_batch_occupancy", `model="gpt"`)
	single := bucket(body, "goformer_batch_occupancy", `model="gpt",le="1"`)
	if shared := (count - count0) - (single - single0); shared < 10 {
		t.Errorf("%g steps while requested together, %g of them with several rows; want requests decoded together", count-count0, shared)
	}
	if !strings.Contains(body, `goformer_requests_total{code="200",endpoint="completions"}`) {
		t.Error("no request counter in /metrics")
	}
	_ = s
}

// TestJoinGrowsTheCaches: a decoder's caches start with room for the
// request in view; a longer request that joins while it runs grows them,
// and both complete as they do alone.
func TestJoinGrowsTheCaches(t *testing.T) {
	s, ts := newTestServer(t, Config{}, map[string]string{"gpt": gptModel(t, 512, 128, 4)})
	short := map[string]any{"model": "gpt", "prompt": "the cat", "max_tokens": 150, "temperature": 0}
	long := map[string]any{"model": "gpt", "prompt": "hello world, this is a longer prompt", "max_tokens": 400, "temperature": 0}
	var solo [2]string
	for i, req := range []map[string]any{short, long} {
		code, out, _ := post(t, ts.URL+"/v1/completions", req)
		if code != 200 {
			t.Fatalf("%d: %v", code, out)
		}
		solo[i], _ = completionText(t, out)
	}
	// The short request streams; once its first token is out, the long
	// one is sent, to join the running decoder (room for 2·(6+150)
	// positions; it needs 35+400).
	stream := maps.Clone(short)
	stream["stream"] = true
	b, _ := json.Marshal(stream)
	resp, err := http.Post(ts.URL+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var text strings.Builder
	first := true
	var longOut map[string]any
	var longCode int
	done := make(chan struct{})
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		for _, c := range chunk.Choices {
			text.WriteString(c.Text)
		}
		if first {
			first = false
			go func() {
				defer close(done)
				longCode, longOut, _ = post(t, ts.URL+"/v1/completions", long)
			}()
		}
	}
	<-done
	if longCode != 200 {
		t.Fatalf("the long request, sent while the short one ran: %d: %v", longCode, longOut)
	}
	longText, _ := completionText(t, longOut)
	if text.String() != solo[0] || longText != solo[1] {
		t.Errorf("together: %q and %q; alone: %q and %q", text.String(), longText, solo[0], solo[1])
	}
	l := s.models["gpt"].(*lm)
	l.mu.Lock()
	grows := l.grows
	l.mu.Unlock()
	if grows == 0 {
		t.Error("the caches never grew: the long request did not join the short one's decoder")
	}
}

func metricsText(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// bucket returns the value of one histogram bucket.
func bucket(body, name, labels string) float64 {
	var v float64
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+"_bucket{"+labels+"}") {
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v)
		}
	}
	return v
}

// histogram returns the count and sum of a histogram series.
func histogram(body, name, labels string) (count, sum float64) {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+"_count{"+labels+"}") {
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &count)
		}
		if strings.HasPrefix(l, name+"_sum{"+labels+"}") {
			fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &sum)
		}
	}
	return
}

// TestStreamAndStop: a streamed completion is OpenAI's server-sent events
// ending in [DONE], its text that of the same request unstreamed; a stop
// string ends the text before it, with finish_reason "stop".
func TestStreamAndStop(t *testing.T) {
	_, ts := newTestServer(t, Config{}, map[string]string{"gpt": tinyGPT(t)})
	req := map[string]any{"model": "gpt", "prompt": "the cat", "max_tokens": 30, "temperature": 0}
	_, out, _ := post(t, ts.URL+"/v1/completions", req)
	want, reason := completionText(t, out)
	if reason != "length" {
		t.Errorf("finish_reason %q, want length", reason)
	}
	req["stream"] = true
	b, _ := json.Marshal(req)
	resp, err := http.Post(ts.URL+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var text strings.Builder
	chunks, done, last := 0, false, ""
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "data: ") {
			t.Fatalf("line %q is not an event", line)
		}
		data := strings.TrimPrefix(line, "data: ")
		if data == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil || c.Object != "text_completion" || len(c.Choices) != 1 {
			t.Fatalf("chunk %q: %v", data, err)
		}
		text.WriteString(c.Choices[0].Text)
		if c.Choices[0].FinishReason != nil {
			last = *c.Choices[0].FinishReason
		}
		chunks++
	}
	resp.Body.Close()
	if !done || text.String() != want || last != "length" || chunks < 5 {
		t.Errorf("stream: %d chunks, done %v, finish %q, text %q; unstreamed %q", chunks, done, last, text.String(), want)
	}
	if len(want) < 4 {
		t.Fatalf("completion %q too short to cut", want)
	}
	stop := want[2:4]
	_, out, _ = post(t, ts.URL+"/v1/completions", map[string]any{"model": "gpt", "prompt": "the cat", "max_tokens": 30, "temperature": 0, "stop": []string{stop}})
	got, reason := completionText(t, out)
	if got != want[:strings.Index(want, stop)] || reason != "stop" {
		t.Errorf("with stop %q: %q (%s), want %q (stop)", stop, got, reason, want[:strings.Index(want, stop)])
	}
	// Several prompts in one request, seeded sampling reproducible.
	req = map[string]any{"model": "gpt", "prompt": []string{"ab", "cd"}, "max_tokens": 10, "temperature": 0.9, "seed": 5}
	_, a, _ := post(t, ts.URL+"/v1/completions", req)
	_, b2, _ := post(t, ts.URL+"/v1/completions", req)
	ca, cb := a["choices"].([]any), b2["choices"].([]any)
	if len(ca) != 2 || fmt.Sprint(ca) != fmt.Sprint(cb) {
		t.Errorf("seeded sampling: %v then %v", ca, cb)
	}
}

// TestBadRequests: each bad request gets its status and an OpenAI error
// naming the field; the server keeps serving.
func TestBadRequests(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxBodyBytes: 4096}, map[string]string{"gpt": tinyGPT(t)})
	long := strings.Repeat("ab", 40)
	for _, c := range []struct {
		body   any
		status int
		param  string
	}{
		{`{"model": "gpt", "prompt": "a"`, 400, ""},
		{`{"model": "gpt", "prompt": 5}`, 400, "prompt"},
		{`{"model": "gpt", "prompt": "a", "max_tokens": "x"}`, 400, "max_tokens"},
		{`{"model": "gpt", "prompt": "a", "max_tokens": -1}`, 400, "max_tokens"},
		{`{"model": "gpt", "prompt": "a", "max_tokens": 1000000}`, 400, "max_tokens"},
		{`{"model": "gpt", "prompt": "a", "temperature": 9}`, 400, "temperature"},
		{`{"model": "gpt", "prompt": "a", "n": 3}`, 400, "n"},
		{`{"model": "gpt", "prompt": "a", "frobnicate": true}`, 400, "frobnicate"},
		{`{"model": "gpt", "prompt": ""}`, 400, "prompt"},
		{`{"model": "gpt"}`, 400, "prompt"},
		{`{"model": "gpt", "prompt": "` + long + `", "max_tokens": 10}`, 400, "prompt"},
		{`{"model": "gpt", "prompt": "a", "stop": ["", "x"]}`, 400, "stop"},
		{`{"model": "nope", "prompt": "a"}`, 404, "model"},
		{`{"model": "gpt", "text": "a"}`, 400, "text"},
		{`{"model": "gpt", "prompt": "` + strings.Repeat("a", 5000) + `"}`, 413, ""},
	} {
		code, out, _ := post(t, ts.URL+"/v1/completions", c.body)
		e, _ := out["error"].(map[string]any)
		param, _ := e["param"].(string)
		if code != c.status || e == nil || param != c.param || e["message"] == "" {
			t.Errorf("%.60v: %d %v; want %d naming %q", c.body, code, out, c.status, c.param)
		}
	}
	code, out, _ := post(t, ts.URL+"/v1/translate", map[string]any{"model": "gpt", "text": "x"})
	if code != 400 {
		t.Errorf("translate with a language model: %d %v", code, out)
	}
	code, _, _ = post(t, ts.URL+"/v1/completions", map[string]any{"model": "gpt", "prompt": "still here", "max_tokens": 3})
	if code != 200 {
		t.Errorf("after the bad requests: %d", code)
	}
}

// TestQueueFullAndAPIKey: with one row and one waiting place, a third
// request gets 429 with Retry-After; without the key, 401.
func TestQueueFullAndAPIKey(t *testing.T) {
	slowSteps(t) // the eight requests overlap
	_, ts := newTestServer(t, Config{MaxRows: 1, MaxQueue: 1, APIKey: "k"}, map[string]string{"gpt": tinyGPT(t)})
	do := func(key string, maxTokens int) (int, http.Header) {
		b, _ := json.Marshal(map[string]any{"model": "gpt", "prompt": "a", "max_tokens": maxTokens, "temperature": 0})
		req, _ := http.NewRequest("POST", ts.URL+"/v1/completions", bytes.NewReader(b))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if code, _ := do("", 5); code != 401 {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, _ := do("wrong", 5); code != 401 {
		t.Errorf("wrong key: %d, want 401", code)
	}
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, h := do("k", 60)
			if code == 429 && h.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	if n[429] == 0 || n[200] == 0 || n[200]+n[429] != 8 {
		t.Errorf("statuses %v: want some 200 and some 429, nothing else", n)
	}
}

// TestGracefulShutdown: when the context ends (SIGTERM in goformer serve),
// requests in flight finish, new ones are refused, and the server returns.
func TestGracefulShutdown(t *testing.T) {
	s, err := New(Config{Logger: quietLogger()}, map[string]string{"gpt": tinyGPT(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0", 30*time.Second, func(a net.Addr) { addrc <- a }) }()
	url := "http://" + (<-addrc).String()
	// Each step takes at least 2 ms, so a request of 60 tokens is still in
	// flight when the last of the six has its first chunk, however busy the
	// machine: the server is stopped then, not after a guessed sleep.
	stepHook = func() { time.Sleep(2 * time.Millisecond) }
	t.Cleanup(func() { stepHook = nil })
	var wg, started sync.WaitGroup
	results := make(chan string, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			once := sync.OnceFunc(started.Done)
			defer once()
			b, _ := json.Marshal(map[string]any{"model": "gpt", "prompt": "abc", "max_tokens": 60, "temperature": 0, "stream": true})
			resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(b))
			if err != nil {
				results <- "error " + err.Error()
				return
			}
			r := bufio.NewReader(resp.Body)
			first, _ := r.ReadString('\n')
			once()
			rest, _ := io.ReadAll(r)
			resp.Body.Close()
			if body := first + string(rest); resp.StatusCode == 200 && strings.HasSuffix(body, "data: [DONE]\n\n") {
				results <- "ok"
			} else {
				results <- fmt.Sprintf("status %d: %.80s", resp.StatusCode, body)
			}
		}()
	}
	started.Wait() // every request has its first chunk: all six are in flight
	cancel()
	wg.Wait()
	close(results)
	for r := range results {
		if r != "ok" {
			t.Errorf("a request in flight at shutdown: %s", r)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still answers after shutting down")
	}
}

// TestT5TasksMatchPipelines serves the t5-small-shaped hub directory and
// checks /v1/summarize and /v1/answer against the reference's text
// (models/t5/testdata/pipelines.json), and /v1/attention's shape.
func TestT5TasksMatchPipelines(t *testing.T) {
	dir := filepath.Join("..", "models", "t5", "testdata", "t5-small")
	_, ts := newTestServer(t, Config{}, map[string]string{"t5": dir})
	ref := fixture.ReadT5Pipelines(t, "..")
	want := ref.Outputs["t5-small"]
	code, out, _ := post(t, ts.URL+"/v1/summarize", map[string]any{"text": ref.Prompts.Summarize[0]})
	if got, _ := out["summaries"].([]any); code != 200 || len(got) != 1 || got[0] != want["summarize"][0] {
		t.Errorf("summarize: %d %v", code, out)
	}
	code, out, _ = post(t, ts.URL+"/v1/answer", map[string]any{"model": "t5", "question": ref.Prompts.Answer[0][0], "context": ref.Prompts.Answer[0][1]})
	if got, _ := out["answers"].([]any); code != 200 || len(got) != 1 || got[0].(map[string]any)["answer"] != want["answer"][0] {
		t.Errorf("answer: %d %v", code, out)
	}
	code, out, _ = post(t, ts.URL+"/v1/translate", map[string]any{"model": "t5", "text": ref.Prompts.Translate, "beams": 1, "max_new_tokens": 5})
	if got, _ := out["translations"].([]any); code != 200 || len(got) != 2 {
		t.Errorf("translate: %d %v", code, out)
	}
	code, out, _ = post(t, ts.URL+"/v1/attention", map[string]any{"model": "t5", "src": "A dog.", "tgt": "Ein Hund."})
	if maps, _ := out["maps"].([]any); code != 200 || len(maps) != 6 || out["alignment"] == nil {
		t.Errorf("attention: %d %v", code, out["maps"] == nil)
	}
	code, out, _ = post(t, ts.URL+"/v1/summarize", map[string]any{"text": ""})
	if code != 400 {
		t.Errorf("an empty document: %d %v", code, out)
	}
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("goformer playground")) {
		t.Errorf("the playground: %d", resp.StatusCode)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, err := http.Get(ts.URL + p); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, resp, err)
		}
	}
}

// TestSlowClient: a client that never finishes its body gets 408 within
// the body time limit, and the server goes on serving others meanwhile.
func TestSlowClient(t *testing.T) {
	_, ts := newTestServer(t, Config{BodyTimeout: 300 * time.Millisecond}, map[string]string{"gpt": tinyGPT(t)})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\": ")
	start := time.Now()
	code, _, _ := post(t, ts.URL+"/v1/completions", map[string]any{"prompt": "ab", "max_tokens": 3})
	if code != 200 {
		t.Errorf("another client while one is slow: %d", code)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "408") {
		t.Errorf("the slow client got %q, %v; want 408", status, err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("the slow client waited %v", el)
	}
}

// TestServeDType: a server with int8 weights completes, and an unknown
// weight format is refused at start.
func TestServeDType(t *testing.T) {
	_, ts := newTestServer(t, Config{DType: "int8"}, map[string]string{"gpt": tinyGPT(t)})
	code, out, _ := post(t, ts.URL+"/v1/completions", map[string]any{"model": "gpt", "prompt": "the cat", "max_tokens": 8, "temperature": 0})
	if code != 200 {
		t.Fatalf("%d: %v", code, out)
	}
	if text, _ := completionText(t, out); text == "" {
		t.Error("int8 weights completed nothing")
	}
	if _, err := New(Config{DType: "int4", Logger: quietLogger()}, map[string]string{"gpt": tinyGPT(t)}); err == nil || !strings.Contains(err.Error(), "int4") {
		t.Errorf("DType int4: %v", err)
	}
}
