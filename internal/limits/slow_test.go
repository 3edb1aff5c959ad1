package limits_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/internal/limits"
)

// trickle is a POST whose body has not finished arriving: its headers and first byte sent.
type trickle struct {
	conn net.Conn
	rest string
}

// startTrickle sends a POST of body to srv from the client address addr (X-Real-IP), with
// credential as a Bearer token ("" for none), up to the body's first byte.
func startTrickle(t *testing.T, srv *httptest.Server, addr, credential, body string) *trickle {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	auth := ""
	if credential != "" {
		auth = "Authorization: Bearer " + credential + "\r\n"
	}
	fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: x\r\nX-Real-IP: %s\r\n%sContent-Length: %d\r\n\r\n%s", addr, auth, len(body), body[:1])
	return &trickle{conn: conn, rest: body[1:]}
}

// response reads the request's response (sending the rest of the body first when finish); its
// header has Connection: close when the server said it closes the connection.
func (tr *trickle) response(t *testing.T, finish bool) (int, string, http.Header) {
	t.Helper()
	if finish {
		if _, err := io.WriteString(tr.conn, tr.rest); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(tr.conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Close { // http.ReadResponse takes the header out and says so here
		resp.Header.Set("Connection", "close")
	}
	return resp.StatusCode, string(b), resp.Header
}

// echoServer serves g over a handler that echoes the body, and records refusals.
func echoServer(t *testing.T, cfg limits.Config) (*limits.Guard, *httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var refused []string
	cfg.Refused = func(reason string) { mu.Lock(); refused = append(refused, reason); mu.Unlock() }
	cfg.ClientIPHeader = "X-Real-IP"
	g := limits.New(cfg)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler read: %v", err)
		}
		w.Write(b)
	})
	srv := httptest.NewServer(g.Wrap(echo, limits.Door{Fail: failWith, Credential: limits.Bearer}))
	t.Cleanup(srv.Close)
	return g, srv, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(refused) }
}

func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond) // waiting for a condition, not timing anything
	}
}

func TestBodiesArriveBeforeTheyTakeASlot(t *testing.T) {
	g, srv, _ := echoServer(t, limits.Config{MaxInFlight: 1, MaxPendingBodies: 8, BodyTimeout: time.Hour})
	slow := startTrickle(t, srv, "192.0.2.1", "", `{"quantity": 5}`)
	waitFor(func() bool { return g.PendingBodies() == 1 })
	if n := g.InFlight(); n != 0 {
		t.Fatalf("a body still arriving holds %d slots", n)
	}
	// The one slot is free for a request whose body arrived.
	resp, err := srv.Client().Post(srv.URL+"/echo", "text/plain", strings.NewReader("honest"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "honest" {
		t.Fatalf("honest request while a body trickles: %d %q", resp.StatusCode, b)
	}
	if status, body, _ := slow.response(t, true); status != 200 || body != `{"quantity": 5}` {
		t.Fatalf("the slow request, once its body arrived: %d %q", status, body)
	}
}

func TestBodyTimeout(t *testing.T) {
	_, srv, refused := echoServer(t, limits.Config{BodyTimeout: 50 * time.Millisecond})
	slow := startTrickle(t, srv, "192.0.2.1", "", `{"quantity": 5}`)
	status, body, h := slow.response(t, false) // never sends the rest
	if status != 400 || body != limits.BodyTimeout || h.Get("Connection") != "close" {
		t.Fatalf("a body that never arrives: %d %q Connection %q, want 400 %s close", status, body, h.Get("Connection"), limits.BodyTimeout)
	}
	if got := refused(); !slices.Equal(got, []string{limits.BodyTimeout}) {
		t.Fatalf("refusals %v", got)
	}
	// The server closed the connection rather than reading on.
	if _, err := slow.conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection after the refusal: %v, want EOF", err)
	}
}

func TestPendingBodiesPerAddress(t *testing.T) {
	const max = 2
	g, srv, refused := echoServer(t, limits.Config{MaxPendingBodies: max, BodyTimeout: time.Hour})
	var held []*trickle
	for range max {
		held = append(held, startTrickle(t, srv, "192.0.2.1", "", "0123456789"))
	}
	waitFor(func() bool { return g.PendingBodies() == max })

	// One body more from the address is refused, once it has arrived (drained, not served);
	// its connection stays open.
	over := startTrickle(t, srv, "192.0.2.1", "", "0123456789")
	if status, body, h := over.response(t, true); status != 429 || body != limits.PendingBodies || h.Get("Retry-After") == "" || h.Get("Connection") == "close" {
		t.Fatalf("one body more from the address: %d %q Retry-After %q Connection %q", status, body, h.Get("Retry-After"), h.Get("Connection"))
	}
	tests := []struct {
		name, addr, credential string
	}{
		{"another address has a share of its own", "192.0.2.2", ""},
		{"an IPv6 address counts per /64", "2001:db8::1", ""},
		{"a request with a credential is not held to the address's share", "192.0.2.1", auth.NewSecret(auth.KeyPrefix)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := startTrickle(t, srv, tt.addr, tt.credential, "0123456789")
			if status, body, _ := tr.response(t, true); status != 200 || body != "0123456789" {
				t.Fatalf("%d %q", status, body)
			}
		})
	}
	for _, tr := range held {
		if status, _, _ := tr.response(t, true); status != 200 {
			t.Fatalf("held request: %d", status)
		}
	}
	waitFor(func() bool { return g.PendingBodies() == 0 })
	if got := refused(); !slices.Equal(got, []string{limits.PendingBodies}) {
		t.Fatalf("refusals %v", got)
	}
}

func TestLimitSession(t *testing.T) {
	var reasons []string
	g := limits.New(limits.Config{Session: limits.Rate{PerSecond: 1.0 / 3600, Burst: 2}, Now: newClock().Now,
		Refused: func(r string) { reasons = append(reasons, r) }})
	for i, tt := range []struct {
		addr string
		want int
	}{
		{"192.0.2.1:1", 200}, {"192.0.2.1:2", 200}, {"192.0.2.1:3", 429}, {"192.0.2.2:1", 200}, {"192.0.2.1:4", 429},
	} {
		w := httptest.NewRecorder()
		err := g.LimitSession(w, request(tt.addr, ""))
		got := 200
		if err != nil {
			got = 429
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("session %d refused without Retry-After", i)
			}
		}
		if got != tt.want {
			t.Fatalf("session %d from %s: %d, want %d (%v)", i, tt.addr, got, tt.want, err)
		}
	}
	if !slices.Equal(reasons, []string{limits.SessionRateLimited, limits.SessionRateLimited}) {
		t.Fatalf("refusals %v", reasons)
	}
	if err := (*limits.Guard)(nil).LimitSession(httptest.NewRecorder(), request("192.0.2.1:1", "")); err != nil {
		t.Fatalf("nil guard: %v", err)
	}
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		remote, header string
		want           string
	}{
		{"192.0.2.1:1234", "", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.9]:1234", "", "192.0.2.9"},
		{"10.0.0.1:1", "198.51.100.7", "198.51.100.7"},
		{"10.0.0.1:1", "garbage", "10.0.0.1"},
		{"pipe", "", ""},
	}
	g := limits.New(limits.Config{ClientIPHeader: "X-Real-IP"})
	for _, tt := range tests {
		t.Run(tt.remote+" "+tt.header, func(t *testing.T) {
			r := request(tt.remote, "")
			if tt.header != "" {
				r.Header.Set("X-Real-IP", tt.header)
			}
			if got := g.ClientAddr(r); got != tt.want {
				t.Fatalf("ClientAddr = %q, want %q", got, tt.want)
			}
		})
	}
	if got := (*limits.Guard)(nil).ClientAddr(request("192.0.2.1:1", "")); got != "192.0.2.1" {
		t.Fatalf("nil guard: %q", got)
	}
}

// TestRefusedTrickleIsAnsweredAtItsDeadline: a request refused before its body was read is
// answered when its body has arrived or the body deadline passed, so that a client trickling
// bodies cannot cycle through refusals as fast as it connects; then its connection is closed.
func TestRefusedTrickleIsAnsweredAtItsDeadline(t *testing.T) {
	g, srv, refused := echoServer(t, limits.Config{MaxPendingBodies: 1, BodyTimeout: 50 * time.Millisecond})
	held := startTrickle(t, srv, "192.0.2.1", "", "0123456789")
	waitFor(func() bool { return g.PendingBodies() == 1 })
	over := startTrickle(t, srv, "192.0.2.1", "", "0123456789")
	for _, tr := range []*trickle{over, held} {
		status, _, h := tr.response(t, false) // neither finishes its body
		if (status != 429 && status != 400) || h.Get("Connection") != "close" {
			t.Fatalf("a trickle: %d, Connection %q; want 429 or 400 and close", status, h.Get("Connection"))
		}
		if _, err := tr.conn.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("connection after the refusal: %v, want EOF", err)
		}
	}
	got := refused()
	slices.Sort(got)
	if want := []string{limits.BodyTimeout, limits.PendingBodies}; !slices.Equal(got, want) {
		t.Fatalf("refusals %v, want %v", got, want)
	}
}

// TestRefusedExpectContinueIsNotAskedForItsBody: a client that waits for 100 Continue before
// sending its body is refused without being asked for it.
func TestRefusedExpectContinueIsNotAskedForItsBody(t *testing.T) {
	_, srv, _ := echoServer(t, limits.Config{Anonymous: limits.Rate{PerSecond: 1.0 / 3600, Burst: 1}, BodyTimeout: time.Hour})
	first := startTrickle(t, srv, "192.0.2.1", "", "0123456789")
	if status, _, _ := first.response(t, true); status != 200 {
		t.Fatalf("first request: %d", status)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: x\r\nX-Real-IP: 192.0.2.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || !resp.Close {
		t.Fatalf("status %d, close %v; want 429 and the connection closed", resp.StatusCode, resp.Close)
	}
}
