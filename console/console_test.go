package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cartd/cartd/console"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		method, path string
		status       int
		contentType  string // prefix
		body         string // substring
	}{
		{"GET", "/console/", 200, "text/html", `<script type="module" src="app.js">`},
		{"GET", "/console/app.js", 200, "text/javascript", `from "./api.js"`},
		{"GET", "/console/api.js", 200, "text/javascript", `sessionStorage`},
		{"GET", "/console/charts.js", 200, "text/javascript", `export class Chart`},
		{"GET", "/console/style.css", 200, "text/css", `:root`},
		{"HEAD", "/console/", 200, "text/html", ""},
		{"GET", "/console", 301, "", ""},
		{"GET", "/console/missing.js", 404, "text/plain", ""},
		{"POST", "/console/", 405, "text/plain", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s...", ct, tc.contentType)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
			if tc.status == 301 && resp.Header.Get("Location") != "/console/" {
				t.Errorf("redirected to %q", resp.Header.Get("Location"))
			}
			if tc.status == 200 {
				csp := resp.Header.Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
					}
				}
				if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("no X-Content-Type-Options: nosniff")
				}
			}
		})
	}
}

// TestNoRemoteResources holds the page to working offline: no file it serves names another
// origin.
func TestNoRemoteResources(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	for _, f := range []string{"index.html", "app.js", "api.js", "charts.js", "style.css"} {
		resp, err := http.Get(srv.URL + "/console/" + f)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, remote := range []string{"https://", "http://", "//cdn", "@import"} {
			if strings.Contains(strings.ReplaceAll(string(body), "http://www.w3.org/2000/svg", ""), remote) {
				t.Errorf("%s names %q: the console must load nothing from elsewhere", f, remote)
			}
		}
	}
}
