package gpt

import (
	"math"
	"path/filepath"
	"testing"
)

// TestJoinKeepMatchesSolo: rows that join a running decoder (continuous
// batching) and rows that leave it give, at every step, the logits they
// give decoding alone.
func TestJoinKeepMatchesSolo(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	v := m.Config.VocabSize
	// Prompt 3 is longer than the running rows' history when it joins (they
	// move right), prompts 1 and 2 shorter (they are padded).
	prompts := [][]int32{{3, 17, 5, 9, 30}, {1, 2, 3, 4, 5, 6, 7}, {11}, {2, 4, 6, 8, 10, 12, 14, 16, 18}}
	joinAt := []int{0, 3, 5, 1}   // the step at which each prompt joins
	leaveAt := []int{8, 12, 9, 6} // the step before which it leaves
	// Solo: each prompt alone, greedy, its logits at every step.
	next := func(row []float32) int32 {
		best := 0
		for i, x := range row {
			if x > row[best] {
				best = i
			}
		}
		return int32(best)
	}
	solo := make([][][]float32, len(prompts))
	tokens := make([][]int32, len(prompts))
	for i, p := range prompts {
		d, err := m.NewDecoder([][]int32{p}, 1, leaveAt[i]-joinAt[i])
		if err != nil {
			t.Fatal(err)
		}
		tok := d.Starts()[0]
		for s := joinAt[i]; s < leaveAt[i]; s++ {
			logits, err := d.Step([]int32{tok}, nil)
			if err != nil {
				t.Fatal(err)
			}
			solo[i] = append(solo[i], append([]float32(nil), logits...))
			tok = next(logits)
			tokens[i] = append(tokens[i], tok)
		}
	}
	// Together: prompt 0 starts the decoder (with room for the others),
	// the others join and every prompt leaves at its step.
	d, err := m.NewDecoder(prompts[:1], 1, m.Config.NPositions-len(prompts[0])+1)
	if err != nil {
		t.Fatal(err)
	}
	live := []int{0}               // prompt of each row
	feed := []int32{d.Starts()[0]} // each row's next input
	for step := 0; step < 12; step++ {
		for i := range prompts {
			if joinAt[i] == step && i > 0 {
				if err := d.Join(prompts[i : i+1]); err != nil {
					t.Fatal(err)
				}
				live = append(live, i)
				feed = append(feed, d.Starts()[d.Rows()-1])
			}
		}
		var keep []int
		for r, i := range live {
			if leaveAt[i] > step {
				keep = append(keep, r)
			}
		}
		if len(keep) < len(live) {
			if err := d.Keep(keep); err != nil {
				t.Fatal(err)
			}
			var l []int
			var f []int32
			for _, r := range keep {
				l, f = append(l, live[r]), append(f, feed[r])
			}
			live, feed = l, f
		}
		if len(live) == 0 {
			break
		}
		logits, err := d.Step(feed, nil)
		if err != nil {
			t.Fatal(err)
		}
		for r, i := range live {
			want := solo[i][step-joinAt[i]]
			got := logits[r*v : (r+1)*v]
			for j := range want {
				if math.Abs(float64(got[j]-want[j])) > 1e-4*(1+math.Abs(float64(want[j]))) {
					t.Fatalf("step %d, prompt %d: logit %d is %g together, %g alone", step, i, j, got[j], want[j])
				}
			}
			feed[r] = tokens[i][step-joinAt[i]]
		}
	}
	// The last row holds its prompt less one and its 9 steps; the
	// padding it was given when it joined went with the first row.
	if d.Len() != len(prompts[1])-1+leaveAt[1]-joinAt[1] {
		t.Errorf("the cache holds %d positions; TrimLeft should have left the last row's %d", d.Len(), len(prompts[1])-1+leaveAt[1]-joinAt[1])
	}
}

// TestGrowMatchesRoomFromTheStart: a decoder started with room for its
// first prompt only, grown when a longer one joins, gives at every step
// the logits, bit for bit, of one that had the room from the start.
func TestGrowMatchesRoomFromTheStart(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	// The second prompt is longer than the first's history when it joins:
	// the grown cache's rows move right within their new room.
	first, second := []int32{3, 17, 5}, []int32{1, 2, 3, 4, 5, 6}
	run := func(grow bool) [][]float32 {
		maxNew := 12
		if grow {
			maxNew = 2
		}
		d, err := m.NewDecoder([][]int32{first}, 1, maxNew)
		if err != nil {
			t.Fatal(err)
		}
		feed := []int32{d.Starts()[0]}
		var out [][]float32
		for step := range 10 {
			if step == 2 {
				if grow {
					if d.Len() < d.Cap() {
						t.Fatalf("the small decoder has room for %d positions, %d used; the test needs it full", d.Cap(), d.Len())
					}
					if err := d.Grow(14); err != nil {
						t.Fatal(err)
					}
				}
				if err := d.Join([][]int32{second}); err != nil {
					t.Fatal(err)
				}
				feed = append(feed, d.Starts()[1])
			}
			logits, err := d.Step(feed, nil)
			if err != nil {
				t.Fatalf("grow %v, step %d: %v", grow, step, err)
			}
			out = append(out, append([]float32(nil), logits...))
			for r := range feed {
				feed[r] = int32(1 + (step+r)%20)
			}
		}
		return out
	}
	want, got := run(false), run(true)
	for s := range want {
		for j := range want[s] {
			if math.Float32bits(got[s][j]) != math.Float32bits(want[s][j]) {
				t.Fatalf("step %d, logit %d: %g after Grow, %g with room from the start", s, j, got[s][j], want[s][j])
			}
		}
	}
	d, err := m.NewDecoder([][]int32{first}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Grow(m.Config.NPositions + 1); err == nil {
		t.Error("Grow beyond the model's context: no error")
	}
}

// TestKeepNoneThenJoin: a decoder emptied by Keep (a server's batch whose
// rows have all finished) takes new prompts by Join and gives, bit for
// bit, the logits of a new decoder of those prompts; Step without rows is
// an error, not a panic.
func TestKeepNoneThenJoin(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	first := [][]int32{{3, 17, 5, 9, 30, 2, 8}, {1, 2}}
	d, err := m.NewDecoder(first, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, err := d.Step([]int32{4, 5}, nil); err != nil {
			t.Fatal(err)
		}
	}
	bytes := d.CacheBytes()
	if err := d.Keep(nil); err != nil {
		t.Fatal(err)
	}
	if d.Rows() != 0 || d.Len() != 0 {
		t.Fatalf("after Keep of no rows: %d rows, %d positions", d.Rows(), d.Len())
	}
	if _, err := d.Step(nil, nil); err == nil {
		t.Fatal("Step without rows: no error")
	}
	next := [][]int32{{11, 12}, {2, 4, 6}}
	if err := d.Join(next); err != nil {
		t.Fatal(err)
	}
	if got := d.CacheBytes(); got > bytes {
		t.Errorf("the caches grew from %d to %d bytes for fewer positions", bytes, got)
	}
	fresh, err := m.NewDecoder(next, 1, 14)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != fresh.Len() {
		t.Fatalf("joined into an emptied decoder: %d positions, a new one %d", d.Len(), fresh.Len())
	}
	feed, feedFresh := append([]int32(nil), d.Starts()...), fresh.Starts()
	for step := range 5 {
		a, err := d.Step(feed, nil)
		if err != nil {
			t.Fatal(err)
		}
		a = append([]float32(nil), a...)
		b, err := fresh.Step(feedFresh, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			if a[i] != b[i] {
				t.Fatalf("step %d: logit %d is %g after the emptied decoder's join, %g from a new one", step, i, a[i], b[i])
			}
		}
		feed, feedFresh = []int32{int32(step), 7}, []int32{int32(step), 7}
	}
}
