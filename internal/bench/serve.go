package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ServeLoad is a load to put on a running goformer serve.
type ServeLoad struct {
	URL         string // http://127.0.0.1:8080
	Model       string
	Endpoint    string // "completions" (streamed) or "translate"
	Prompts     []string
	MaxTokens   int // completions
	MinTokens   int // completions: if > 0, each request's max_tokens is drawn from [MinTokens, MaxTokens] (fixed by its index)
	Temperature float64
	Beams       int // translate: the request's beams (0: the model's default)
	Concurrency int // clients, each sending its next request when the last ends
	Requests    int // requests in all
	APIKey      string
}

// ServeResult is what a load measured.
type ServeResult struct {
	Endpoint     string  `json:"endpoint"`
	Concurrency  int     `json:"concurrency"`
	Requests     int     `json:"requests"`
	OK           int     `json:"ok"`
	Refused      int     `json:"refused_429"`
	Errors       int     `json:"errors"`
	Seconds      float64 `json:"seconds"`
	Tokens       float64 `json:"tokens"` // generated, as the server's goformer_tokens_generated_total counted them
	TokensPerSec float64 `json:"tokens_per_s"`
	RequestsPerS float64 `json:"requests_per_s"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	TTFTP50Ms    float64 `json:"ttft_p50_ms,omitempty"` // streamed completions: the first text chunk
	TTFTP99Ms    float64 `json:"ttft_p99_ms,omitempty"`
	FirstError   string  `json:"first_error,omitempty"`
}

// Serve runs the load: Concurrency clients share Requests requests, each
// timed from sending to the last byte (and, streamed, to the first text).
func Serve(ctx context.Context, l ServeLoad) (ServeResult, error) {
	if l.Concurrency < 1 || l.Requests < 1 || len(l.Prompts) == 0 {
		return ServeResult{}, fmt.Errorf("bench: a load needs clients, requests and prompts")
	}
	// Every client keeps its connection alive between requests, as a load
	// balancer or an SDK's pool does: the default transport keeps only two
	// idle connections per host, and the other clients would each open a
	// new one (and the server start a goroutine for it) per request.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = l.Concurrency
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 10 * time.Minute, Transport: tr}
	before, err := tokensGenerated(client, l.URL, l.Model)
	if err != nil {
		return ServeResult{}, err
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat, ttft []float64
	res := ServeResult{Endpoint: l.Endpoint, Concurrency: l.Concurrency, Requests: l.Requests}
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < l.Concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= l.Requests || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				first, status, err := l.one(ctx, client, l.Prompts[i%len(l.Prompts)], l.maxTokens(i))
				el := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil || status != http.StatusOK && status != http.StatusTooManyRequests:
					res.Errors++
					if res.FirstError == "" {
						res.FirstError = fmt.Sprintf("status %d: %v", status, err)
					}
				case status == http.StatusTooManyRequests:
					res.Refused++
				default:
					res.OK++
					lat = append(lat, el.Seconds()*1e3)
					if first > 0 {
						ttft = append(ttft, first.Seconds()*1e3)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	after, err := tokensGenerated(client, l.URL, l.Model)
	if err != nil {
		return res, err
	}
	res.Tokens = after - before
	res.TokensPerSec = res.Tokens / res.Seconds
	res.RequestsPerS = float64(res.OK) / res.Seconds
	res.P50Ms, res.P99Ms = percentile(lat, 50), percentile(lat, 99)
	res.TTFTP50Ms, res.TTFTP99Ms = percentile(ttft, 50), percentile(ttft, 99)
	return res, nil
}

// maxTokens is request i's max_tokens: MaxTokens, or with MinTokens a
// value drawn from [MinTokens, MaxTokens] by a hash of i, the same in
// every run, so that requests end at different steps as real ones do.
func (l *ServeLoad) maxTokens(i int) int {
	if l.MinTokens <= 0 || l.MinTokens >= l.MaxTokens {
		return l.MaxTokens
	}
	z := uint64(i+1) * 0x9e3779b97f4a7c15 // splitmix64
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return l.MinTokens + int(z%uint64(l.MaxTokens-l.MinTokens+1))
}

// one sends one request and reads the whole answer; for a streamed
// completion it also returns the time to the first text.
func (l *ServeLoad) one(ctx context.Context, client *http.Client, prompt string, maxTokens int) (first time.Duration, status int, err error) {
	var body any
	path := "/v1/" + l.Endpoint
	switch l.Endpoint {
	case "completions":
		body = map[string]any{"model": l.Model, "prompt": prompt, "max_tokens": maxTokens, "temperature": l.Temperature, "stream": true}
	case "translate":
		req := map[string]any{"model": l.Model, "text": prompt}
		if l.Beams > 0 {
			req["beams"] = l.Beams
		}
		body = req
	default:
		return 0, 0, fmt.Errorf("bench: endpoint %q (want completions or translate)", l.Endpoint)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(l.URL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if l.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+l.APIKey)
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || l.Endpoint != "completions" {
		_, err = io.Copy(io.Discard, resp.Body)
		return 0, resp.StatusCode, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if line == "data: [DONE]" {
			done = true
			break
		}
		if first == 0 && strings.HasPrefix(line, "data: ") && !strings.Contains(line, `"text":""`) {
			first = time.Since(t0)
		}
	}
	if !done {
		return first, resp.StatusCode, fmt.Errorf("the stream ended without [DONE]: %v", sc.Err())
	}
	// Read the chunked body's end: a body closed before EOF costs its
	// connection, and the next request a new one.
	_, err = io.Copy(io.Discard, resp.Body)
	return first, resp.StatusCode, err
}

// tokensGenerated reads goformer_tokens_generated_total of a model from
// the server's /metrics.
func tokensGenerated(client *http.Client, url, model string) (float64, error) {
	resp, err := client.Get(strings.TrimRight(url, "/") + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	prefix := fmt.Sprintf(`goformer_tokens_generated_total{model=%q} `, model)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			var x float64
			_, err := fmt.Sscan(v, &x)
			return x, err
		}
	}
	return 0, sc.Err()
}

func percentile(x []float64, p float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
