package main

// Operating cartd: the shutdown deadline and housekeeping flags of serve, and the operator's
// subcommands keys list, keys revoke and backup (docs/operations.md).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cartd/cartd/auth"
	"github.com/cartd/cartd/engine"
	"github.com/cartd/cartd/store/sqlite"
)

// operatingFlags defines the flags of shutdown and housekeeping on fs, each defaulting to its
// environment twin.
func operatingFlags(fs *flag.FlagSet, c *config, env func(key, def string) string) error {
	shutdownTimeout, err := time.ParseDuration(env("CARTD_SHUTDOWN_TIMEOUT", "10s"))
	if err != nil {
		return fmt.Errorf("CARTD_SHUTDOWN_TIMEOUT: %w", err)
	}
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", shutdownTimeout, "on SIGTERM or SIGINT, how long in-flight requests may take to finish (CARTD_SHUTDOWN_TIMEOUT)")
	guestCartTTL, err := time.ParseDuration(env("CARTD_GUEST_CART_TTL", engine.DefaultGuestCartTTL.String()))
	if err != nil {
		return fmt.Errorf("CARTD_GUEST_CART_TTL: %w", err)
	}
	fs.DurationVar(&c.guestCartTTL, "guest-cart-ttl", guestCartTTL, "how long an untouched guest cart is kept before housekeeping purges it and releases its stock; 0 keeps them (CARTD_GUEST_CART_TTL)")
	return nil
}

func checkOperatingFlags(c config) error {
	if c.shutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout must be positive")
	}
	if c.guestCartTTL < 0 {
		return errors.New("--guest-cart-ttl must not be negative")
	}
	return nil
}

// shutdown stops srv gracefully: it stops accepting connections and closes the idle ones, then
// waits up to timeout for the requests in flight to finish. Each request is its own
// transaction and answers only once it committed, so a request that finishes is acknowledged
// and durable, and one cut off past the deadline (its connection closed, the store closed under
// it by serve) is rolled back or committed whole, never half: nothing acknowledged is lost and
// no cart is half written either way.
func shutdown(srv *http.Server, timeout time.Duration, log *slog.Logger) error {
	log.Info("shutting down", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		log.Warn("shutdown deadline passed with requests in flight; their connections were closed", "timeout", timeout.String())
		return fmt.Errorf("shutdown: requests still in flight after %s", timeout)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("in-flight requests finished; closing the database")
	return nil
}

// keysAdmin runs `cartd keys list` and `cartd keys revoke ID`.
func keysAdmin(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys " + sub)
	c := operatorConfig(fs, getenv)
	synopsis := "cartd keys list [--db DB]\n\nLists every API key, revoked ones included; never a secret."
	if sub == "revoke" {
		synopsis = "cartd keys revoke ID [--db DB]\n\nRevokes the API key ID (as cartd keys list shows it): it stops authenticating."
	}
	pos, err := parseArgs(fs, synopsis, args, stdout)
	if err != nil {
		return err
	}
	var num int64
	switch {
	case sub == "list" && len(pos) != 0:
		return fmt.Errorf("usage: cartd keys list [--db ...] (unexpected %q)", pos[0])
	case sub == "revoke" && len(pos) != 1:
		return errors.New("usage: cartd keys revoke ID [--db ...], ID as cartd keys list shows it")
	case sub == "revoke":
		id := strings.TrimPrefix(pos[0], "key:")
		if num, err = strconv.ParseInt(id, 10, 64); err != nil || num <= 0 {
			return fmt.Errorf("keys revoke: %q is not a key id: want the number cartd keys list shows", pos[0])
		}
	}
	st, err := openExisting(ctx, *c)
	if err != nil {
		return err
	}
	defer st.Close()
	eng := engine.New(st, engine.Config{})
	if sub == "revoke" {
		k, err := eng.RevokeKey(ctx, num)
		if err != nil {
			return fmt.Errorf("keys revoke %d: %w", num, err)
		}
		fmt.Fprintf(stdout, "key %d (%s) revoked at %s\n", k.Num, labelOf(k), k.RevokedAt.Format(time.RFC3339))
		return nil
	}
	keys, err := eng.Keys(ctx)
	if err != nil {
		return fmt.Errorf("keys list: %w", err)
	}
	return printKeys(stdout, keys)
}

// printKeys writes one line per key: never its secret (which was never stored) nor its digest.
func printKeys(w io.Writer, keys []auth.Key) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tSCOPES\tCREATED\tREVOKED")
	for _, k := range keys {
		scopes := make([]string, len(k.Scopes))
		for i, s := range k.Scopes {
			scopes[i] = string(s)
		}
		revoked := "-"
		if !k.RevokedAt.IsZero() {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", k.Num, labelOf(k), strings.Join(scopes, ","), k.CreatedAt.Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func labelOf(k auth.Key) string {
	if k.Label == "" {
		return "-"
	}
	return k.Label
}

// backup runs `cartd backup FILE`: a consistent copy of the SQLite database named by --db,
// taken while cartd serves it (see sqlite.BackupFile).
func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := newFlagSet("backup")
	c := operatorConfig(flags, getenv)
	pos, err := parseArgs(flags, `cartd backup FILE [--db sqlite:PATH]

Writes a consistent copy of the SQLite database to FILE, which must not exist, also while cartd
serves the database. (Back PostgreSQL up with pg_dump.)`, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return errors.New("usage: cartd backup FILE [--db sqlite:PATH]")
	}
	file := pos[0]
	if strings.HasPrefix(c.db, "postgres://") || strings.HasPrefix(c.db, "postgresql://") {
		return errors.New("backup: --db is a PostgreSQL database: back it up with pg_dump (or your provider's snapshots); cartd backup copies SQLite databases")
	}
	path, ok := strings.CutPrefix(c.db, "sqlite:")
	if !ok {
		return fmt.Errorf("backup: --db %q: want sqlite:PATH", redactDB(c.db))
	}
	// Opening would create an empty database where there is none: a backup of nothing.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: no database at %s: %w", path, err)
	}
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("backup: %s already exists; cartd backup never overwrites a file", file)
	}
	// Not through sqlite.Open: that would migrate the file and so wait for the serving
	// cartd's writer.
	if err := sqlite.BackupFile(ctx, path, file); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("backup: %s already exists; cartd backup never overwrites a file", file)
		}
		return err
	}
	info, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes)\n", path, file, info.Size())
	return nil
}
