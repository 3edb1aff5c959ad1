package api

import (
	"net/http"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
)

// cartNum reads the {id} of a cart path; a malformed id is simply a cart that does not exist.
func cartNum(r *http.Request) (int64, error) {
	n, ok := parseID(r.PathValue("id"), cartPrefix)
	if !ok {
		return 0, cart.Errorf(cart.NotFound, "cart_not_found", "no cart %q", r.PathValue("id"))
	}
	return n, nil
}

func itemNum(r *http.Request) (int64, error) {
	n, ok := parseID(r.PathValue("item_id"), itemPrefix)
	if !ok {
		return 0, cart.Errorf(cart.NotFound, "item_not_found", "no item %q", r.PathValue("item_id"))
	}
	return n, nil
}

func (s *Server) handleCartCreate(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, in, ok := decodeBody(s, w, r, decodeCartCreate)
	if !ok {
		return
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusCreated), func(opt engine.Options) (any, error) {
		return s.eng.CreateCart(r.Context(), p, in, opt)
	})
}

func (s *Server) handleCartGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.cartGet(w, r, p, num) // get.go
}

// handleCartPatch assigns a cart to a customer (merging a guest cart into the customer's
// active cart, whose view then answers) or changes its metadata.
func (s *Server) handleCartPatch(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, u, ok := decodeBody(s, w, r, decodeCartPatch)
	if !ok {
		return
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.UpdateCart(r.Context(), p, num, u, opt)
	})
}

// handleCartMerge merges the cart in the path into the cart the body names, and answers
// with the latter.
func (s *Server) handleCartMerge(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, into, ok := decodeBody(s, w, r, decodeMerge)
	if !ok {
		return
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.MergeCart(r.Context(), p, num, into, opt)
	})
}

// update runs one decoded change against the cart named in the path.
func (s *Server) update(w http.ResponseWriter, r *http.Request, p auth.Principal, decode func(body []byte, itemNum int64) (engine.Update, error), needsItem bool) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var item int64
	if needsItem {
		if item, err = itemNum(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	body, u, ok := decodeBody(s, w, r, func(body []byte) (engine.Update, error) { return decode(body, item) })
	if !ok {
		return
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.Update(r.Context(), p, num, []engine.Update{u}, opt)
	})
}

func (s *Server) handleItemAdd(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.update(w, r, p, func(body []byte, _ int64) (engine.Update, error) { return decodeItemAdd(body) }, false)
}

func (s *Server) handleItemPut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.update(w, r, p, func(body []byte, item int64) (engine.Update, error) { return decodeItemChange(body, item, false) }, true)
}

func (s *Server) handleItemPatch(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.update(w, r, p, func(body []byte, item int64) (engine.Update, error) { return decodeItemChange(body, item, true) }, true)
}

func (s *Server) handleItemDelete(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	item, err := itemNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mutate(w, r, p, nil, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.RemoveItem(r.Context(), p, num, item, opt)
	})
}

func (s *Server) handleItemsClear(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.readNoArguments(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mutate(w, r, p, nil, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.ClearCart(r.Context(), p, num, opt)
	})
}

// handleItemsPatch applies a batch of changes atomically (engine.Batch names the failing one).
func (s *Server) handleItemsPatch(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, updates, ok := decodeBody(s, w, r, decodeBatch)
	if !ok {
		return
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.Batch(r.Context(), p, num, updates, opt)
	})
}

// handleCheckout checks a cart out. It takes no arguments: an empty body or a JSON object,
// whose members are ignored (readNoArguments).
func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.readNoArguments(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mutate(w, r, p, nil, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.Checkout(r.Context(), p, num, opt)
	})
}

func (s *Server) handleSalePut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, sale, ok := decodeBody(s, w, r, func(body []byte) (cart.Sale, error) { return decodeSale(body, r.PathValue("id")) })
	if !ok {
		return
	}
	// The sale's state is shown as of the write: the instant it was stored.
	render := func(result any) engine.Response {
		sale := result.(cart.Sale)
		return jsonResponse(http.StatusOK, renderSale(sale, sale.UpdatedAt))
	}
	s.mutate(w, r, p, body, render, func(opt engine.Options) (any, error) {
		return s.eng.PutSale(r.Context(), p, sale, opt)
	})
}

func (s *Server) handleSaleGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	sale, now, err := s.eng.Sale(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, renderSale(sale, now))
}

func (s *Server) handleProductPut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, prod, ok := decodeBody(s, w, r, func(body []byte) (cart.Product, error) { return decodeProduct(body, r.PathValue("id")) })
	if !ok {
		return
	}
	render := func(result any) engine.Response {
		return jsonResponse(http.StatusOK, renderProduct(result.(cart.Product)))
	}
	s.mutate(w, r, p, body, render, func(opt engine.Options) (any, error) {
		return s.eng.PutProduct(r.Context(), p, prod, opt)
	})
}

func (s *Server) handleProductGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	prod, err := s.eng.Product(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, renderProduct(prod))
}

func (s *Server) handleProductDelete(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.mutate(w, r, p, nil, noContent, func(opt engine.Options) (any, error) {
		return nil, s.eng.DeleteProduct(r.Context(), p, r.PathValue("id"), opt)
	})
}

func (s *Server) handleInventoryPut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.inventoryWrite(w, r, p, false)
}

func (s *Server) handleInventoryPatch(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.inventoryWrite(w, r, p, true)
}

func (s *Server) inventoryWrite(w http.ResponseWriter, r *http.Request, p auth.Principal, relative bool) {
	body, ch, ok := decodeBody(s, w, r, func(body []byte) (engine.StockChange, error) { return decodeInventory(body, relative) })
	if !ok {
		return
	}
	s.mutate(w, r, p, body, stockResponse, func(opt engine.Options) (any, error) {
		return s.eng.PutInventory(r.Context(), p, r.PathValue("sku"), ch, opt)
	})
}

func (s *Server) handleInventoryGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	st, err := s.eng.Inventory(r.Context(), p, r.PathValue("sku"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	send(w, stockResponse(st))
}

func (s *Server) handleSettingsGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	st, err := s.eng.Settings(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, renderSettings(st))
}

func (s *Server) handleSettingsPut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, u, ok := decodeBody(s, w, r, decodeSettings)
	if !ok {
		return
	}
	render := func(result any) engine.Response {
		return jsonResponse(http.StatusOK, renderSettings(result.(cart.Settings)))
	}
	s.mutate(w, r, p, body, render, func(opt engine.Options) (any, error) {
		return s.eng.PutSettings(r.Context(), p, u, opt)
	})
}

func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	_, ttl, ok := decodeBody(s, w, r, decodeTokenRequest)
	if !ok {
		return
	}
	secret, t, err := s.eng.IssueToken(r.Context(), p, r.PathValue("customer_id"), time.Duration(ttl)*time.Second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, renderToken(secret, t))
}

func (s *Server) handleTokenRevoke(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, ok := parseID(r.PathValue("token_id"), tokenPrefix)
	if !ok {
		s.writeError(w, r, cart.Errorf(cart.NotFound, "token_not_found", "no token %q", r.PathValue("token_id")))
		return
	}
	if err := s.eng.RevokeToken(r.Context(), p, r.PathValue("customer_id"), num); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
