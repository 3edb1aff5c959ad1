// Command cartd is the cartd shopping-cart service: `cartd serve` (the default) runs the HTTP
// API; `cartd migrate` brings the database schema up to date; `cartd keys create` makes an API
// key; `cartd import FILE` loads a catalog from NDJSON or CSV.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
