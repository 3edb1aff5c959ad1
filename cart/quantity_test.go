package cart

import (
	"errors"
	"math"
	"testing"
)

func TestResolveQuantity(t *testing.T) {
	tests := []struct {
		name    string
		req     QuantityRequest
		want    QuantityResult
		wantErr Code
	}{
		{"a set within stock reserves it",
			QuantityRequest{Current: 1, CurrentReserved: 1, Change: SetTo(3), Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: 3, Quantity: 3, Reserved: 3}, ""},
		{"a delta adds to the current quantity",
			QuantityRequest{Current: 2, CurrentReserved: 2, Change: AddDelta(5), Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: 7, Quantity: 7, Reserved: 7}, ""},
		{"zero removes",
			QuantityRequest{Current: 2, CurrentReserved: 2, Change: SetTo(0), Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: 0}, ""},
		{"a delta to below zero removes",
			QuantityRequest{Current: 2, Change: AddDelta(-5), Limit: 999, Free: 10},
			QuantityResult{Requested: -3}, ""},
		{"above the limit is invalid even under clamp",
			QuantityRequest{Change: SetTo(1000), Limit: 999, Free: 5000, Policy: Clamp},
			QuantityResult{}, Invalid},
		{"above a guest cart's limit is invalid even under clamp",
			QuantityRequest{Change: SetTo(3), Limit: 999, GuestLimit: 2, Free: 5000, Policy: Clamp},
			QuantityResult{}, Invalid},
		{"a guest cart's limit allows up to it",
			QuantityRequest{Current: 1, CurrentReserved: 1, Change: AddDelta(1), Limit: 999, GuestLimit: 2, Free: 10, Reserve: true},
			QuantityResult{Requested: 2, Quantity: 2, Reserved: 2}, ""},
		{"reject refuses more than is free",
			QuantityRequest{Current: 1, CurrentReserved: 1, Change: SetTo(11), Limit: 999, Free: 10, Policy: Reject, Reserve: true},
			QuantityResult{}, StockShort},
		{"clamp applies what is free",
			QuantityRequest{Current: 1, CurrentReserved: 1, Change: SetTo(11), Limit: 999, Free: 10, Policy: Clamp, Reserve: true},
			QuantityResult{Requested: 11, Quantity: 10, Reserved: 10, Clamped: true}, ""},
		{"clamp with nothing free removes",
			QuantityRequest{Change: SetTo(2), Limit: 999, Free: 0, Policy: Clamp, Reserve: true},
			QuantityResult{Requested: 2, Quantity: 0, Clamped: true}, ""},
		{"ignore backorders and reserves only what exists",
			QuantityRequest{Change: SetTo(12), Limit: 999, Free: 10, Policy: Ignore, Reserve: true},
			QuantityResult{Requested: 12, Quantity: 12, Reserved: 10, Backorder: true}, ""},
		{"without reservations nothing is held",
			QuantityRequest{Change: SetTo(4), Limit: 999, Free: 10},
			QuantityResult{Requested: 4, Quantity: 4}, ""},
		{"without reservations stock is still checked",
			QuantityRequest{Change: SetTo(11), Limit: 999, Free: 10},
			QuantityResult{}, StockShort},
		{"lowering a short line succeeds under reject",
			QuantityRequest{Current: 12, CurrentReserved: 10, CurrentBackorder: true, Change: SetTo(11), Limit: 999, Free: 10, Reserve: true},
			QuantityResult{Requested: 11, Quantity: 11, Reserved: 10, Backorder: true}, ""},
		{"lowering a lapsed line is checked against the stock under reject",
			QuantityRequest{Current: 5, Change: AddDelta(-1), Limit: 999, Free: 2, Policy: Reject, Reserve: true, Lapsed: true},
			QuantityResult{}, StockShort},
		{"setting a lapsed line to its quantity re-reserves it",
			QuantityRequest{Current: 5, Change: SetTo(5), Limit: 999, Free: 7, Reserve: true, Lapsed: true},
			QuantityResult{Requested: 5, Quantity: 5, Reserved: 5}, ""},
		{"a lapsed line is clamped to what is free",
			QuantityRequest{Current: 5, Change: SetTo(5), Limit: 999, Free: 2, Policy: Clamp, Reserve: true, Lapsed: true},
			QuantityResult{Requested: 5, Quantity: 2, Reserved: 2, Clamped: true}, ""},
		{"a lapsed line is backordered under ignore",
			QuantityRequest{Current: 5, Change: AddDelta(1), Limit: 999, Free: 2, Policy: Ignore, Reserve: true, Lapsed: true},
			QuantityResult{Requested: 6, Quantity: 6, Reserved: 2, Backorder: true}, ""},
		{"a delta that overflows is invalid",
			QuantityRequest{Current: 5, Change: AddDelta(math.MaxInt64), Limit: 999, Free: 10},
			QuantityResult{}, Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.Policy == "" {
				tt.req.Policy = Reject
			}
			got, err := ResolveQuantity(tt.req)
			if tt.wantErr != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.wantErr {
					t.Fatalf("error = %v, want code %s", err, tt.wantErr)
				}
				if e.Code == StockShort && (e.Available == nil || *e.Available != tt.req.Free) {
					t.Errorf("Available = %v, want %d", e.Available, tt.req.Free)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestQuantityMessagesNameRequestedAndApplied(t *testing.T) {
	msgs := QuantityMessages(7, QuantityResult{Requested: 11, Quantity: 10, Reserved: 10, Clamped: true}, 10, false)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.Type != Warning || m.Code != "quantity_clamped" || m.ItemNum != 7 || *m.Requested != 11 || *m.Applied != 10 || *m.Available != 10 {
		t.Errorf("message = %+v", m)
	}
}
