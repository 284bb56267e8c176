package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium or Chrome binary. Without one the browser
// test is skipped, unless GOFORMER_REQUIRE_BROWSER is set (CI sets it,
// after installing Debian's chromium).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GOFORMER_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH, and GOFORMER_REQUIRE_BROWSER is set")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// TestPlaygroundInBrowser drives the playground page in headless Chromium:
// it lists the models, streams a greedy completion into the page (the same
// text the API gives), draws the attention heatmap of what it generated
// and shows a row when the mouse is over it; then it translates with a T5
// model and draws the cross-attention with the alignment.
func TestPlaygroundInBrowser(t *testing.T) {
	exe := chromium(t)
	_, ts := newTestServer(t, Config{}, map[string]string{"gpt": tinyGPT(t), "t5": filepath.Join("..", "models", "t5", "testdata", "t5-small")})
	_, out, _ := post(t, ts.URL+"/v1/completions", map[string]any{"model": "gpt", "prompt": "the cat", "max_tokens": 24, "temperature": 0})
	want, _ := completionText(t, out)
	_, tr, _ := post(t, ts.URL+"/v1/translate", map[string]any{"model": "t5", "text": "A dog runs."})
	wantTr := tr["translations"].([]any)[0].(string)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	choose := func(model, task string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`(() => { const m = document.getElementById("model"); m.value = "` + model +
			`"; m.onchange(); const t = document.getElementById("task"); t.value = "` + task + `"; t.onchange(); })()`)
	}
	do(chromedp.Navigate(ts.URL+"/"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#model option").length === 2`))
	options := text(`[...document.querySelectorAll("#model option")].map(o => o.value).join(",")`)
	do(choose("gpt", "completions"),
		chromedp.SetValue(`#prompt`, "the cat"),
		chromedp.SetValue(`#max_tokens`, "24"),
		chromedp.SetValue(`#temperature`, "0"),
		chromedp.Click(`#run`),
		chromedp.WaitVisible(`#output[data-done="true"]`))
	got := text(`document.getElementById("output").textContent`)
	do(chromedp.WaitVisible(`#heat:not(.hidden)`))
	title := text(`document.getElementById("heattitle").textContent`)
	do(chromedp.Evaluate[chromedp.Void](`(() => { const c = document.getElementById("canvas"), r = c.getBoundingClientRect();
			c.dispatchEvent(new MouseEvent("mousemove", {clientX: r.right - 12, clientY: r.bottom - 16})); })()`),
		chromedp.Poll[chromedp.Void](`document.getElementById("rowinfo").textContent.length > 0`))
	row := text(`document.getElementById("rowinfo").textContent`)
	if options != "gpt,t5" {
		t.Errorf("the page lists %q", options)
	}
	if got != want {
		t.Errorf("the page shows %q; the API gave %q", got, want)
	}
	if !strings.Contains(title, "self attention") || !strings.Contains(row, "→") {
		t.Errorf("heatmap title %q, row %q", title, row)
	}
	do(choose("t5", "translate"),
		chromedp.SetValue(`#src`, "A dog runs."),
		chromedp.Click(`#run`),
		chromedp.WaitVisible(`#output[data-done="true"]`),
		chromedp.Poll[chromedp.Void](`!document.getElementById("heat").classList.contains("hidden") && document.getElementById("heattitle").textContent.includes("cross")`))
	gotTr := text(`document.getElementById("output").textContent`)
	title = text(`document.getElementById("heattitle").textContent`)
	if gotTr != wantTr || !strings.Contains(title, "alignment") {
		t.Errorf("translation in the page %q (API %q), heatmap %q", gotTr, wantTr, title)
	}
}
