package engine

import (
	"context"
	"errors"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cartd/cartd/cart"
)

// Spans, when Config.Tracer is set (docs/tracing.md): one per quantity call (Update, Batch:
// the cart, the changes asked for, the outcome) and one per store write transaction (how many
// attempts the store made: a PostgreSQL serialization failure re-runs the whole transaction,
// and each run is an attempt). Every other call shows in a trace as its store transactions.

// startCall starts the span of a quantity call on cart num with changes changes; end records
// its outcome.
func (e *Engine) startCall(ctx context.Context, name string, num int64, changes int) (context.Context, func(cart.View, error)) {
	ctx, span := e.tracer.Start(ctx, name, trace.WithAttributes(
		attribute.String("cartd.cart.id", "cart_"+strconv.FormatInt(num, 10)),
		attribute.Int("cartd.changes", changes),
	))
	return ctx, func(v cart.View, err error) {
		if err != nil {
			outcome := string(cart.ErrorCode(err))
			var replayed *Replayed
			if errors.As(err, &replayed) {
				outcome = "replayed"
			} else if ce := cart.AsError(err); ce.Reason != "" {
				outcome = ce.Reason
			}
			span.SetAttributes(attribute.String("cartd.outcome", outcome))
			if cart.ErrorCode(err) == cart.Internal && outcome != "replayed" {
				span.SetStatus(codes.Error, outcome)
			}
		} else {
			span.SetAttributes(
				attribute.String("cartd.outcome", "ok"),
				attribute.Int64("cartd.cart.version", v.Cart.Version),
				attribute.Int("cartd.messages", len(v.Messages)),
			)
		}
		span.End()
	}
}

// startTx starts the span of a store write transaction.
func (e *Engine) startTx(ctx context.Context) (context.Context, trace.Span) {
	return e.tracer.Start(ctx, "store.Write")
}

// endTx records how many attempts the transaction took and how it ended.
func endTx(span trace.Span, attempts int, err error) {
	span.SetAttributes(
		attribute.Int("cartd.tx.attempts", attempts),
		attribute.Int("cartd.tx.retries", max(attempts-1, 0)),
		attribute.Bool("cartd.tx.committed", err == nil),
	)
	if err != nil && cart.ErrorCode(err) == cart.Internal {
		var replayed *Replayed
		if !errors.As(err, &replayed) {
			span.SetStatus(codes.Error, "transaction failed")
		}
	}
	span.End()
}
