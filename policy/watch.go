package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// WatchOptions configures a Watcher. Zero values mean the defaults.
type WatchOptions struct {
	// Interval between checks of the file; 0 means 2 seconds.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After waits for the next check; nil means time.After. Tests pass a
	// channel they control.
	After func(time.Duration) <-chan time.Time
	// Logger receives reload and rejection messages; nil discards them.
	Logger *slog.Logger
	// OnChange, when set, is told of every change after the first load:
	// a new policy in force (p, its file's SHA-256, nil) or a changed file
	// that was rejected (nil, its SHA-256, the error; the previous policy
	// stays). The server records both in the audit log. It runs on the
	// checking goroutine, after the watcher's lock is released.
	OnChange func(p *Policy, sum [32]byte, err error)
}

// Watcher keeps the current policy of a file and reloads it when the file
// changes. Changes are detected by polling the modification time and size
// and confirmed by a SHA-256 of the content, so touching a file without
// changing it does not reload. A file that fails to parse is rejected with
// its error and the previous policy stays in force. It is safe for
// concurrent use.
type Watcher struct {
	path string
	opts WatchOptions
	cur  atomic.Pointer[Policy]

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	hash     [32]byte // of the content in force or last rejected
	lastErr  error
	loadedAt time.Time
}

// NewWatcher loads path; the first load must succeed.
func NewWatcher(path string, opts WatchOptions) (*Watcher, error) {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w := &Watcher{path: path, opts: opts}
	if _, err := w.Check(); err != nil {
		return nil, err
	}
	return w, nil
}

// Policy returns the policy in force.
func (w *Watcher) Policy() *Policy { return w.cur.Load() }

// Err returns why the last change was rejected, or nil if the policy in
// force is the file's current content.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// LoadedAt returns when the policy in force was loaded.
func (w *Watcher) LoadedAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loadedAt
}

// Check looks at the file once and reloads it if its content changed. It
// reports whether a new policy took effect; a non-nil error means the
// file changed but was rejected (or cannot be read) and the previous
// policy stays.
func (w *Watcher) Check() (bool, error) {
	var notify func()
	defer func() {
		if notify != nil {
			notify()
		}
	}()
	w.mu.Lock()
	defer w.mu.Unlock()
	fi, err := os.Stat(w.path)
	if err != nil {
		w.lastErr = err
		return false, err
	}
	if w.cur.Load() != nil && fi.ModTime().Equal(w.modTime) && fi.Size() == w.size {
		return false, nil
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		w.lastErr = err
		return false, err
	}
	w.modTime, w.size = fi.ModTime(), fi.Size()
	h := sha256.Sum256(data)
	if h == w.hash && w.cur.Load() != nil {
		return false, w.lastErr // unchanged content (touched, or the same bad file)
	}
	w.hash = h
	p, err := Parse(w.path, data)
	if err != nil {
		w.lastErr = err
		if w.cur.Load() != nil {
			w.opts.Logger.Warn("policy rejected; previous policy stays in force", "file", w.path, "err", err)
			if f := w.opts.OnChange; f != nil {
				notify = func() { f(nil, h, err) }
			}
		}
		return false, err
	}
	if f := w.opts.OnChange; f != nil && w.cur.Load() != nil {
		notify = func() { f(p, h, nil) }
	}
	w.cur.Store(p)
	w.lastErr = nil
	w.loadedAt = w.opts.Now()
	w.opts.Logger.Info("policy loaded", "file", w.path, "rules", len(p.Rules))
	return true, nil
}

// Run checks the file every Interval until ctx is done, then returns
// ctx.Err(). Rejections are logged; they never stop the watcher.
func (w *Watcher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.opts.After(w.opts.Interval):
		}
		if _, err := w.Check(); err != nil && !errors.Is(err, context.Canceled) {
			w.opts.Logger.Debug("policy check", "file", w.path, "err", err)
		}
	}
}
