package main

import (
	"context"
	"net/http"
)

// spread and hot: where a cluster's time goes on one stock row. 256 carts of one line each;
// every client owns every --conns-th cart and, per call, sets a line's quantity (PATCH
// /v1/carts/{id}/items/{item_id} {"quantity": q}, q cycling 1..5 per cart, so every call
// changes the line and moves its stock) with the whole cart in the answer. spread puts each
// cart's line on a SKU of its own, so no two carts share a stock row; hot puts every line on
// one SKU with ample stock, so every call queues on that SKU's stock. Every answer must be a
// 2xx. Compare with the pgceiling phases (ceiling/postgres, ceiling/postgres-hot): the same
// update done by a hand-written transaction.
const contentionCarts = 256

func runSpread(ctx context.Context, r *runner) ([]phaseReport, error) {
	return r.runContention(ctx, "spread", contentionCarts)
}

func runHot(ctx context.Context, r *runner) ([]phaseReport, error) {
	return r.runContention(ctx, "hot", 1)
}

func (r *runner) runContention(ctx context.Context, name string, skus int) ([]phaseReport, error) {
	cat, err := r.makeCatalog(ctx, name, skus, ampleStock)
	if err != nil {
		return nil, err
	}
	ids, lines, err := r.fillMany(ctx, contentionCarts, 1, func(i int) []string {
		k := i % len(cat.skus)
		return cat.skus[k : k+1]
	})
	if err != nil {
		return nil, err
	}
	shoppers := make([]shopper, r.conns)
	for i := range shoppers {
		s := &contentionShopper{base: r.node(i)}
		// With more clients than carts, clients share carts: each still has one.
		for j := i % contentionCarts; j < contentionCarts; j += r.conns {
			if len(lines[j]) != 1 {
				continue
			}
			s.lines = append(s.lines, contentionLine{cart: ids[j], item: lines[j][0].id, quantity: lines[j][0].quantity})
		}
		if len(s.lines) == 0 {
			s.lines = append(s.lines, contentionLine{cart: ids[i%contentionCarts], item: lines[i%contentionCarts][0].id})
		}
		shoppers[i] = s
	}
	return []phaseReport{r.drv.measure(ctx, name, shoppers)}, nil
}

type contentionLine struct {
	cart, item string
	quantity   int64 // the last quantity asked for
}

type contentionShopper struct {
	base  string // the node it talks to
	lines []contentionLine
	turn  int
}

func (s *contentionShopper) prepare(context.Context) error { return nil }

func (s *contentionShopper) next() request {
	l := &s.lines[s.turn%len(s.lines)]
	s.turn++
	l.quantity = l.quantity%5 + 1
	return request{method: http.MethodPatch, url: cartURL(s.base, l.cart) + "/items/" + l.item,
		body: jsonBody("quantity", l.quantity), auth: true}
}

func (s *contentionShopper) done(int, http.Header, []byte) verdict { return verdict{} }
