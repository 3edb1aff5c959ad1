package client

import (
	"context"
	"net/http"
)

// The calls of the native API. Each returns what cartd answered, or an *Error. Ids are the
// API's: cart_1042, ci_79532, prod_..., SKUs as the shop chose them.

// CreateCart opens a cart (scope carts:write).
func (c *Client) CreateCart(ctx context.Context, in NewCart, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodPost, "/v1/carts", in, opts)
}

// Cart reads a cart (scope carts:read).
func (c *Client) Cart(ctx context.Context, cartID string, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodGet, "/v1/carts/"+esc(cartID), nil, opts)
}

// AddItem adds units of a variant, merging into its line if the cart has one.
func (c *Client) AddItem(ctx context.Context, cartID string, in NewItem, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodPost, "/v1/carts/"+esc(cartID)+"/items", in, opts)
}

// SetItem is PUT of one line: in.Quantity sets its quantity (0 removes it).
func (c *Client) SetItem(ctx context.Context, cartID, itemID string, in ItemChange, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodPut, "/v1/carts/"+esc(cartID)+"/items/"+esc(itemID), in, opts)
}

// UpdateItem is PATCH of one line: in.Quantity sets, in.QuantityDelta adds (not both).
func (c *Client) UpdateItem(ctx context.Context, cartID, itemID string, in ItemChange, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodPatch, "/v1/carts/"+esc(cartID)+"/items/"+esc(itemID), in, opts)
}

// RemoveItem removes one line.
func (c *Client) RemoveItem(ctx context.Context, cartID, itemID string, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodDelete, "/v1/carts/"+esc(cartID)+"/items/"+esc(itemID), nil, opts)
}

// UpdateItems applies changes in one transaction, all or none.
func (c *Client) UpdateItems(ctx context.Context, cartID string, changes []Change, opts ...CallOption) (*Cart, error) {
	body := struct {
		Changes []Change `json:"changes"`
	}{changes}
	return call[Cart](ctx, c, http.MethodPatch, "/v1/carts/"+esc(cartID)+"/items", body, opts)
}

// ClearCart removes every line.
func (c *Client) ClearCart(ctx context.Context, cartID string, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodDelete, "/v1/carts/"+esc(cartID)+"/items", nil, opts)
}

// ApplyCoupon applies a promotion code.
func (c *Client) ApplyCoupon(ctx context.Context, cartID, code string, opts ...CallOption) (*Cart, error) {
	body := struct {
		Code string `json:"code"`
	}{code}
	return call[Cart](ctx, c, http.MethodPost, "/v1/carts/"+esc(cartID)+"/coupons", body, opts)
}

// RemoveCoupon removes a promotion code.
func (c *Client) RemoveCoupon(ctx context.Context, cartID, code string, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodDelete, "/v1/carts/"+esc(cartID)+"/coupons/"+esc(code), nil, opts)
}

// Checkout turns the cart's reservations into stock commitments and completes it.
func (c *Client) Checkout(ctx context.Context, cartID string, opts ...CallOption) (*Cart, error) {
	return call[Cart](ctx, c, http.MethodPost, "/v1/carts/"+esc(cartID)+"/checkout", nil, opts)
}

// PutProduct creates or replaces product p.ID with its variants (scope catalog:write).
func (c *Client) PutProduct(ctx context.Context, p Product, opts ...CallOption) (*Product, error) {
	return call[Product](ctx, c, http.MethodPut, "/v1/products/"+esc(p.ID), p, opts)
}

// Product reads a product (scope catalog:read).
func (c *Client) Product(ctx context.Context, id string, opts ...CallOption) (*Product, error) {
	return call[Product](ctx, c, http.MethodGet, "/v1/products/"+esc(id), nil, opts)
}

// DeleteProduct deletes a product; the carts holding it show its lines as unavailable.
func (c *Client) DeleteProduct(ctx context.Context, id string, opts ...CallOption) error {
	return c.Do(ctx, http.MethodDelete, "/v1/products/"+esc(id), nil, nil, opts...)
}

// SetStock sets a SKU's on-hand count (scope catalog:write). With IfMatch(stock.Version) it
// never undoes a change it did not see.
func (c *Client) SetStock(ctx context.Context, sku string, onHand int64, opts ...CallOption) (*Inventory, error) {
	body := struct {
		OnHand int64 `json:"on_hand"`
	}{onHand}
	return call[Inventory](ctx, c, http.MethodPut, "/v1/inventory/"+esc(sku), body, opts)
}

// AdjustStock moves a SKU's on-hand count by delta (goods received, goods lost).
func (c *Client) AdjustStock(ctx context.Context, sku string, delta int64, opts ...CallOption) (*Inventory, error) {
	body := struct {
		OnHandDelta int64 `json:"on_hand_delta"`
	}{delta}
	return call[Inventory](ctx, c, http.MethodPatch, "/v1/inventory/"+esc(sku), body, opts)
}

// Stock reads a SKU's stock (scope catalog:read).
func (c *Client) Stock(ctx context.Context, sku string, opts ...CallOption) (*Inventory, error) {
	return call[Inventory](ctx, c, http.MethodGet, "/v1/inventory/"+esc(sku), nil, opts)
}

// Settings reads the shop's settings.
func (c *Client) Settings(ctx context.Context, opts ...CallOption) (*Settings, error) {
	return call[Settings](ctx, c, http.MethodGet, "/v1/settings", nil, opts)
}

// IssueToken issues a customer token (scope admin) valid for ttlSeconds (0: cartd's default).
func (c *Client) IssueToken(ctx context.Context, customerID string, ttlSeconds int64, opts ...CallOption) (*CustomerToken, error) {
	body := struct {
		TTL int64 `json:"ttl_seconds,omitempty"`
	}{ttlSeconds}
	return call[CustomerToken](ctx, c, http.MethodPost, "/v1/customers/"+esc(customerID)+"/tokens", body, opts)
}

// Ready reports whether cartd is ready to serve (GET /readyz answers 200).
func (c *Client) Ready(ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/readyz", nil, nil)
}

func call[T any](ctx context.Context, c *Client, method, path string, in any, opts []CallOption) (*T, error) {
	var out T
	if err := c.Do(ctx, method, path, in, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}
