package sourcehub

import (
	"net/url"
	"strconv"

	"github.com/cartd/cartd/cart"
)

// updateItem is a decoded cart/update-item request.
type updateItem struct {
	CustomerID string // canonical decimal: "9" for 9, 09 or +9
	ItemNum    int64  // positive
	Quantity   int64  // 0 or more
}

// decodeUpdateItem reads the query parameters in the seed's order of validation, and reports
// the first problem as an Invalid *cart.Error whose message is the seed's wording.
func decodeUpdateItem(q url.Values) (updateItem, error) {
	var req updateItem
	customer, err := integer(q, "customer_id", "customer id")
	if err != nil {
		return req, err
	}
	req.CustomerID = strconv.FormatInt(customer, 10)
	if req.ItemNum, err = integer(q, "cart_id", "cart id"); err != nil {
		return req, err
	}
	if req.ItemNum <= 0 {
		return req, cart.InvalidField("invalid_item", "cart_id", "The selected cart id is invalid.")
	}
	if req.Quantity, err = integer(q, "quantity", "quantity"); err != nil {
		return req, err
	}
	if req.Quantity < 0 {
		return req, cart.InvalidField("invalid_quantity", "quantity", "The quantity must be at least 0.")
	}
	return req, nil
}

// integer reads a required integer parameter. An empty value is missing, as in the seed's
// framework; a number outside int64 is not an integer it can hold.
func integer(q url.Values, field, label string) (int64, error) {
	s := q.Get(field)
	if s == "" {
		return 0, cart.InvalidField("required", field, "The %s field is required.", label)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, cart.InvalidField("not_integer", field, "The %s must be an integer.", label)
	}
	return n, nil
}
