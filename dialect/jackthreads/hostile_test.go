package jackthreads_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A form value that is not UTF-8 text is refused with 422 in the dialect's failure shape,
// naming the parameter, and changes nothing.
func TestHostileFormsAreRefused(t *testing.T) {
	s := mustServer(t, time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC))
	s.MustProductStock(t, simpleProduct("prod_tee", 2499, "TEE-S"), map[string]int64{"TEE-S": 5})
	token := s.MustToken(t, "alice")
	s.setQty(t, "qty", "2", "sku", "TEE-S", "oauth_token", token).MustStatus(t, http.StatusOK)
	for _, form := range []string{
		"qty=1&sku=TEE-S%C3%28&oauth_token=" + token,
		"qty=1&sku=TEE-S&sale_id=%ED%A0%80&oauth_token=" + token,
	} {
		r := s.post(t, "/services/v1/cart/set_qty", form).MustStatus(t, http.StatusUnprocessableEntity)
		if !utf8.Valid(r.Body) || !strings.Contains(string(r.Body), "invalid_text") || !strings.Contains(string(r.Body), "UTF-8") {
			t.Fatalf("refusal = %s", r.Body)
		}
	}
	body := s.setQty(t, "qty", "2", "sku", "TEE-S", "oauth_token", token).MustStatus(t, http.StatusOK).JSON(t)
	if got := qtys(t, body)["TEE-S"]; got != "2" {
		t.Fatalf("TEE-S quantity %s after refused calls, want 2", got)
	}
}
