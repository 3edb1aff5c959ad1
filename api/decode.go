package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/internal/productjson"
	"github.com/cartd/cartd/internal/strictjson"
)

// decodeJSON decodes one JSON object into dst, strictly: unknown fields, trailing data and
// values of the wrong type or out of range are errors a client can act on. Syntax errors
// are Malformed (400); well-formed JSON with bad values is Invalid (422).
func decodeJSON(body []byte, dst any) error {
	return strictjson.Decode(body, dst, "the request body", "malformed_body")
}

// metadataOf turns a request's metadata into the engine's: absent stays nil (unchanged), null
// clears it to an empty object.
func metadataOf(m json.RawMessage) json.RawMessage {
	if m != nil && string(bytes.TrimSpace(m)) == "null" {
		return json.RawMessage("{}")
	}
	return m
}

// policyOf reads the stock policy from Stateset's validate_inventory or cartd's stock_policy;
// the two together are ambiguous and refused.
func policyOf(validateInventory *bool, stockPolicy *string) (cart.Policy, error) {
	switch {
	case validateInventory != nil && stockPolicy != nil:
		return "", cart.InvalidField("conflicting_stock_policy", "validate_inventory", "give validate_inventory or stock_policy, not both")
	case validateInventory != nil && *validateInventory:
		return cart.Reject, nil
	case validateInventory != nil:
		return cart.Ignore, nil
	case stockPolicy != nil:
		return cart.ParsePolicy(*stockPolicy)
	}
	return cart.Reject, nil
}

type cartCreateRequest struct {
	CustomerID *string         `json:"customer_id"`
	Currency   *string         `json:"currency"`
	Metadata   json.RawMessage `json:"metadata"`
}

// decodeCartCreate reads POST /v1/carts; an empty body opens a cart with the defaults.
func decodeCartCreate(body []byte) (engine.NewCart, error) {
	var req cartCreateRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return engine.NewCart{}, err
		}
	}
	var in engine.NewCart
	if req.CustomerID != nil {
		in.CustomerID = *req.CustomerID
		if in.CustomerID == "" {
			return in, cart.InvalidField("invalid_customer_id", "customer_id", "customer_id must not be empty; leave it out for a guest cart")
		}
	}
	if req.Currency != nil {
		in.Currency = *req.Currency
		if in.Currency == "" {
			return in, cart.InvalidField("unknown_currency", "currency", "currency must not be empty; leave it out for the default")
		}
	}
	if m := metadataOf(req.Metadata); m != nil {
		in.Metadata = m
	}
	return in, nil
}

type cartPatchRequest struct {
	CustomerID *string         `json:"customer_id"`
	Metadata   json.RawMessage `json:"metadata"`
}

// decodeCartPatch reads PATCH /v1/carts/{id}: customer_id (not empty: a cart is not handed
// back to nobody) and metadata (null clears it).
func decodeCartPatch(body []byte) (engine.CartUpdate, error) {
	var req cartPatchRequest
	if err := decodeJSON(body, &req); err != nil {
		return engine.CartUpdate{}, err
	}
	if req.CustomerID != nil && *req.CustomerID == "" {
		return engine.CartUpdate{}, cart.InvalidField("invalid_customer_id", "customer_id", "customer_id must not be empty; a cart cannot be taken from its customer")
	}
	return engine.CartUpdate{CustomerID: req.CustomerID, Metadata: metadataOf(req.Metadata)}, nil
}

type mergeRequest struct {
	Into *string `json:"into"`
}

// decodeMerge reads POST /v1/carts/{id}/merge and returns the number of the cart to merge into.
func decodeMerge(body []byte) (int64, error) {
	var req mergeRequest
	if err := decodeJSON(body, &req); err != nil {
		return 0, err
	}
	if req.Into == nil {
		return 0, cart.InvalidField("missing_field", "into", "into is required: the id of the cart to merge into")
	}
	num, ok := parseID(*req.Into, cartPrefix)
	if !ok {
		return 0, cart.InvalidField("invalid_cart_id", "into", "into must be a cart's id, such as cart_42")
	}
	return num, nil
}

type itemAddRequest struct {
	SKU               *string         `json:"sku"`
	VariantID         *string         `json:"variant_id"`
	Quantity          *cart.Decimal   `json:"quantity"`
	Notes             *string         `json:"notes"`
	Metadata          json.RawMessage `json:"metadata"`
	StockPolicy       *string         `json:"stock_policy"`
	ValidateInventory *bool           `json:"validate_inventory"`
}

// decodeItemAdd reads POST /v1/carts/{id}/items. quantity defaults to 1.
func decodeItemAdd(body []byte) (engine.Update, error) {
	var req itemAddRequest
	if err := decodeJSON(body, &req); err != nil {
		return engine.Update{}, err
	}
	u := engine.Update{Add: true, Notes: req.Notes, Metadata: metadataOf(req.Metadata)}
	switch {
	case req.SKU != nil && req.VariantID != nil:
		return u, cart.InvalidField("conflicting_item", "variant_id", "give sku or variant_id, not both")
	case req.SKU != nil && *req.SKU != "":
		u.Item.SKU = *req.SKU
	case req.VariantID != nil && *req.VariantID != "":
		u.Item.VariantID = *req.VariantID
	default:
		return u, cart.InvalidField("missing_item", "sku", "sku or variant_id is required")
	}
	q := cart.Whole(1)
	if req.Quantity != nil {
		q = *req.Quantity
	}
	if err := q.Err("quantity"); err != nil {
		return u, err
	}
	if q.N < 1 {
		return u, cart.InvalidField("invalid_quantity", "quantity", "quantity must be above 0")
	}
	ch := cart.DecimalChange(false, q)
	u.Change = &ch
	var err error
	u.Policy, err = policyOf(req.ValidateInventory, req.StockPolicy)
	return u, err
}

type itemChangeRequest struct {
	Quantity          *cart.Decimal   `json:"quantity"`
	QuantityDelta     *cart.Decimal   `json:"quantity_delta"`
	Notes             *string         `json:"notes"`
	Metadata          json.RawMessage `json:"metadata"`
	ValidateInventory *bool           `json:"validate_inventory"`
	StockPolicy       *string         `json:"stock_policy"`
}

// decodeItemChange reads PUT (set only, Stateset's call) and PATCH (set or delta) of one item.
func decodeItemChange(body []byte, itemNum int64, allowDelta bool) (engine.Update, error) {
	var req itemChangeRequest
	if err := decodeJSON(body, &req); err != nil {
		return engine.Update{}, err
	}
	return req.update(engine.ItemRef{ItemNum: itemNum}, allowDelta)
}

// update turns a decoded change of the line ref names into the engine's update.
func (req itemChangeRequest) update(ref engine.ItemRef, allowDelta bool) (engine.Update, error) {
	u := engine.Update{Item: ref, Notes: req.Notes, Metadata: metadataOf(req.Metadata)}
	switch {
	case req.QuantityDelta != nil && !allowDelta:
		return u, cart.InvalidField("field_not_allowed", "quantity_delta", "quantity_delta is accepted by PATCH only; PUT sets quantity")
	case req.Quantity != nil && req.QuantityDelta != nil:
		return u, cart.InvalidField("conflicting_quantity", "quantity_delta", "give quantity or quantity_delta, not both")
	case req.Quantity != nil:
		if err := req.Quantity.Err("quantity"); err != nil {
			return u, err
		}
		if req.Quantity.N < 0 {
			return u, cart.InvalidField("invalid_quantity", "quantity", "quantity must not be negative (0 removes the item)")
		}
		ch := cart.DecimalChange(true, *req.Quantity)
		u.Change = &ch
	case req.QuantityDelta != nil:
		if err := req.QuantityDelta.Err("quantity_delta"); err != nil {
			return u, err
		}
		if req.QuantityDelta.N == 0 {
			return u, cart.InvalidField("invalid_quantity", "quantity_delta", "quantity_delta must not be 0")
		}
		ch := cart.DecimalChange(false, *req.QuantityDelta)
		u.Change = &ch
	}
	var err error
	u.Policy, err = policyOf(req.ValidateInventory, req.StockPolicy)
	return u, err
}

type batchRequest struct {
	Changes *[]json.RawMessage `json:"changes"`
}

// batchChangeRequest is one change of a batch: a line named by item_id, sku or variant_id,
// changed as PATCH of one item changes it.
type batchChangeRequest struct {
	ItemID            *string         `json:"item_id"`
	SKU               *string         `json:"sku"`
	VariantID         *string         `json:"variant_id"`
	Quantity          *cart.Decimal   `json:"quantity"`
	QuantityDelta     *cart.Decimal   `json:"quantity_delta"`
	Notes             *string         `json:"notes"`
	Metadata          json.RawMessage `json:"metadata"`
	ValidateInventory *bool           `json:"validate_inventory"`
	StockPolicy       *string         `json:"stock_policy"`
}

// decodeBatch reads PATCH /v1/carts/{id}/items: {"changes": [...]}, each change naming exactly
// one of item_id, sku and variant_id (a variant's line is upserted) and taking quantity or
// quantity_delta, notes, metadata and a stock policy as PATCH of one item does. An error in a
// change names it: changes[2].quantity. The engine checks the rest, the most changes
// (max_lines_per_cart) included.
func decodeBatch(body []byte) ([]engine.Update, error) {
	var req batchRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	switch {
	case req.Changes == nil:
		return nil, cart.InvalidField("missing_field", "changes", "changes is required: a list of the changes to apply")
	case len(*req.Changes) == 0:
		return nil, cart.InvalidField("empty_batch", "changes", "changes must hold at least one change")
	}
	updates := make([]engine.Update, 0, len(*req.Changes))
	for i, raw := range *req.Changes {
		u, err := decodeBatchChange(raw)
		if err != nil {
			return nil, inChange(i, err)
		}
		updates = append(updates, u)
	}
	return updates, nil
}

func decodeBatchChange(raw json.RawMessage) (engine.Update, error) {
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		return engine.Update{}, cart.InvalidField("invalid_type", "", "a change must be a JSON object")
	}
	var req batchChangeRequest
	if err := decodeJSON(raw, &req); err != nil {
		return engine.Update{}, err
	}
	var ref engine.ItemRef
	named := 0
	for _, f := range []struct {
		name  string
		value *string
	}{{"item_id", req.ItemID}, {"sku", req.SKU}, {"variant_id", req.VariantID}} {
		if f.value == nil {
			continue
		}
		if named++; named > 1 {
			return engine.Update{}, cart.InvalidField("conflicting_item", f.name, "name the line by one of item_id, sku or variant_id")
		}
		if *f.value == "" {
			return engine.Update{}, cart.InvalidField("missing_item", f.name, "%s must not be empty", f.name)
		}
	}
	switch {
	case req.ItemID != nil:
		n, ok := parseID(*req.ItemID, itemPrefix)
		if !ok {
			return engine.Update{}, cart.InvalidField("invalid_item_id", "item_id", "item_id must be an item's id, such as ci_42")
		}
		ref.ItemNum = n
	case req.SKU != nil:
		ref.SKU = *req.SKU
	case req.VariantID != nil:
		ref.VariantID = *req.VariantID
	default:
		return engine.Update{}, cart.InvalidField("missing_item", "item_id", "name the line by item_id, sku or variant_id")
	}
	return itemChangeRequest{Quantity: req.Quantity, QuantityDelta: req.QuantityDelta, Notes: req.Notes, Metadata: req.Metadata,
		ValidateInventory: req.ValidateInventory, StockPolicy: req.StockPolicy}.update(ref, true)
}

// inChange names change i of a batch in a decoding error: changes[i].<field>.
func inChange(i int, err error) error {
	var e *cart.Error
	if !errors.As(err, &e) {
		return err
	}
	prefix := fmt.Sprintf("changes[%d]", i)
	named := *e
	named.Message = prefix + ": " + e.Message
	named.Fields = nil
	for _, f := range e.Fields {
		name := prefix
		if f.Field != "" {
			name += "." + f.Field
		}
		named.Fields = append(named.Fields, cart.FieldError{Field: name, Message: f.Message})
	}
	return &named
}

// decodeProduct reads PUT /v1/products/{id}. The path names the product; an id in the body
// must agree. active and returnable default to true.
func decodeProduct(body []byte, id string) (cart.Product, error) {
	var req productjson.Product
	if err := decodeJSON(body, &req); err != nil {
		return cart.Product{}, err
	}
	if req.ID != nil && *req.ID != id {
		return cart.Product{}, cart.InvalidField("id_mismatch", "id", "the body's id %q differs from the path's %q", *req.ID, id)
	}
	var variants []cart.Variant
	for i, v := range req.Variants {
		cv, err := v.Cart(i)
		if err != nil {
			return cart.Product{}, err
		}
		variants = append(variants, cv)
	}
	return req.Cart(id, variants)
}

type saleRequest struct {
	ID       *string `json:"id"`
	Name     string  `json:"name"`
	StartsAt *string `json:"starts_at"`
	EndsAt   *string `json:"ends_at"`
}

// decodeSale reads PUT /v1/sales/{id}: name, and starts_at and ends_at as RFC 3339 times (with
// an offset; stored in UTC to the microsecond). The path names the sale; an id in the body
// must agree.
func decodeSale(body []byte, id string) (cart.Sale, error) {
	var req saleRequest
	if err := decodeJSON(body, &req); err != nil {
		return cart.Sale{}, err
	}
	if req.ID != nil && *req.ID != id {
		return cart.Sale{}, cart.InvalidField("id_mismatch", "id", "the body's id %q differs from the path's %q", *req.ID, id)
	}
	s := cart.Sale{ID: id, Name: req.Name}
	for _, f := range []struct {
		name string
		in   *string
		out  *time.Time
	}{{"starts_at", req.StartsAt, &s.StartsAt}, {"ends_at", req.EndsAt, &s.EndsAt}} {
		if f.in == nil {
			return cart.Sale{}, cart.InvalidField("missing_field", f.name, "%s is required", f.name)
		}
		t, err := time.Parse(time.RFC3339Nano, *f.in)
		if err != nil {
			return cart.Sale{}, cart.InvalidField("invalid_time", f.name, "%s must be an RFC 3339 time such as 2030-01-02T15:04:05Z", f.name)
		}
		*f.out = t
	}
	return s, nil
}

type inventoryRequest struct {
	OnHand      *cart.Decimal `json:"on_hand"`
	OnHandDelta *cart.Decimal `json:"on_hand_delta"`
}

// decodeInventory reads PUT (on_hand) and PATCH (on_hand_delta) of /v1/inventory/{sku}.
func decodeInventory(body []byte, relative bool) (engine.StockChange, error) {
	var req inventoryRequest
	if err := decodeJSON(body, &req); err != nil {
		return engine.StockChange{}, err
	}
	switch {
	case relative && req.OnHand != nil:
		return engine.StockChange{}, cart.InvalidField("field_not_allowed", "on_hand", "PATCH takes on_hand_delta; PUT sets on_hand")
	case !relative && req.OnHandDelta != nil:
		return engine.StockChange{}, cart.InvalidField("field_not_allowed", "on_hand_delta", "PUT takes on_hand; PATCH takes on_hand_delta")
	case relative && req.OnHandDelta == nil:
		return engine.StockChange{}, cart.InvalidField("missing_field", "on_hand_delta", "on_hand_delta is required")
	case !relative && req.OnHand == nil:
		return engine.StockChange{}, cart.InvalidField("missing_field", "on_hand", "on_hand is required")
	}
	for _, f := range []struct {
		name string
		d    *cart.Decimal
	}{{"on_hand", req.OnHand}, {"on_hand_delta", req.OnHandDelta}} {
		if f.d != nil {
			if err := f.d.Err(f.name); err != nil {
				return engine.StockChange{}, err
			}
		}
	}
	return engine.StockChange{OnHand: req.OnHand, OnHandDelta: req.OnHandDelta}, nil
}

type settingsRequest struct {
	DefaultCurrency    *string                      `json:"default_currency"`
	PricesIncludeTax   *bool                        `json:"prices_include_tax"`
	MaxQuantityPerItem *int64                       `json:"max_quantity_per_item"`
	MaxLinesPerCart    *int64                       `json:"max_lines_per_cart"`
	Shipping           map[string]cart.ShippingRate `json:"shipping"`
	// MaxGuestQuantityPerItem is the guest cap (engine.SettingsUpdate).
	MaxGuestQuantityPerItem *int64 `json:"max_guest_quantity_per_item"`
}

// decodeSettings reads PUT /v1/settings; fields left out keep their values.
func decodeSettings(body []byte) (engine.SettingsUpdate, error) {
	var req settingsRequest
	if err := decodeJSON(body, &req); err != nil {
		return engine.SettingsUpdate{}, err
	}
	return engine.SettingsUpdate(req), nil
}

type tokenRequest struct {
	TTLSeconds *int64 `json:"ttl_seconds"`
}

// decodeTokenRequest reads POST /v1/customers/{id}/tokens; an empty body takes the default TTL.
func decodeTokenRequest(body []byte) (int64, error) {
	var req tokenRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return 0, err
		}
	}
	if req.TTLSeconds == nil {
		return 0, nil
	}
	if *req.TTLSeconds < 1 || *req.TTLSeconds > int64(engine.MaxTokenTTL.Seconds()) {
		return 0, cart.InvalidField("invalid_ttl", "ttl_seconds", "%s", fmt.Sprintf("ttl_seconds must be between 1 and %d", int64(engine.MaxTokenTTL.Seconds())))
	}
	return *req.TTLSeconds, nil
}
