package sourcehub

import (
	"encoding/json"
	"fmt"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/money"
	"github.com/cartd/cartd/pricing"
)

// response is the seed's success body.
type response struct {
	Data    cartJSON `json:"data"`
	Message string   `json:"message"`
}

type cartJSON struct {
	CartItemCount     int64       `json:"cart_item_count"`
	TotalCartQuantity int64       `json:"total_cart_quantity"`
	CartTotal         json.Number `json:"cart_total"`
	Discount          json.Number `json:"discount"`
	BillableAmount    json.Number `json:"billable_amount"`
	Items             []itemJSON  `json:"items"`
}

type itemJSON struct {
	ID       int64       `json:"id"`
	Quantity int64       `json:"quantity"`
	Product  productJSON `json:"product"`
}

type productJSON struct {
	ID                 int64               `json:"id"`
	Name               string              `json:"name"`
	Image              string              `json:"image"`
	SKU                string              `json:"sku"`
	HSNCode            string              `json:"hsn_code"`
	Description        string              `json:"description"`
	PricePerUnit       json.Number         `json:"price_per_unit"`
	MaximumRetailPrice json.Number         `json:"maximum_retail_price"`
	Weight             int64               `json:"weight"`
	Vol                int64               `json:"vol"`
	GSTPercent         json.Number         `json:"gst_percent"`
	MeasurementType    measurementTypeJSON `json:"measurementtype"`
	ProductCategory    categoryJSON        `json:"productcategory"`
	ProductPricing     pricingJSON         `json:"productpricing"`
}

type measurementTypeJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type categoryJSON struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Image string `json:"image"`
}

type pricingJSON struct {
	ID        int64       `json:"id"`
	ProductID int64       `json:"product_id"`
	BuyingQty int64       `json:"buying_qty"`
	Price     json.Number `json:"price"`
}

// renderCart renders a cart as the seed's data object (see the package doc for each field).
func renderCart(v cart.View) (cartJSON, error) {
	cur := v.Cart.Currency
	var err error
	num := func(amount int64) json.Number {
		s, e := money.Number(amount, cur)
		if e != nil && err == nil {
			err = fmt.Errorf("sourcehub: render %s amount: %w", cur, e)
		}
		return json.Number(s)
	}
	out := cartJSON{
		CartItemCount: v.UniqueItemCount, TotalCartQuantity: v.ItemCount,
		CartTotal: num(v.Subtotal), Discount: num(v.Discount), BillableAmount: num(v.Total),
		Items: make([]itemJSON, 0, len(v.Lines)+len(v.ExpiredLines)),
	}
	for _, lines := range [][]cart.LineView{v.Lines, v.ExpiredLines} {
		for _, l := range lines {
			out.Items = append(out.Items, itemJSON{ID: l.Item.Num, Quantity: l.Variant.ShownWhole(l.Item.Quantity), Product: renderProduct(l, cur, num)})
		}
	}
	if err != nil {
		return cartJSON{}, err
	}
	return out, nil
}

func renderProduct(l cart.LineView, cur string, num func(int64) json.Number) productJSON {
	tier := pricing.TierIndex(*l.Variant, cur, l.Item.Quantity)
	pricingID, buyingQty := l.Variant.Num*1000, int64(1)
	if tier >= 0 {
		pricingID += int64(tier) + 1
		buyingQty = l.Variant.ShownWhole(l.Variant.Tiers[tier].MinQuantity)
	}
	return productJSON{
		ID: l.Product.Num, Name: l.Variant.MeasuredName(l.Product.Name, l.Item.Quantity), Image: l.Product.ImageURL, SKU: l.Variant.SKU,
		HSNCode: l.Product.TaxCode, Description: l.Product.Description,
		PricePerUnit:       num(l.Variant.Prices[cur]),
		MaximumRetailPrice: num(max(l.RetailPrice, l.UnitPrice)),
		Weight:             l.Variant.WeightGrams,
		GSTPercent:         json.Number(money.NumberDigits(l.Variant.TaxRate, 2)), // basis points to percent
		ProductCategory:    categoryJSON{Name: l.Product.Category},
		ProductPricing:     pricingJSON{ID: pricingID, ProductID: l.Product.Num, BuyingQty: buyingQty, Price: num(l.UnitPrice)},
	}
}
