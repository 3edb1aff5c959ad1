package main

// The operator console (docs/console.md): served by cartd itself at /console/ on --addr,
// unless --console=false turns it off.

import (
	"flag"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cartd/cartd/console"
)

// consoleFlags defines --console on fs, defaulting to its environment twin CARTD_CONSOLE.
func consoleFlags(fs *flag.FlagSet, c *config, env func(key, def string) string) error {
	on, err := strconv.ParseBool(env("CARTD_CONSOLE", "true"))
	if err != nil {
		return fmt.Errorf("CARTD_CONSOLE: want true or false: %w", err)
	}
	fs.BoolVar(&c.console, "console", on, "serve the operator console at /console/ (CARTD_CONSOLE)")
	return nil
}

// mountConsole adds the console to the front doors' mux when it is on.
func mountConsole(mux *http.ServeMux, c config) {
	if c.console {
		mux.Handle(console.Prefix, console.Handler())
	}
}

// consoleURL is where the demo tells a new user to open the console.
func consoleURL(base string) string { return base + console.Prefix }
