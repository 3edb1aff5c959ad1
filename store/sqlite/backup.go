package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database to a new file at path while the store goes
// on serving (see BackupFile).
func (s *Store) Backup(ctx context.Context, path string) error {
	src, err := s.file(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return BackupFile(ctx, src, path)
}

// BackupFile writes a consistent copy of the database file src to a new file at path, while
// any process (a serving cartd) goes on reading and writing src: SQLite's VACUUM INTO reads
// one snapshot, as any reader in WAL mode does, so it never waits for the writer nor makes it
// wait. It neither migrates src nor takes its write lock, so a busy server cannot hold it up.
// The copy is a complete database of its own (no WAL beside it) that Open accepts.
//
// An existing file at path is never overwritten: the copy is written to a fresh temporary
// file in path's directory, synced, and then linked to path, which fails (fs.ErrExist) if
// path exists by then. A failed backup leaves nothing behind.
func BackupFile(ctx context.Context, src, path string) error {
	if path == "" {
		return errors.New("sqlite: backup: no file given")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("sqlite: backup: %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	var suffix [8]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial-"+hex.EncodeToString(suffix[:]))
	defer os.Remove(tmp) // once linked, path keeps the file

	// A connection of its own: the store's readers are query_only, which SQLite takes to
	// forbid VACUUM INTO too.
	db, err := sql.Open("sqlite", dsn(src, "NORMAL", "deferred", false, readerCacheBytes))
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("sqlite: backup: vacuum into %s: %w", tmp, dbErr(ctx, err))
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncFile(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return nil
}

// file returns the path of the store's main database file, as SQLite opened it.
func (s *Store) file(ctx context.Context) (string, error) {
	var (
		seq       int
		name, src string
	)
	if err := s.read.db.QueryRowContext(ctx, `PRAGMA main.database_list`).Scan(&seq, &name, &src); err != nil {
		return "", fmt.Errorf("database file: %w", dbErr(ctx, err))
	}
	if src == "" {
		return "", errors.New("database file: the store has no file")
	}
	return src, nil
}

// syncFile makes a file's contents (or a directory's entries) durable: VACUUM INTO leaves the
// copy to the operating system's cache.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}
