package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/cartjson"
)

// Promotions (PUT/GET/DELETE /v1/promotions/{code}) and the coupons of a cart
// (POST /v1/carts/{id}/coupons, DELETE /v1/carts/{id}/coupons/{code}).

type couponJSON = cartjson.Coupon

func renderCoupons(v cart.View) []couponJSON { return cartjson.Coupons(v) }

// promotionJSON is the promotion resource, as written (PUT) and read.
type promotionJSON struct {
	Code        string           `json:"code"`
	Object      string           `json:"object"`
	Number      int64            `json:"number"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Type        string           `json:"type"`
	Method      string           `json:"method"`
	Rate        *int64           `json:"rate"`
	Amount      map[string]int64 `json:"amount"`
	Conditions  conditionsJSON   `json:"conditions"`
	StartsAt    *string          `json:"starts_at"`
	EndsAt      *string          `json:"ends_at"`
	Active      bool             `json:"active"`
	CreatedAt   string           `json:"created_at"`
	UpdatedAt   string           `json:"updated_at"`
}

type conditionsJSON struct {
	MinSubtotal map[string]int64 `json:"min_subtotal"`
	MinQuantity int64            `json:"min_quantity"`
	SKUs        []string         `json:"skus"`
	ProductIDs  []string         `json:"product_ids"`
	Brands      []string         `json:"brands"`
	SaleIDs     []string         `json:"sale_ids"`
}

func renderPromotion(p cart.Promotion) promotionJSON {
	orEmpty := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	orNone := func(m map[string]int64) map[string]int64 {
		if m == nil {
			return map[string]int64{}
		}
		return m
	}
	out := promotionJSON{Code: p.Code, Object: "promotion", Number: p.Num, Name: p.Name, Description: p.Description,
		Type: string(p.Type), Method: string(p.Method), Amount: orNone(p.Amounts),
		Conditions: conditionsJSON{MinSubtotal: orNone(p.MinSubtotal), MinQuantity: p.MinQuantity, SKUs: orEmpty(p.SKUs),
			ProductIDs: orEmpty(p.ProductIDs), Brands: orEmpty(p.Brands), SaleIDs: orEmpty(p.SaleIDs)},
		StartsAt: optTime(p.StartsAt), EndsAt: optTime(p.EndsAt), Active: p.Active,
		CreatedAt: timeJSON(p.CreatedAt), UpdatedAt: timeJSON(p.UpdatedAt)}
	if p.Type == cart.Percent {
		out.Rate = &p.Rate
	}
	return out
}

type promotionRequest struct {
	Code        *string            `json:"code"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Type        string             `json:"type"`
	Method      string             `json:"method"`
	Rate        *int64             `json:"rate"`
	Amount      map[string]int64   `json:"amount"`
	Conditions  *conditionsRequest `json:"conditions"`
	StartsAt    *string            `json:"starts_at"`
	EndsAt      *string            `json:"ends_at"`
	Active      *bool              `json:"active"`
}

type conditionsRequest struct {
	MinSubtotal map[string]int64 `json:"min_subtotal"`
	MinQuantity int64            `json:"min_quantity"`
	SKUs        []string         `json:"skus"`
	ProductIDs  []string         `json:"product_ids"`
	Brands      []string         `json:"brands"`
	SaleIDs     []string         `json:"sale_ids"`
}

// decodePromotion reads PUT /v1/promotions/{code}. The path names the promotion; a code in the
// body must agree (codes are case-insensitive). active defaults to true, method to manual;
// starts_at and ends_at are RFC 3339 instants, null or left out for an open window.
func decodePromotion(body []byte, code string) (cart.Promotion, error) {
	var req promotionRequest
	if err := decodeJSON(body, &req); err != nil {
		return cart.Promotion{}, err
	}
	if req.Code != nil && !strings.EqualFold(*req.Code, code) {
		return cart.Promotion{}, cart.InvalidField("code_mismatch", "code", "the body's code %q differs from the path's %q", *req.Code, code)
	}
	p := cart.Promotion{Code: code, Name: req.Name, Description: req.Description, Type: cart.PromotionType(req.Type),
		Method: cart.Method(req.Method), Amounts: req.Amount, Active: req.Active == nil || *req.Active}
	if req.Type == "" {
		return cart.Promotion{}, cart.InvalidField("missing_field", "type", "type is required: cash, percent, freeship, fixedprice or lowestcost")
	}
	if req.Rate != nil {
		p.Rate = *req.Rate
	}
	if c := req.Conditions; c != nil {
		p.MinSubtotal, p.MinQuantity = c.MinSubtotal, c.MinQuantity
		p.SKUs, p.ProductIDs, p.Brands, p.SaleIDs = c.SKUs, c.ProductIDs, c.Brands, c.SaleIDs
	}
	for _, t := range []struct {
		field string
		src   *string
		dst   *time.Time
	}{{"starts_at", req.StartsAt, &p.StartsAt}, {"ends_at", req.EndsAt, &p.EndsAt}} {
		if t.src == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, *t.src)
		if err != nil {
			return cart.Promotion{}, cart.InvalidField("invalid_time", t.field, "%s must be an RFC 3339 instant such as 2026-06-01T00:00:00Z", t.field)
		}
		*t.dst = at.UTC().Truncate(time.Microsecond)
	}
	return p, nil
}

type couponRequest struct {
	Code *string `json:"code"`
}

// decodeCoupon reads POST /v1/carts/{id}/coupons.
func decodeCoupon(body []byte) (string, error) {
	var req couponRequest
	if err := decodeJSON(body, &req); err != nil {
		return "", err
	}
	if req.Code == nil || *req.Code == "" {
		return "", cart.InvalidField("missing_field", "code", "code is required")
	}
	return *req.Code, nil
}

func (s *Server) handlePromotionPut(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, promo, ok := decodeBody(s, w, r, func(body []byte) (cart.Promotion, error) { return decodePromotion(body, r.PathValue("code")) })
	if !ok {
		return
	}
	render := func(result any) engine.Response {
		promo := result.(cart.Promotion)
		resp := jsonResponse(http.StatusOK, renderPromotion(promo))
		resp.Header["ETag"] = etag(engine.PromotionVersion(promo))
		return resp
	}
	s.mutate(w, r, p, body, render, func(opt engine.Options) (any, error) {
		return s.eng.PutPromotion(r.Context(), p, promo, opt)
	})
}

func (s *Server) handlePromotionGet(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	promo, err := s.eng.Promotion(r.Context(), p, r.PathValue("code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(engine.PromotionVersion(promo)))
	s.writeJSON(w, http.StatusOK, renderPromotion(promo))
}

func (s *Server) handlePromotionDelete(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s.mutate(w, r, p, nil, noContent, func(opt engine.Options) (any, error) {
		return nil, s.eng.DeletePromotion(r.Context(), p, r.PathValue("code"), opt)
	})
}

// handleCouponApply applies a code to the cart in the path and answers with the cart.
func (s *Server) handleCouponApply(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, code, ok := decodeBody(s, w, r, decodeCoupon)
	if !ok {
		return
	}
	s.mutate(w, r, p, body, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.ApplyCoupon(r.Context(), p, num, code, opt)
	})
}

// handleCouponRemove takes a code off the cart in the path and answers with the cart.
func (s *Server) handleCouponRemove(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	num, err := cartNum(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mutate(w, r, p, nil, s.changeResponse(r, http.StatusOK), func(opt engine.Options) (any, error) {
		return s.eng.RemoveCoupon(r.Context(), p, num, r.PathValue("code"), opt)
	})
}
