package bench

import "testing"

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
