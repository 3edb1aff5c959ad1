package storefront_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/cartd/cartd/engine"
)

// TestGuestQuantityLimit: a session's cart is a guest cart, so the shop's
// max_guest_quantity_per_item caps it, and a change past the cap answers the seed's quantity
// 400 with the engine's message, under POST's reject and PUT's clamp alike.
func TestGuestQuantityLimit(t *testing.T) {
	s := mustServer(t)
	p := s.MustProduct(t, simpleProduct("prod_flash", 1000, "FLASH"), 100)
	two := int64(2)
	if _, err := s.Engine.PutSettings(t.Context(), s.Principal, engine.SettingsUpdate{MaxGuestQuantityPerItem: &two}, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("prod%d_FLASH_dflt", p.Num)
	b := s.shopper(t)
	b.add(t, key, 2).MustStatus(t, http.StatusOK)
	want := `{"quantity":["Quantity 3 is above the limit of 2 per item for a guest cart; a signed-in customer's cart may hold up to 999."]}`
	b.add(t, key, 1).MustBody(t, http.StatusBadRequest, want)
	b.update(t, key, 1).MustBody(t, http.StatusBadRequest, want)
	if got := quantities(t, b.view(t))[key]; got != 2 {
		t.Fatalf("quantity %d after refused changes, want 2", got)
	}
	b.update(t, key, -1).MustStatus(t, http.StatusOK)
}
