package observe

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CORS lets browser clients on other origins call cartd (the Fetch standard's CORS protocol).
// It is off unless origins are allowed: a shop's own backend needs none of it, and a browser
// then refuses cross-origin calls as it should.
type CORS struct {
	origins map[string]bool // lower-cased scheme://host[:port]
	any     bool
}

// Methods, headers and lifetime of what a preflight allows, and the response headers a
// browser may show a script: what cartd's front doors read and write.
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, If-Match, Prefer, X-Request-Id, X-EBAY-C-MARKETPLACE-ID"
	corsExposeHeaders = "ETag, Idempotent-Replayed, Preference-Applied, X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Location"
	corsMaxAge        = "600"
)

// ParseCORSOrigins reads --cors-origins: a comma-separated list of origins
// (https://shop.example, http://localhost:3000), or "*" for any origin. Empty turns CORS off.
func ParseCORSOrigins(list string) (CORS, error) {
	c := CORS{}
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
			continue
		case o == "*":
			c.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return CORS{}, fmt.Errorf("CORS origin %q: want scheme://host[:port], such as https://shop.example", o)
		}
		if c.origins == nil {
			c.origins = map[string]bool{}
		}
		c.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return c, nil
}

func (c CORS) enabled() bool { return c.any || len(c.origins) > 0 }

func (c CORS) allows(origin string) bool {
	return origin != "" && (c.any || c.origins[strings.ToLower(origin)])
}

// handle sets the CORS headers of a request from an allowed origin and reports whether it
// answered the request itself (a preflight). A request from another origin passes untouched:
// without the headers the browser keeps the response from the script, and a preflight goes
// on to the front door, which answers OPTIONS as it would without CORS.
//
// A listed origin is echoed and may send credentials (the storefront's session cookie);
// "*" allows any origin without credentials, as the Fetch standard requires.
func (c CORS) handle(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if !c.allows(origin) {
		return false
	}
	if c.origins[strings.ToLower(origin)] {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
