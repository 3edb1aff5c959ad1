package main

// The command line: which command runs, its flags, --help everywhere, and exit codes. Each
// command has a FlagSet of its own that shows only its own flags. Exit codes: 0 done (and
// --help), 1 the command failed, 2 the command line was wrong (an unknown command or flag, a
// flag value that does not parse; `cartd import` also exits 2 when some rows were refused).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/cartd/cartd/internal/buildinfo"
	"github.com/cartd/cartd/store"
)

// command is one of cartd's commands, as `cartd help` lists them.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// commands are cartd's commands in the order `cartd help` shows them. keys has subcommands of
// its own (keysCommands).
func commands() []command {
	return []command{
		{"serve", "run the HTTP API: the native API and the dialects (the default command)", serve},
		{"migrate", "bring the database schema up to date (--create makes a new SQLite file)", migrate},
		{"keys", "create, list and revoke API keys", keys},
		{"import", "load a catalog and its stock from NDJSON or CSV", importCatalog},
		{"backup", "copy a SQLite database, also while it is served", backup},
		{"healthcheck", "exit 0 if the cartd at --url is ready (for a container's HEALTHCHECK)", healthcheck},
		{"version", "print the version, commit, build date and Go version", version},
		{"help", "show the usage of cartd or of one of its commands", help},
	}
}

const usageHead = `cartd is a shopping-cart service: one engine behind a native JSON API and four dialects.

usage: cartd [serve] [flags]           run the HTTP API (flags without a command are serve's)
       cartd COMMAND [flags] [ARGS]

commands:
`

const usageTail = `
Run 'cartd help COMMAND' or 'cartd COMMAND --help' for the flags of a command.
Every flag has an environment twin, named in its description (--db and CARTD_DB).
`

func printTopUsage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, usageTail)
}

// usageError is a command line cartd could not make sense of: run prints it with a hint of
// where the usage is, and exits 2.
type usageError struct {
	cmd string // "keys create"; "" for cartd itself
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// run is cartd as a value: main only wires the process's arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errBadRows):
		return 2 // each refused row was reported as it was read
	case errors.As(err, &ue):
		hint := "cartd help"
		if ue.cmd != "" {
			hint = "cartd " + ue.cmd + " --help"
		}
		fmt.Fprintf(stderr, "cartd: %v (run '%s' for usage)\n", ue.err, hint)
		return 2
	default:
		fmt.Fprintln(stderr, "cartd:", err)
		return 1
	}
}

// dispatch runs the command args name; with none, or flags first, serve.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			printTopUsage(stdout)
			return flag.ErrHelp
		case "-version", "--version":
			return version(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, getenv, stdout, stderr)
		}
	}
	return usagef("", "unknown command %q", name)
}

// help is `cartd help [COMMAND [SUBCOMMAND]]`: what `cartd COMMAND --help` prints.
func help(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || strings.HasPrefix(args[0], "-") {
		printTopUsage(stdout)
		return nil
	}
	return dispatch(ctx, append(append([]string(nil), args...), "--help"), getenv, stdout, stderr)
}

// newFlagSet is an empty FlagSet for the command name. It prints nothing itself: parseArgs
// reports its errors and usage.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses args into fs and returns the positional arguments; flags may come before,
// between or after them, and "--" ends the flags. -h or --help prints the command's usage on
// stdout and returns flag.ErrHelp; any other error is a usageError.
func parseArgs(fs *flag.FlagSet, synopsis string, args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, synopsis, args, stdout); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// parseFlags is fs.Parse with parseArgs' handling of --help and errors.
func parseFlags(fs *flag.FlagSet, synopsis string, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, synopsis)
		return flag.ErrHelp
	}
	if err != nil {
		return &usageError{cmd: fs.Name(), err: err}
	}
	return nil
}

// printUsage writes a command's usage: its synopsis (which may run on for a few lines of
// explanation), then each of its flags with its default.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "usage: %s\n", synopsis)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// operatorConfig is the configuration of an operator's command (migrate, keys, import,
// backup): the database only, with --db defined on fs and defaulting to CARTD_DB.
func operatorConfig(fs *flag.FlagSet, getenv func(string) string) *config {
	c := &config{durability: "normal"}
	def := getenv("CARTD_DB")
	if def == "" {
		def = "sqlite:cartd.db"
	}
	fs.StringVar(&c.db, "db", def, "database: sqlite:PATH or postgres://... (CARTD_DB)")
	return c
}

// openExisting opens the database named by --db for an operator's command, which never
// creates one: a typo in a SQLite path would otherwise leave a new, empty database behind
// and act on it (an empty key list, an import nobody serves).
func openExisting(ctx context.Context, c config) (store.Store, error) {
	if path, ok := strings.CutPrefix(c.db, "sqlite:"); ok {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (cartd serve creates one, as does cartd migrate --create)", path)
		}
	}
	return openStore(ctx, c)
}

// version is `cartd version` (and `cartd --version`).
func version(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
	fs := newFlagSet("version")
	pos, err := parseArgs(fs, "cartd version\n\nPrints the version, the commit, the build date (the commit's time unless the build stamped one) and the Go version.", args, stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version", "unexpected argument %q", pos[0])
	}
	fmt.Fprintln(stdout, buildinfo.Read())
	return nil
}
