// Package sqlite is Sextant's embedded store: documents, chunks and the
// corpus change log in one SQLite database file (through the pure-Go
// modernc.org/sqlite driver), the source of truth every derived structure is
// rebuilt from. Later capabilities add their tables as new migrations.
//
// Durability and concurrency: the database runs in WAL mode with
// synchronous=NORMAL, so an acknowledged write survives a process crash
// (kill -9) and a crash never leaves half a transaction. Several processes
// may open the same file at once (a server and a CLI ingest): readers never
// block writers, writers queue behind one another up to the busy timeout,
// and every write transaction takes the write lock up front (BEGIN
// IMMEDIATE) so two writers never deadlock on a lock upgrade.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-ai/sextant"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the database file's name inside the data directory.
const FileName = "sextant.db"

// Options configures Open. The zero value is ready to use.
type Options struct {
	// BusyTimeout is how long a statement waits for another connection or
	// process holding the write lock. 0 means 30 seconds.
	BusyTimeout time.Duration
	// CacheMiB is the page cache of the write connection in MiB; bulk
	// ingestion wants it large enough for the chunk-id index. 0 means 64.
	CacheMiB int
	// MaxReaders bounds the read connections. 0 means max(4, GOMAXPROCS).
	MaxReaders int
	// Now is the clock used to stamp applied migrations. nil means time.Now.
	Now func() time.Time
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	path    string
	write   *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	read    *sql.DB // query-only connections
	storeID string
	audit   auditStmts  // the audit log's prepared statements (audit.go)
	usage   usageStmts  // the usage ledger's prepared statements (usage.go)
	answers answerStmts // PutAnswer's prepared statements (answers.go)
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Open opens (creating when needed) the store in directory dir, applying any
// pending migrations. A database written by a newer Sextant, with migrations
// this binary does not know, is refused with an ECONFLICT error.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if dir == "" {
		return nil, sextant.Errorf(sextant.EINVALID, "sqlite: no data directory given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, sextant.Errorf(sextant.EINVALID, "sqlite: create data directory %s: %w", dir, err)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 30 * time.Second
	}
	if opts.CacheMiB <= 0 {
		opts.CacheMiB = 64
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path := filepath.Join(dir, FileName)
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}

	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(NORMAL)")
	common.Add("_pragma", "temp_store(MEMORY)")

	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", fmt.Sprintf("cache_size(%d)", -opts.CacheMiB*1024))
	// Fewer, larger checkpoints during bulk writes (default is 1000 pages).
	wq.Add("_pragma", "wal_autocheckpoint(4000)")
	wq.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", dsn(path, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	db := &DB{path: path, write: write}
	if err := db.migrateRetrying(ctx, migs, opts); err != nil {
		write.Close()
		return nil, err
	}

	rq := cloneValues(common)
	rq.Add("_pragma", "cache_size(-16384)")
	rq.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", dsn(path, rq))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read.SetMaxOpenConns(opts.MaxReaders)
	read.SetMaxIdleConns(opts.MaxReaders)
	db.read = read

	if err := read.QueryRowContext(ctx, `SELECT store_id FROM corpus`).Scan(&db.storeID); err != nil {
		db.Close()
		return nil, db.errorf("open", err)
	}
	return db, nil
}

func dsn(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Close closes the store. Pending transactions are rolled back.
func (db *DB) Close() error {
	errs := []error{db.audit.close(), db.usage.close(), db.answers.close()}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	return errors.Join(errs...)
}

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

// ID is the random identity this database was created with. Derived
// structures record it beside the generation they were built at, so a
// snapshot is never applied to a different (for example recreated) store.
func (db *DB) ID() string { return db.storeID }

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql and checks the numbering is
// 1, 2, 3, ... without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: read embedded migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || rest == "" {
			return nil, fmt.Errorf("sqlite: migration file %q: want NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, "migrations/"+name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: rest, sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migrations must be numbered 1, 2, 3, ...: found %04d_%s at position %d", m.version, m.name, i+1)
		}
	}
	return migs, nil
}

// migrateRetrying runs migrate, retrying while the database is busy, up to
// the busy timeout. Opening a new store switches it to WAL mode, and SQLite
// answers that switch (and the first read before a write) with an immediate
// SQLITE_BUSY instead of waiting when another process is doing the same, so
// concurrent first opens need a retry the busy handler does not give.
func (db *DB) migrateRetrying(ctx context.Context, migs []migration, opts Options) error {
	deadline := time.Now().Add(opts.BusyTimeout)
	wait := 5 * time.Millisecond
	for {
		err := db.migrate(ctx, migs, opts.Now)
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlite open %s: %w", db.path, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var de *sqlitedrv.Error
	if !errors.As(err, &de) {
		return false
	}
	c := de.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// migrate applies pending migrations, each in its own transaction with its
// version recorded in that transaction. Concurrent openers serialise on the
// write lock and re-read the version inside it, so a migration runs once.
//
// The bookkeeping table is created inside an immediate transaction too: in
// WAL mode an autocommit statement that starts as a read and then writes
// fails at once with SQLITE_BUSY (a stale snapshot) when another opener
// wrote in between, without waiting for the busy timeout.
func (db *DB) migrate(ctx context.Context, migs []migration, now func() time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return db.errorf("migrate", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		tx.Rollback()
		return db.errorf("migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return db.errorf("migrate", err)
	}
	for {
		done, err := db.migrateOne(ctx, migs, now)
		if err != nil || done {
			return err
		}
	}
}

func (db *DB) migrateOne(ctx context.Context, migs []migration, now func() time.Time) (done bool, err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, db.errorf("migrate", err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, db.errorf("migrate", err)
	}
	if current > len(migs) {
		return false, sextant.Errorf(sextant.ECONFLICT,
			"sqlite: database %s has schema version %d but this sextant knows versions up to %d: it was written by a newer sextant; upgrade the binary",
			db.path, current, len(migs))
	}
	if current == len(migs) {
		return true, nil
	}
	m := migs[current]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, db.errorf(fmt.Sprintf("migration %04d_%s", m.version, m.name), err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, now().UnixNano()); err != nil {
		return false, db.errorf("migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return false, db.errorf("migrate", err)
	}
	return false, nil
}

// SchemaVersion is the number of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, db.errorf("schema version", err)
	}
	return v, nil
}

// errorf wraps a driver error once with the operation and database path,
// mapping lock timeouts to EUNAVAILABLE (another process holds the write
// lock; retry later) and cancellations to the context error.
func (db *DB) errorf(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sextant.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlite %s: %w", op, err)
	}
	var de *sqlitedrv.Error
	if errors.As(err, &de) {
		switch de.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &sextant.Error{Code: sextant.EUNAVAILABLE, Op: "sqlite " + op,
				Message: fmt.Sprintf("database %s is busy (another process holds the write lock)", db.path), Err: err}
		case sqlite3.SQLITE_FULL:
			return &sextant.Error{Code: sextant.EUNAVAILABLE, Op: "sqlite " + op,
				Message: fmt.Sprintf("disk full writing %s", db.path), Err: err}
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return &sextant.Error{Code: sextant.EINTERNAL, Op: "sqlite " + op,
				Message: fmt.Sprintf("database %s is corrupt or not a Sextant database", db.path), Err: err}
		}
	}
	return fmt.Errorf("sqlite %s (%s): %w", op, db.path, err)
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log, waiting (up to the busy timeout) for readers still
// using older pages. SQLite checkpoints on its own as the log grows; call
// this after a bulk write to measure or ship the database file alone.
func (db *DB) Checkpoint(ctx context.Context) error {
	var busy, logPages, done int
	err := db.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
	if err != nil {
		return db.errorf("checkpoint", err)
	}
	if busy != 0 {
		return &sextant.Error{Code: sextant.EUNAVAILABLE, Op: "sqlite checkpoint",
			Message: fmt.Sprintf("database %s: readers kept the checkpoint from completing", db.path)}
	}
	return nil
}
