// Package console is cartd's operator console: a small web application served by cartd itself
// at /console/ (docs/console.md). Its files are embedded in the binary, so it needs no Node.js
// to build or run and works offline; it is plain JavaScript modules, with no dependency.
//
// The page holds no secret and loads without credentials. It asks for an admin API key, keeps
// it in the browser's session storage only, and calls the public API with it (and reads
// /metrics for its charts) exactly as any client would: the console can never do what the API
// does not allow, and everything it shows an operator can also get with curl.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// contentSecurityPolicy lets the page load only its own files and talk only to its own
// origin: no inline script, no CDN, nothing framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Handler serves the console's files under Prefix, and redirects the bare /console to it.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: " + err.Error()) // the embedded tree always has static/
	}
	fileServer := http.StripPrefix(Prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The files change with the binary: always revalidate (FileServer answers 304s).
		h.Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}
