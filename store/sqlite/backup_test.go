package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cartd/cartd/cart"
	"github.com/cartd/cartd/store"
	"github.com/cartd/cartd/store/storetest"
)

func TestBackup(t *testing.T) {
	t.Run("copies the database into a file Open accepts, while the store stays open", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, filepath.Join(dir, "cartd.db"), Options{})
		c := storetest.MustInsertCart(t, s, cart.Cart{Currency: "USD", Status: cart.StatusActive, Version: 5})
		file := filepath.Join(dir, "copy.db")
		if err := s.Backup(t.Context(), file); err != nil {
			t.Fatal(err)
		}
		// The store writes on after the backup; the copy keeps what it saw.
		storetest.MustWrite(t, s, func(ctx context.Context, tx store.Tx) error {
			c.Version = 6
			return tx.UpdateCart(ctx, c)
		})
		copied := mustOpen(t, file, Options{})
		storetest.MustRead(t, copied, func(ctx context.Context, tx store.ReadTx) error {
			got, err := tx.Cart(ctx, c.Num)
			if err != nil {
				return err
			}
			if got.Version != 5 {
				t.Errorf("the copy's cart is at version %d, want 5", got.Version)
			}
			return nil
		})
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if filepath.Ext(e.Name()) != ".db" && filepath.Ext(e.Name()) != ".db-wal" && filepath.Ext(e.Name()) != ".db-shm" {
				t.Errorf("the backup left %s behind", e.Name())
			}
		}
	})

	tests := []struct {
		name    string
		target  func(dir string) string
		wantErr error
	}{
		{"refuses to overwrite an existing file", func(dir string) string {
			p := filepath.Join(dir, "taken.db")
			if err := os.WriteFile(p, nil, 0o644); err != nil { // empty: SQLite itself would write into it
				t.Fatal(err)
			}
			return p
		}, fs.ErrExist},
		{"fails, leaving nothing, into a directory that does not exist", func(dir string) string {
			return filepath.Join(dir, "no", "such", "dir", "copy.db")
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, filepath.Join(t.TempDir(), "cartd.db"), Options{})
			target := tt.target(dir)
			before, _ := os.ReadDir(dir)
			err := s.Backup(t.Context(), target)
			if err == nil {
				t.Fatal("Backup succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Backup = %v, want %v", err, tt.wantErr)
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("a failed backup changed the directory: %d entries, then %d", len(before), len(after))
			}
			if info, err := os.Stat(target); err == nil && info.Size() != 0 {
				t.Errorf("a failed backup wrote %s", target)
			}
		})
	}
}
