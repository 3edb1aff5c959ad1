// Command cartd is the cartd shopping-cart service: `cartd serve` (the default) runs the HTTP
// API; `cartd migrate` brings the database schema up to date; `cartd keys create|list|revoke`
// manage API keys; `cartd import FILE` loads a catalog from NDJSON or CSV; `cartd backup FILE`
// copies a SQLite database while it is served.
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
