package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/goformer/goformer/serve"
)

// Serve a GPT-2 directory and ask it for a completion, as an OpenAI client
// would. (goformer serve does the same on a real listener, with a graceful
// drain on SIGTERM: Server.ListenAndServe.)
func Example() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // goformer serve logs a line per request
	s, err := serve.New(serve.Config{MaxRows: 8, Logger: quiet}, map[string]string{"gpt": "../cmd/goformer/testdata/gpt2-pretrained"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	body := `{"model": "gpt", "prompt": "Hello", "max_tokens": 5, "temperature": 0}`
	resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Object  string `json:"object"`
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, out.Object, out.Choices[0].FinishReason, out.Usage.CompletionTokens)
	// Output: 200 text_completion length 5
}
