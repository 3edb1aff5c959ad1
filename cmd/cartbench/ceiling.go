package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ceiling: what this machine's HTTP stack gives, measured by the same client in the same run,
// so cartd's figures can be read as a fraction of it. Two phases: GET /healthz of cartd (its
// HTTP server, router and JSON with no store work), and POST of a cart-sized JSON body to
// the ceiling server, a minimal Go HTTP server that cartbench starts as a separate process
// (as cartd is one), which decodes the body into a cart and encodes it back: the least any
// JSON cart API must do per request. No benchmark-only endpoint goes into cartd.
func runCeiling(ctx context.Context, r *runner) ([]phaseReport, error) {
	srv, err := startCeilingServer(ctx, r.stderr)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	body, err := json.Marshal(sampleCart())
	if err != nil {
		return nil, err
	}
	healthz := make([]shopper, r.conns)
	echo := make([]shopper, r.conns)
	for i := range healthz {
		healthz[i] = &fixedShopper{req: request{method: http.MethodGet, url: r.node(i) + "/healthz"}}
		echo[i] = &fixedShopper{req: request{method: http.MethodPost, url: "http://" + srv.addr + "/cart", body: body}}
	}
	phases := []phaseReport{r.drv.measure(ctx, "ceiling/cartd-healthz", healthz)}
	if ctx.Err() != nil {
		return phases, ctx.Err()
	}
	return append(phases, r.drv.measure(ctx, ceilingPhase, echo)), nil
}

// ceilingPhase is the phase every other phase's req/s is compared with.
const ceilingPhase = "ceiling/json-echo"

// fixedShopper sends the same request again and again.
type fixedShopper struct{ req request }

func (s *fixedShopper) prepare(context.Context) error         { return nil }
func (s *fixedShopper) next() request                         { return s.req }
func (s *fixedShopper) done(int, http.Header, []byte) verdict { return verdict{} }

// sampleCart is a one-line cart as cartd renders it, about 1 KB of JSON: the body the ceiling
// server decodes and encodes (issue 8's "cart-sized JSON").
func sampleCart() cartDoc {
	cust, until, retail := "cust_1042", "2026-05-01T12:15:00Z", int64(2499)
	item := func(n int, sku string, q, unit int64) itemDoc {
		return itemDoc{ID: fmt.Sprintf("ci_%d", 79530+n), Object: "cart_item", ProductID: "prod_tee_42", VariantID: "var_" + sku,
			SKU: sku, ProductName: "Benchmark tee", VariantName: "M", Quantity: q, ReservedQuantity: q,
			UnitPrice: unit, PriceWhenAdded: unit, RetailPrice: &retail, Subtotal: q * unit, Tax: q * unit * 8 / 100,
			Total: q*unit + q*unit*8/100, InventoryStatus: "in_stock", AvailableQuantity: 9000, ReservedUntil: &until,
			CreatedAt: "2026-05-01T12:00:00Z", UpdatedAt: "2026-05-01T12:00:00Z"}
	}
	c := cartDoc{ID: "cart_1042", Object: "cart", CustomerID: &cust, Status: "active", Currency: "USD", Version: 7,
		Items:            []itemDoc{item(1, "TEE-42-M", 2, 1999)},
		UnavailableItems: []itemDoc{}, Coupons: json.RawMessage(`[]`),
		CreatedAt: "2026-05-01T12:00:00Z", UpdatedAt: "2026-05-01T12:00:00Z", LastActivity: "2026-05-01T12:00:00Z",
		Messages: []messageDoc{{Type: "info", Code: "quantity_updated", ItemID: "ci_79531"}}}
	for _, it := range c.Items {
		c.ItemCount += it.Quantity
		c.Subtotal += it.Subtotal
		c.Tax += it.Tax
		c.RetailTotal += retail * it.Quantity
	}
	c.UniqueItemCount = int64(len(c.Items))
	c.Total = c.Subtotal + c.Tax
	c.Saved = c.RetailTotal - c.Subtotal
	return c
}

// ceilingServer is the ceiling server's process, seen from cartbench.
type ceilingServer struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.Closer
}

// startCeilingServer starts `cartbench ceiling-server` (this very executable) and waits for
// the address it prints. The child exits when its stdin closes, so it cannot outlive
// cartbench even if cartbench is killed.
func startCeilingServer(ctx context.Context, stderr io.Writer) (*ceilingServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("ceiling server: %w", err)
	}
	cmd := exec.Command(exe, "ceiling-server", "--addr", "127.0.0.1:0")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ceiling server: %w", err)
	}
	s := &ceilingServer{cmd: cmd, stdin: stdin}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			addr <- strings.TrimPrefix(sc.Text(), ceilingBanner)
		}
		close(addr)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a, ok := <-addr:
		if ok && a != "" {
			s.addr = a
			return s, nil
		}
		err = errors.New("ceiling server: exited before it listened")
	case <-time.After(10 * time.Second):
		err = errors.New("ceiling server: no address after 10s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stop()
	return nil, err
}

// stop closes the child's stdin, which makes it shut down, and kills it if it has not exited
// within five seconds.
func (s *ceilingServer) stop() {
	s.stdin.Close()
	exited := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-exited
	}
}

// ceilingBanner starts the one line the ceiling server prints, with its address after it.
const ceilingBanner = "ceiling-server listening on "

// serveCeiling is the hidden subcommand `cartbench ceiling-server --addr ADDR`. It serves
// POST /cart (decode a cart, encode it back) and GET /healthz until stdin closes or ctx ends.
func serveCeiling(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ceiling-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", handleEcho)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	// The same timeouts as cartd's server, so the two differ only in the work per request.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintln(stdout, ceilingBanner+ln.Addr().String())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin) // returns when the parent closes the pipe or dies
		cancel()
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	return srv.Shutdown(shutdown)
}

// handleEcho decodes a cart and encodes it back, as cartd decodes a request and encodes the
// cart it answers with.
func handleEcho(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var c cartDoc
	if err := json.Unmarshal(body, &c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := json.Marshal(c)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(out, '\n'))
}
