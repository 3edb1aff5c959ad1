package main

// Browser tests of the operator console (docs/console.md): a real cartd, a real headless
// Chromium (Debian's chromium) driven by chromedp, every step through the page as an operator
// would take it. Skipped with a reason when no Chromium is installed; .ci/run installs it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser the tests drive: $CARTD_TEST_CHROMIUM, else chromium on PATH
// (Debian installs /usr/bin/chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CARTD_TEST_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH (apt-get install chromium, or set CARTD_TEST_CHROMIUM): the console's browser tests are skipped")
	}
	return p
}

// screenshotDir is where the tests leave their screenshots: $CARTD_TEST_SCREENSHOTS when set
// (CI keeps them as artefacts), else a temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("CARTD_TEST_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// demoServer runs cartd --demo in-process on a free port with a temporary database and
// returns its base URL and admin key.
func demoServer(t *testing.T, args ...string) (base, key string) {
	t.Helper()
	return startConsoleDemo(t, env(nil), regexp.MustCompile(`(?s)cartd demo on (http://\S+)\n\s+admin API key: (sk_\S+)\n.*console: (\S+)`), args...)
}

// startConsoleDemo runs cartd --demo until stdout matches re, whose groups are the base URL, the
// admin key and, if it has a third, the console URL printed.
func startConsoleDemo(t *testing.T, getenv func(string) string, re *regexp.Regexp, args ...string) (base, key string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exited := make(chan int, 1)
	args = append([]string{"--demo", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(t.TempDir(), "cartd.db"), "--log-format", "text"}, args...)
	go func() { exited <- run(ctx, args, getenv, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	deadline := time.After(2 * time.Minute)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			if len(m) > 3 && m[3] != m[1]+"/console/" {
				t.Fatalf("the demo prints the console at %s, not under %s", m[3], m[1])
			}
			return m[1], m[2]
		}
		select {
		case code := <-exited:
			t.Fatalf("cartd --demo exited %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		case <-deadline:
			t.Fatalf("cartd --demo printed no console URL\nstdout: %s\nstderr: %s", stdout, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// apiCall makes one request of the native API and decodes its JSON answer into out.
func apiCall(t *testing.T, method, url, key string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
}

// browser starts a headless Chromium with a fresh profile and returns a tab's context, and
// the console messages the page wrote so far (every one is a failure of the test).
func browser(t *testing.T) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	path := chromiumPath(t)
	profile, err := os.MkdirTemp("", "cartd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		// Chromium's helpers may still write to the profile for a moment after it exits.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser before listening
		t.Fatalf("start chromium: %v", err)
	}
	var (
		mu   sync.Mutex
		msgs []chromedp.ConsoleMessage
	)
	stream := chromedp.Console(ctx)
	go func() {
		for m, err := range stream {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				msgs = append(msgs, m)
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), msgs...)
	}
}

// step runs browser actions, bounded so that a page that never gets there fails the test
// instead of hanging it, and fails with what the page logged.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q := fmt.Sprintf(`document.querySelector(%q)`, sel)
	if err := chromedp.Do(sctx, poll(q+" !== null")); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").outerHTML`))
		t.Fatalf("wait for %s: %v\nthe page: %s", sel, err, page)
	}
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](q+".textContent"))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(dir, name))
}

// timelineTypes returns the types of the events the cart's timeline shows, in its order.
func timelineTypes(t *testing.T, ctx context.Context) string {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#cart-timeline tbody tr")].map((r) => r.dataset.type).join(" ")`))
	if err != nil {
		t.Fatalf("read the timeline: %v", err)
	}
	return got
}

// poll waits until a JavaScript predicate holds in the page.
func poll(expr string) chromedp.Action[chromedp.Void] { return chromedp.Poll[chromedp.Void](expr) }

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser tests start Chromium")
	}
	chromiumPath(t) // skip before starting anything
	base, key := demoServer(t, "--reservation-ttl", "10m")
	shots := screenshotDir(t)

	// A customer's cart holding 1 of the 5 limited sneakers (2 once the timeline has been seen),
	// and a promotion to withdraw.
	var c struct {
		ID    string `json:"id"`
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	apiCall(t, "POST", base+"/v1/carts", key, map[string]any{"customer_id": "cust_browser"}, 201, &c)
	apiCall(t, "POST", base+"/v1/carts/"+c.ID+"/items", key, map[string]any{"sku": "SNKR-LTD-42", "quantity": 1}, 200, &c)
	apiCall(t, "PUT", base+"/v1/promotions/WINTER10", key, map[string]any{"type": "percent", "rate": 1000, "name": "Winter ten"}, 200, nil)

	ctx, logged := browser(t)
	defer func() {
		for _, m := range logged() {
			t.Errorf("the page logged %s (%s:%d)", m, m.URL, m.Line)
		}
	}()

	t.Log("the page loads without credentials and asks for the key")
	step(t, ctx, "open the console",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible("#key"),
	)
	screenshot(t, ctx, shots, "console-signin.png")
	step(t, ctx, "sign in",
		chromedp.SendKeys("#key", key),
		chromedp.Click(`#signin-form button[type="submit"]`),
		chromedp.WaitVisible("#nav"),
		chromedp.WaitVisible("#cart-q"),
	)
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("cartd.console.key") + "|" + (localStorage.length)`))
	if err != nil || stored != key+"|0" {
		t.Fatalf("the key is kept as %q (session storage|local storage entries), want %q: %v", stored, key+"|0", err)
	}

	t.Log("find the customer's cart and watch its reservation count down")
	step(t, ctx, "find the cart by customer",
		chromedp.SetValue("#cart-by", "customer"),
		chromedp.SendKeys("#cart-q", "cust_browser"),
		chromedp.Click(`#cart-find button[type="submit"]`),
		chromedp.WaitVisible(`#cart-results button.link`),
		chromedp.Click(`#cart-results button.link`),
		chromedp.WaitVisible(`#cart-view time.countdown`),
	)
	if got := text(t, ctx, "#cart-title"); got != c.ID {
		t.Fatalf("opened %q, want %s", got, c.ID)
	}
	first := text(t, ctx, "#cart-view time.countdown")
	if !regexp.MustCompile(`^(09|10):[0-5][0-9] left$`).MatchString(first) {
		t.Fatalf("the hold of a 10-minute reservation shows %q", first)
	}
	step(t, ctx, "the countdown moves",
		poll(fmt.Sprintf(`document.querySelector("#cart-view time.countdown").textContent !== %q`, first)))
	if next := text(t, ctx, "#cart-view time.countdown"); next >= first {
		t.Fatalf("the countdown went from %q to %q", first, next)
	}

	t.Log("the cart's timeline, and a quantity change made through the API showing in it")
	step(t, ctx, "the timeline is read",
		poll(`document.querySelectorAll("#cart-timeline tbody tr").length === 2`))
	if got := timelineTypes(t, ctx); got != "cart.created cart.item.added" {
		t.Fatalf("the timeline of a new cart with one line shows %q", got)
	}
	apiCall(t, "PATCH", base+"/v1/carts/"+c.ID+"/items/"+c.Items[0].ID, key, map[string]any{"quantity": 2}, 200, nil)
	step(t, ctx, "refresh the cart",
		chromedp.Click("#cart-refresh"),
		poll(`document.querySelector('#cart-timeline tr[data-type="cart.item.quantity_changed"]') !== null`),
	)
	if got := timelineTypes(t, ctx); got != "cart.created cart.item.added cart.item.quantity_changed" {
		t.Fatalf("the timeline after a quantity change shows %q", got)
	}
	row := text(t, ctx, `#cart-timeline tr[data-type="cart.item.quantity_changed"]`)
	if !strings.Contains(row, "SNKR-LTD-42: 1 → 2") || !strings.Contains(row, "request") {
		t.Fatalf("the quantity change in the timeline reads %q, want SNKR-LTD-42: 1 → 2, caused by the request", row)
	}
	if got := text(t, ctx, `#cart-timeline tr[data-type="cart.item.quantity_changed"] td:nth-child(4)`); got != "3" {
		t.Fatalf("the quantity change shows cart version %q, want 3", got)
	}
	screenshot(t, ctx, shots, "console-cart.png")

	t.Log("the SKU's stock, with the cart holding it, and a stock adjustment")
	step(t, ctx, "open the SKU",
		chromedp.Click(`#nav button[data-page="stock"]`),
		chromedp.SendKeys("#stock-q", "SNKR"),
		chromedp.Click(`#stock-find button[type="submit"]`),
		chromedp.WaitVisible(`#stock-results button.link`),
		chromedp.Click(`#stock-results button.link`),
		chromedp.WaitVisible(`#stock-figures`),
	)
	if got := text(t, ctx, `#stock-figures dd[data-figure="available"]`); got != "3" {
		t.Fatalf("SNKR-LTD-42 shows available %q, want 3 (5 on hand, 2 held)", got)
	}
	if got := text(t, ctx, `#stock-view tbody button.link`); got != c.ID {
		t.Fatalf("the cart holding SNKR-LTD-42 shows as %q, want %s", got, c.ID)
	}
	step(t, ctx, "adjust the stock by +4, confirmed",
		chromedp.SendKeys("#stock-delta", "4"),
		chromedp.Click(`#stock-view form button[type="submit"]`),
		chromedp.WaitVisible("#confirm-ok"),
		chromedp.Click("#confirm-ok"),
		poll(`document.querySelector('#stock-figures dd[data-figure="available"]')?.textContent === "7"`),
	)
	var st struct {
		OnHand int64 `json:"on_hand"`
	}
	apiCall(t, "GET", base+"/v1/inventory/SNKR-LTD-42", key, nil, 200, &st)
	if st.OnHand != 9 {
		t.Fatalf("on_hand after the console's +4: %d, want 9", st.OnHand)
	}
	screenshot(t, ctx, shots, "console-stock.png")

	t.Log("live figures from /metrics")
	step(t, ctx, "read the figures",
		chromedp.Click(`#nav button[data-page="figures"]`),
		poll(`/^[0-9]/.test(document.querySelector("#figure-reserved")?.textContent || "")`),
	)
	// Some quantity changes to draw: one cart's line taken up and down 20 times.
	var tee struct {
		ID    string `json:"id"`
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	apiCall(t, "POST", base+"/v1/carts", key, map[string]any{}, 201, &tee)
	apiCall(t, "POST", base+"/v1/carts/"+tee.ID+"/items", key, map[string]any{"sku": "TEE-RED-L", "quantity": 1}, 200, &tee)
	for i := range 20 {
		apiCall(t, "PATCH", base+"/v1/carts/"+tee.ID+"/items/"+tee.Items[0].ID, key, map[string]any{"quantity": 1 + i%3}, 200, nil)
	}
	apiCall(t, "DELETE", base+"/v1/carts/"+tee.ID+"/items", key, nil, 200, nil)
	step(t, ctx, "three readings drawn",
		poll(`(document.querySelector('[data-chart="quantity"] polyline')?.getAttribute("points") || "").split(" ").length >= 3`),
		poll(`/^[0-9]/.test(document.querySelector("#figure-quantity")?.textContent || "")`),
	)
	if got := text(t, ctx, "#figure-reserved"); got != "2" && got != "4" { // the demo's own cart holds 2 TEE-RED-M
		t.Fatalf("units reserved shows %q, want the 2 sneakers (and the demo's 2 tees)", got)
	}
	screenshot(t, ctx, shots, "console-figures.png")

	t.Log("withdraw a promotion")
	step(t, ctx, "withdraw WINTER10, confirmed",
		chromedp.Click(`#nav button[data-page="offers"]`),
		chromedp.WaitVisible(`#promotions table`),
		chromedp.Click(`#promotions button.danger`),
		chromedp.WaitVisible("#confirm-ok"),
		chromedp.Click("#confirm-ok"),
		poll(`document.querySelector("#promotions")?.textContent.includes("No promotions")`),
	)
	apiCall(t, "GET", base+"/v1/promotions/WINTER10", key, nil, 404, nil)
	screenshot(t, ctx, shots, "console-offers.png")

	t.Log("release the cart's reservations")
	step(t, ctx, "release, confirmed",
		chromedp.Click(`#nav button[data-page="carts"]`),
		chromedp.SetValue("#cart-by", "id"),
		chromedp.SetValue("#cart-q", c.ID),
		chromedp.Click(`#cart-find button[type="submit"]`),
		chromedp.WaitVisible(`#cart-view button.danger`),
		chromedp.Click(`#cart-view button.danger`),
		chromedp.WaitVisible("#confirm-ok"),
		chromedp.Click("#confirm-ok"),
		poll(`document.querySelector("#cart-view td span.lapsed") !== null`),
	)
	step(t, ctx, "the release shows in the timeline",
		poll(`document.querySelector('#cart-timeline tr[data-type="reservation.released"]') !== null`))
	if row := text(t, ctx, `#cart-timeline tr[data-type="reservation.released"]`); !strings.Contains(row, "SNKR-LTD-42: 2 units went back to stock") || !strings.Contains(row, "operator") {
		t.Fatalf("the release in the timeline reads %q", row)
	}
	var holds struct {
		Data []any `json:"data"`
	}
	apiCall(t, "GET", base+"/v1/inventory/SNKR-LTD-42/reservations", key, nil, 200, &holds)
	if len(holds.Data) != 0 {
		t.Fatalf("holders of SNKR-LTD-42 after the console's release: %v", holds.Data)
	}

	t.Log("sign out forgets the key")
	step(t, ctx, "sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#key"))
	if left, err := chromedp.Run(ctx, chromedp.Evaluate[int](`sessionStorage.length`)); err != nil || left != 0 {
		t.Fatalf("session storage after sign-out: %d entries (%v)", left, err)
	}
}

func TestConsoleTurnedOff(t *testing.T) {
	// The demo prints its second dialect line after the console's place: by then a console
	// line would have been printed.
	base, _ := startConsoleDemo(t, env(map[string]string{"CARTD_CONSOLE": "false"}),
		regexp.MustCompile(`(?s)cartd demo on (http://\S+)\n\s+admin API key: (sk_\S+)\n.*eBay: `))
	resp, err := http.Get(base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /console/ with CARTD_CONSOLE=false: %d, want 404", resp.StatusCode)
	}
}
