package serve

import "testing"

// TestPrefillGroups: requests sorted by prompt length are split into runs
// whose padding adds at most a quarter to their tokens, in order, each
// request once.
func TestPrefillGroups(t *testing.T) {
	lens := []int{1, 6, 7, 7, 8, 13, 16, 17, 32, 33}
	reqs := make([]*lmReq, len(lens))
	for i, n := range lens {
		reqs[i] = &lmReq{prompt: make([]int32, n)}
	}
	groups := prefillGroups(reqs)
	i := 0
	for _, g := range groups {
		if len(g) == 0 {
			t.Fatal("an empty group")
		}
		tokens, longest := 0, 0
		for _, r := range g {
			if r != reqs[i] {
				t.Fatalf("request %d is out of order or repeated", i)
			}
			i++
			tokens += len(r.prompt)
			longest = max(longest, len(r.prompt))
		}
		if len(g) > 1 && 4*len(g)*longest > 5*tokens {
			t.Errorf("group of %d prompts, longest %d, %d tokens: padding adds more than a quarter", len(g), longest, tokens)
		}
	}
	if i != len(reqs) {
		t.Fatalf("the groups hold %d of %d requests", i, len(reqs))
	}
	if len(groups) < 3 || len(groups) > 6 {
		t.Errorf("%d groups for lengths %v", len(groups), lens)
	}
	if g := prefillGroups(reqs[1:4]); len(g) != 1 {
		t.Errorf("6, 7, 7 should prefill together, got %d groups", len(g))
	}
}
