package cart

import (
	"math"
	"testing"
)

func TestMergeQuantity(t *testing.T) {
	tests := []struct {
		name string
		req  MergeRequest
		want QuantityResult
	}{
		{"quantities of one variant are added",
			MergeRequest{Current: 2, CurrentReserved: 2, Add: 3, Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: 5, Quantity: 5, Reserved: 5}},
		{"a new line takes the source's quantity",
			MergeRequest{Add: 3, Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: 3, Quantity: 3, Reserved: 3}},
		{"the sum is clamped to the free stock",
			MergeRequest{Current: 4, CurrentReserved: 4, Add: 4, Limit: 999, Free: 6, Reserve: true},
			QuantityResult{Requested: 8, Quantity: 6, Reserved: 6, Clamped: true}},
		{"the sum is clamped to the per-item limit, never refused",
			MergeRequest{Current: 600, CurrentReserved: 600, Add: 600, Limit: 999, Free: 5000, Reserve: true},
			QuantityResult{Requested: 1200, Quantity: 999, Reserved: 999, Clamped: true}},
		{"a new line with nothing free moves nothing",
			MergeRequest{Add: 3, Limit: 999, Free: 0, Reserve: true},
			QuantityResult{Requested: 3, Quantity: 0, Clamped: true}},
		{"a backordered target line keeps its quantity and flag, the added units clamped away",
			MergeRequest{Current: 8, CurrentReserved: 5, CurrentBackorder: true, Add: 2, Limit: 999, Free: 5, Reserve: true},
			QuantityResult{Requested: 10, Quantity: 8, Reserved: 5, Backorder: true, Clamped: true}},
		{"a short target line takes stock freed since",
			MergeRequest{Current: 8, CurrentReserved: 5, Add: 2, Limit: 999, Free: 7, Reserve: true},
			QuantityResult{Requested: 10, Quantity: 8, Reserved: 7, Clamped: true}},
		{"a target line over a limit lowered since keeps its quantity",
			MergeRequest{Current: 20, CurrentReserved: 20, Add: 1, Limit: 10, Free: 100, Reserve: true},
			QuantityResult{Requested: 21, Quantity: 20, Reserved: 20, Clamped: true}},
		{"without reservations stock is still checked and nothing held",
			MergeRequest{Current: 2, Add: 3, Limit: 999, Free: 4},
			QuantityResult{Requested: 5, Quantity: 4, Clamped: true}},
		{"a sum that overflows saturates and is clamped",
			MergeRequest{Current: 5, CurrentReserved: 5, Add: math.MaxInt64, Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: math.MaxInt64, Quantity: 10, Reserved: 10, Clamped: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MergeQuantity(tt.req); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMergeMessages(t *testing.T) {
	tests := []struct {
		name      string
		itemNum   int64
		res       QuantityResult
		current   int64
		created   bool
		wantCode  string
		wantType  MessageType
		wantItem  int64
		available bool
	}{
		{"a line added to another is item_merged", 7, QuantityResult{Requested: 5, Quantity: 5}, 2, false, "item_merged", Info, 7, false},
		{"a new line is item_merged", 8, QuantityResult{Requested: 3, Quantity: 3}, 0, true, "item_merged", Info, 8, false},
		{"a clamp names the target line and what was available", 7, QuantityResult{Requested: 8, Quantity: 6, Clamped: true}, 4, false, "quantity_clamped", Warning, 7, true},
		{"a new line with nothing available is out_of_stock, naming no line", 0, QuantityResult{Requested: 3, Clamped: true}, 0, true, "out_of_stock", Warning, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := MergeMessages(tt.itemNum, tt.res, tt.current, 6, tt.created)
			if len(msgs) != 1 {
				t.Fatalf("got %d messages", len(msgs))
			}
			m := msgs[0]
			if m.Code != tt.wantCode || m.Type != tt.wantType || m.ItemNum != tt.wantItem {
				t.Errorf("message = %+v, want %s %s on item %d", m, tt.wantType, tt.wantCode, tt.wantItem)
			}
			if m.Requested == nil || *m.Requested != tt.res.Requested || m.Applied == nil || *m.Applied != tt.res.Quantity {
				t.Errorf("message = %+v, want requested %d and applied %d", m, tt.res.Requested, tt.res.Quantity)
			}
			if tt.available && (m.Available == nil || *m.Available != 6) {
				t.Errorf("available = %v, want 6", m.Available)
			}
		})
	}
}
