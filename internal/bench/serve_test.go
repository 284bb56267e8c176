package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestMaxTokensDrawn: with MinTokens, requests' max_tokens spread over the
// whole range, each within it and the same in every run; without, all are
// MaxTokens.
func TestMaxTokensDrawn(t *testing.T) {
	l := ServeLoad{MaxTokens: 48, MinTokens: 16}
	seen := map[int]bool{}
	sum := 0
	for i := range 2000 {
		n := l.maxTokens(i)
		if n < 16 || n > 48 {
			t.Fatalf("request %d: max_tokens %d outside 16..48", i, n)
		}
		if n != l.maxTokens(i) {
			t.Fatalf("request %d: two draws differ", i)
		}
		seen[n] = true
		sum += n
	}
	if len(seen) != 33 {
		t.Errorf("%d distinct values of the 33 in 16..48", len(seen))
	}
	if mean := float64(sum) / 2000; mean < 30 || mean > 34 {
		t.Errorf("mean max_tokens %.1f, want about 32", mean)
	}
	fixed := ServeLoad{MaxTokens: 48}
	for i := range 10 {
		if n := fixed.maxTokens(i); n != 48 {
			t.Fatalf("without MinTokens: %d", n)
		}
	}
}

// TestServeKeepsConnections: each client of a load keeps one connection
// alive from request to request (a streamed answer is read to its end, and
// the transport keeps an idle connection per client), so a load of many
// requests opens about as many connections as it has clients, not one a
// request.
func TestServeKeepsConnections(t *testing.T) {
	var conns, tokens atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "goformer_tokens_generated_total{model=\"m\"} %d\n", tokens.Load())
	})
	mux.HandleFunc("/v1/completions", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for range 3 {
			fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"a\"}]}\n\n")
			w.(http.Flusher).Flush()
			tokens.Add(1)
		}
		// As goformer serve does, [DONE] goes out before the handler
		// returns and the body's last chunk follows it.
		fmt.Fprint(w, "data: [DONE]\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(time.Millisecond)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	const clients, requests = 6, 120
	res, err := Serve(context.Background(), ServeLoad{URL: srv.URL, Model: "m", Endpoint: "completions",
		Prompts: []string{"x"}, MaxTokens: 3, Concurrency: clients, Requests: requests})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != requests || res.Errors != 0 || res.Tokens != 3*requests {
		t.Fatalf("ok %d, errors %d (%s), tokens %v; want %d, 0, %d", res.OK, res.Errors, res.FirstError, res.Tokens, requests, 3*requests)
	}
	// One a client, and a few more where a dial races a connection going
	// idle (the /metrics reads too); a connection a request was 117 of 120.
	if n := conns.Load(); n > 2*clients {
		t.Errorf("%d requests by %d clients opened %d connections", requests, clients, n)
	}
}
