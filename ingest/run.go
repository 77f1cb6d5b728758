package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
)

// Store is what ingestion needs of the document store (sqlite.DB provides
// it). Each PutDocuments call is atomic: a crash leaves every document
// either as it was or fully replaced.
type Store interface {
	// LookupDocuments returns the stored documents among ids, without Text.
	LookupDocuments(ctx context.Context, ids []string) (map[string]*sextant.Document, error)
	// PutDocuments stores documents with their chunks (chunks[i] belong to
	// docs[i]) in one transaction, replacing same-id documents entirely.
	PutDocuments(ctx context.Context, docs []*sextant.Document, chunks [][]sextant.Chunk) error
	// DocumentSources returns id → source of the documents of tenant and
	// collection whose source starts with prefix.
	DocumentSources(ctx context.Context, tenant, collection, prefix string) (map[string]string, error)
	// DeleteDocuments removes documents and their chunks, returning how
	// many existed.
	DeleteDocuments(ctx context.Context, ids []string) (int, error)
}

// DefaultMaxBytes is the default size limit of one document.
const DefaultMaxBytes = 64 << 20

// Options configures Run. The zero value ingests into the default
// collection with default chunking.
type Options struct {
	Tenant     string            // owning tenant; "" = the default tenant
	Collection string            // "" = sextant.DefaultCollection
	Metadata   map[string]string // added to every document; wins over record fields
	Labels     []string          // access labels of every document
	TTL        time.Duration     // > 0: documents go stale this long after their last change
	Prune      bool              // delete documents whose source is gone (see Run)
	Force      bool              // re-extract and store even unchanged documents
	Chunk      ChunkOptions
	Fields     RecordFields // JSON, JSONL and CSV field names
	// PII, when set, is the collection's personal-data policy: it rewrites
	// every document's text before chunking, so what is stored (document,
	// chunks, indexes) holds only what the policy lets through. nil stores
	// the text as extracted. Record it in Metadata too (e.g. "pii":
	// "redact") so that changing the policy re-ingests unchanged files.
	PII PIIFunc
	// MaxBytes is the largest document: a whole file for text, Markdown,
	// HTML and PDF, one record for JSON, JSONL and CSV (record files are
	// streamed and may be any size). 0 means DefaultMaxBytes.
	MaxBytes int64
	// Workers bounds files read and extracted at once. 0 means GOMAXPROCS.
	Workers int
	// BatchChunks is how many chunks one store transaction carries (more
	// documents per transaction is faster; each document stays atomic).
	// 0 means 4096.
	BatchChunks int
	// Progress, when set, is called from one goroutine every
	// ProgressInterval (0 = 200ms) and once at the end with Done set.
	Progress         func(Progress)
	ProgressInterval time.Duration
	Now              func() time.Time // nil = time.Now
	Logger           *slog.Logger     // nil = discard
}

// Problem is a file or record that was skipped or failed, or a note about
// one (such as a transcoding).
type Problem struct {
	Path   string `json:"path"`
	Record string `json:"record,omitempty"` // "line 12 (id "x")" for a record
	Kind   string `json:"kind"`             // "skipped", "failed" or "note"
	Reason string `json:"reason"`
}

// Problem kinds.
const (
	KindSkipped = "skipped" // not ingestible by design: unsupported type, binary, too large, no text
	KindFailed  = "failed"  // should have been ingested but could not: unreadable, malformed, store error
	KindNote    = "note"    // ingested, with something worth knowing
)

// Summary is what a run did. Document counts cover whole files and records
// alike; Skipped and Failed count files and records not stored.
type Summary struct {
	Files     int           `json:"files"`     // files read
	Bytes     int64         `json:"bytes"`     // bytes read (after decompression)
	Added     int           `json:"added"`     // new documents stored
	Updated   int           `json:"updated"`   // changed documents replaced
	Unchanged int           `json:"unchanged"` // documents whose content hash and settings matched
	Deleted   int           `json:"deleted"`   // documents pruned
	Skipped   int           `json:"skipped"`
	Failed    int           `json:"failed"`
	Chunks    int           `json:"chunks"` // chunks written
	Problems  []Problem     `json:"problems,omitempty"`
	Omitted   int           `json:"problems_omitted,omitempty"` // problems beyond the per-file cap
	Duration  time.Duration `json:"duration_ns"`
}

// Progress is a snapshot of a run.
type Progress struct {
	FilesDone, FilesTotal int
	BytesDone, BytesTotal int64 // BytesTotal is the files' sizes on disk
	Added, Updated        int
	Unchanged             int
	Skipped, Failed       int
	Current               string // the file most recently started
	Done                  bool
}

const (
	recordBatch        = 256 // records looked up and chunked together
	maxProblemsPerFile = 20
	maxProblems        = 2000
)

// Run ingests the files and folders at paths into store. Folders are walked
// recursively; hidden entries (".name") inside them are skipped, symbolic
// links are followed once (no loops). Each file is read, hashed and checked
// against the store before any extraction: a document whose content hash,
// source, metadata, labels and TTL are unchanged is left alone. Changed and
// new documents are extracted, chunked and stored in batches, each document
// atomically. Bad input is reported in the Summary by path with the reason,
// and the run goes on.
//
// With Prune, after ingesting, documents of the tenant and collection
// under the given paths that this run did not see are deleted when their
// file no longer exists, or when they were records of a file read
// completely in this run that no longer holds them. Documents of files
// skipped or failed this run are kept.
//
// The error is non-nil only when the run could not go on: invalid options,
// a cancelled context, or a store that fails every write.
func Run(ctx context.Context, paths []string, opts Options, store Store) (Summary, error) {
	r, err := newRunner(opts, store)
	if err != nil {
		return Summary{}, err
	}
	start := time.Now()
	sum, err := r.run(ctx, paths)
	sum.Duration = time.Since(start)
	return sum, err
}

type pending struct {
	doc     *sextant.Document
	chunks  []sextant.Chunk
	path    string
	pos     string
	updated bool
}

type fileJob struct {
	abs      string
	size     int64
	explicit bool // named on the command line, not found by walking
}

type runner struct {
	opts   Options
	store  Store
	scope  string
	labels []string
	now    func() time.Time
	log    *slog.Logger

	mu            sync.Mutex
	sum           Summary
	perFile       map[string]int    // problems recorded per path
	seen          map[string]string // document id → path that produced it this run
	complete      map[string]bool   // record files read completely without record errors
	current       string
	filesDone     atomic.Int64
	bytesDone     atomic.Int64
	bytesTotal    int64
	filesTotal    int
	storeFailures atomic.Int64
	storeOK       atomic.Int64
}

func newRunner(opts Options, store Store) (*runner, error) {
	if opts.Collection == "" {
		opts.Collection = sextant.DefaultCollection
	}
	if err := validName("collection", opts.Collection); err != nil {
		return nil, err
	}
	if opts.Tenant != "" {
		if err := validName("tenant", opts.Tenant); err != nil {
			return nil, err
		}
	}
	if err := opts.Chunk.Validate(); err != nil {
		return nil, err
	}
	for k := range opts.Metadata {
		if !validMetaKey(k) {
			return nil, sextant.Errorf(sextant.EINVALID, "metadata key %q is invalid (empty, or holds '=' or NUL)", k)
		}
	}
	if opts.TTL < 0 {
		return nil, sextant.Errorf(sextant.EINVALID, "TTL must not be negative, got %s", opts.TTL)
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchChunks <= 0 {
		opts.BatchChunks = 4096
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = 200 * time.Millisecond
	}
	r := &runner{
		opts:     opts,
		store:    store,
		scope:    Scope(opts.Tenant, opts.Collection),
		labels:   normalizeLabels(opts.Labels),
		now:      opts.Now,
		log:      opts.Logger,
		perFile:  map[string]int{},
		seen:     map[string]string{},
		complete: map[string]bool{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// normalizeLabels trims, drops empty and duplicate labels, and sorts them,
// so the same flag value always compares equal to the stored labels.
func normalizeLabels(in []string) []string {
	var out []string
	for _, l := range in {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

type root struct {
	abs   string
	dir   bool
	gone  bool // does not exist
	fault bool // could not be read
}

func (r *runner) run(ctx context.Context, paths []string) (Summary, error) {
	roots, jobs := r.walk(paths)
	r.filesTotal = len(jobs)
	for _, j := range jobs {
		r.bytesTotal += j.size
	}

	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	if r.opts.Progress != nil {
		go func() {
			defer close(progressDone)
			t := time.NewTicker(r.opts.ProgressInterval)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					r.opts.Progress(r.progress(false))
				}
			}
		}()
	} else {
		close(progressDone)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan []pending, 2*r.opts.Workers)
	writerDone := make(chan error, 1)
	go func() { writerDone <- r.write(wctx, out) }()

	jobCh := make(chan fileJob)
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobCh {
				r.file(wctx, j, out)
				r.filesDone.Add(1)
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case jobCh <- j:
		case <-wctx.Done():
			break feed
		}
	}
	close(jobCh)
	wg.Wait()
	close(out)
	werr := <-writerDone

	var err error
	switch {
	case ctx.Err() != nil:
		err = ctx.Err()
	case werr != nil:
		err = werr
	case r.opts.Prune:
		err = r.prune(ctx, roots)
	}
	close(stopProgress)
	<-progressDone
	if r.opts.Progress != nil {
		r.opts.Progress(r.progress(true))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sum, err
}

func (r *runner) progress(done bool) Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Progress{
		FilesDone: int(r.filesDone.Load()), FilesTotal: r.filesTotal,
		BytesDone: r.bytesDone.Load(), BytesTotal: r.bytesTotal,
		Added: r.sum.Added, Updated: r.sum.Updated, Unchanged: r.sum.Unchanged,
		Skipped: r.sum.Skipped, Failed: r.sum.Failed,
		Current: r.current, Done: done,
	}
}

// problem records a skipped or failed file or record (counting it) or a
// note, keeping at most maxProblemsPerFile entries per path.
func (r *runner) problem(kind, path, record string, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch kind {
	case KindSkipped:
		r.sum.Skipped++
	case KindFailed:
		r.sum.Failed++
	}
	if r.perFile[path] >= maxProblemsPerFile || len(r.sum.Problems) >= maxProblems {
		r.sum.Omitted++
		return
	}
	r.perFile[path]++
	r.sum.Problems = append(r.sum.Problems, Problem{Path: path, Record: record, Kind: kind, Reason: reasonText(reason)})
	r.log.Debug("ingest problem", "kind", kind, "path", path, "record", record, "reason", reason)
}

// reasonText is an error's message for a report, without the file path
// the report already shows: "unreadable: open: permission denied".
func reasonText(err error) string {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = strings.Replace(msg, pe.Error(), pe.Op+": "+pe.Err.Error(), 1)
	}
	return msg
}

// walk resolves the paths into roots and the files to read, in order,
// without duplicates.
func (r *runner) walk(paths []string) ([]root, []fileJob) {
	var roots []root
	var jobs []fileJob
	files := map[string]bool{}
	dirs := map[string]bool{} // real paths of directories walked
	add := func(abs string, size int64, explicit bool) {
		if !files[abs] {
			files[abs] = true
			jobs = append(jobs, fileJob{abs: abs, size: size, explicit: explicit})
		}
	}
	var walkDir func(dir string)
	walkDir = func(dir string) {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			r.problem(KindFailed, dir, "", err)
			return
		}
		if dirs[real] {
			return // a symbolic link loop, or reached twice
		}
		dirs[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			r.problem(KindFailed, dir, "", fmt.Errorf("unreadable directory: %w", err))
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p) // follows symbolic links
			if err != nil {
				if e.Type()&fs.ModeSymlink != 0 {
					r.problem(KindSkipped, p, "", errors.New("broken symbolic link"))
				} else {
					r.problem(KindFailed, p, "", err)
				}
				continue
			}
			switch {
			case fi.IsDir():
				walkDir(p)
			case fi.Mode().IsRegular():
				add(p, fi.Size(), false)
			default:
				r.problem(KindSkipped, p, "", errors.New("not a regular file"))
			}
		}
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			r.problem(KindFailed, p, "", err)
			continue
		}
		fi, err := os.Stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// With Prune a vanished root's documents are pruned; prune
			// reports the root when it had none.
			roots = append(roots, root{abs: abs, gone: true})
			if !r.opts.Prune {
				r.problem(KindFailed, abs, "", errors.New("no such file or directory"))
			}
		case err != nil:
			r.problem(KindFailed, abs, "", err)
			roots = append(roots, root{abs: abs, fault: true})
		case fi.IsDir():
			roots = append(roots, root{abs: abs, dir: true})
			walkDir(abs)
		case fi.Mode().IsRegular():
			roots = append(roots, root{abs: abs})
			add(abs, fi.Size(), true)
		default:
			r.problem(KindSkipped, abs, "", errors.New("not a regular file"))
		}
	}
	return roots, jobs
}

// countingReader counts bytes read into the run's progress.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
	t int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	c.t += int64(n)
	return n, err
}

// file ingests one file.
func (r *runner) file(ctx context.Context, j fileJob, out chan<- []pending) {
	if ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	r.current = j.abs
	r.mu.Unlock()
	name := filepath.Base(j.abs)
	inner, gz := splitGzip(name)
	media, binaryExt := mediaByName(inner)
	if binaryExt {
		r.problem(KindSkipped, j.abs, "", fmt.Errorf("unsupported file type %s", strings.ToLower(filepath.Ext(inner))))
		return
	}
	f, err := os.Open(j.abs)
	if err != nil {
		r.problem(KindFailed, j.abs, "", fmt.Errorf("unreadable: %w", err))
		return
	}
	defer f.Close()
	var src io.Reader = f
	if gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 256<<10))
		if err != nil {
			r.problem(KindFailed, j.abs, "", fmt.Errorf("malformed gzip: %w", err))
			return
		}
		defer zr.Close()
		src = zr
	}
	cr := &countingReader{r: src, n: &r.bytesDone}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, err := br.Peek(8192)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		r.problem(KindFailed, j.abs, "", fmt.Errorf("unreadable: %w", err))
		return
	}
	if media == "" {
		media = sniffMedia(head)
		if media == "" {
			r.problem(KindSkipped, j.abs, "", errors.New("binary or unsupported content"))
			return
		}
	} else if media == sextant.MediaJSON {
		if b := trimBOMSpace(head); len(b) > 0 && b[0] == '{' {
			media = sniffJSON(b)
		}
	}
	defer func() {
		r.mu.Lock()
		r.sum.Files++
		r.sum.Bytes += cr.t
		r.mu.Unlock()
	}()
	switch media {
	case sextant.MediaJSON, sextant.MediaJSONL, sextant.MediaCSV:
		r.records(ctx, j, media, br, out)
	default:
		data, err := io.ReadAll(io.LimitReader(br, r.opts.MaxBytes+1))
		if err != nil {
			r.problem(KindFailed, j.abs, "", fmt.Errorf("unreadable: %w", err))
			return
		}
		if int64(len(data)) > r.opts.MaxBytes {
			r.problem(KindSkipped, j.abs, "", fmt.Errorf("larger than the %d-byte limit (--max-bytes)", r.opts.MaxBytes))
			return
		}
		r.whole(ctx, j, media, data, out)
	}
}

func trimBOMSpace(b []byte) []byte {
	b, _ = bytes.CutPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimLeft(b, " \t\r\n")
}

// claim records that this run produced document id from path; false means
// another file or record already did.
func (r *runner) claim(id, path string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.seen[id]; ok {
		return prev, false
	}
	r.seen[id] = path
	return "", true
}

// unchanged reports whether the stored document old is what ingesting the
// content with hash from src with meta would store again.
func (r *runner) unchanged(old *sextant.Document, hash, src string, meta map[string]string) bool {
	if old == nil || r.opts.Force || old.Hash != hash || old.Source != src {
		return false
	}
	if !maps.Equal(old.Metadata, meta) && !(len(old.Metadata) == 0 && len(meta) == 0) {
		return false
	}
	if !slices.Equal(old.Labels, r.labels) && !(len(old.Labels) == 0 && len(r.labels) == 0) {
		return false
	}
	if r.opts.TTL == 0 {
		return old.ExpiresAt.IsZero()
	}
	return old.ExpiresAt.Equal(old.UpdatedAt.Add(r.opts.TTL))
}

// newDocument fills in what every document gets: scope, times, labels.
func (r *runner) newDocument(old *sextant.Document, d *sextant.Document) {
	now := r.now().UTC()
	d.Tenant = r.opts.Tenant
	d.Collection = r.opts.Collection
	d.Labels = r.labels
	d.IngestedAt = now
	if old != nil && !old.IngestedAt.IsZero() {
		d.IngestedAt = old.IngestedAt
	}
	d.UpdatedAt = now
	if r.opts.TTL > 0 {
		d.ExpiresAt = now.Add(r.opts.TTL)
	}
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// whole ingests a file that is one document.
func (r *runner) whole(ctx context.Context, j fileJob, media string, data []byte, out chan<- []pending) {
	id := FileID(r.scope, j.abs)
	if _, ok := r.claim(id, j.abs); !ok {
		return // the same file reached twice
	}
	hash := hashHex(data)
	src := FileURI(j.abs)
	meta := maps.Clone(r.opts.Metadata)
	olds, err := r.store.LookupDocuments(ctx, []string{id})
	if err != nil {
		r.problem(KindFailed, j.abs, "", fmt.Errorf("store lookup: %w", err))
		return
	}
	old := olds[id]
	if r.unchanged(old, hash, src, meta) {
		r.mu.Lock()
		r.sum.Unchanged++
		r.mu.Unlock()
		return
	}
	var ex Extracted
	switch media {
	case sextant.MediaPDF:
		ex, err = ExtractPDF(data)
	default:
		var text []byte
		var note string
		text, note, err = decodeText(data)
		if err != nil {
			break
		}
		if note != "" {
			r.problem(KindNote, j.abs, "", errors.New(note))
		}
		switch media {
		case sextant.MediaMarkdown:
			ex = ExtractMarkdown(string(text))
		case sextant.MediaHTML:
			ex, err = ExtractHTML(text)
		default:
			ex = ExtractText(string(text))
		}
	}
	if err != nil {
		r.problem(KindFailed, j.abs, "", err)
		return
	}
	if strings.TrimSpace(ex.Text) == "" {
		reason := "no text"
		if media == sextant.MediaPDF {
			reason = "no text layer (a scanned PDF? OCR is not supported)"
		}
		r.problem(KindSkipped, j.abs, "", errors.New(reason))
		return
	}
	if r.opts.PII != nil {
		applyPII(r.opts.PII, &ex)
	}
	title := ex.Title
	if title == "" {
		title = filepath.Base(j.abs)
	}
	d := &sextant.Document{
		ID: id, Source: src, Title: title, MediaType: media, Hash: hash, Size: int64(len(data)),
		Text: ex.Text, Metadata: meta,
	}
	r.newDocument(old, d)
	chunks := Chunk(id, ex.Text, ex.Sections, r.opts.Chunk)
	r.send(ctx, out, []pending{{doc: d, chunks: chunks, path: j.abs, updated: old != nil}})
}

func (r *runner) send(ctx context.Context, out chan<- []pending, ps []pending) {
	if len(ps) == 0 {
		return
	}
	select {
	case out <- ps:
	case <-ctx.Done():
	}
}

// records ingests a JSON, JSONL or CSV file, one document per record.
func (r *runner) records(ctx context.Context, j fileJob, media string, br io.Reader, out chan<- []pending) {
	rd, note, err := decodeStream(br)
	if err != nil {
		r.problem(KindFailed, j.abs, "", err)
		return
	}
	if note != "" {
		r.problem(KindNote, j.abs, "", errors.New(note))
	}
	maxBytes := int(min(r.opts.MaxBytes, int64(^uint(0)>>1)))
	var seq func(func(Record, error) bool)
	switch media {
	case sextant.MediaJSONL:
		seq = JSONLRecords(rd, r.opts.Fields, maxBytes)
	case sextant.MediaJSON:
		seq = JSONRecords(rd, r.opts.Fields, maxBytes)
	default:
		seq = CSVRecords(rd, r.opts.Fields, maxBytes)
	}
	complete := true
	var batch []Record
	for rec, err := range seq {
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			complete = false
			var re *RecordError
			if errors.As(err, &re) {
				r.problem(KindFailed, j.abs, re.Pos, re.Err)
				continue
			}
			r.problem(KindFailed, j.abs, "", err)
			break
		}
		batch = append(batch, rec)
		if len(batch) == recordBatch {
			if !r.recordBatch(ctx, j, media, batch, out) {
				complete = false
			}
			batch = batch[:0:0]
		}
	}
	if !r.recordBatch(ctx, j, media, batch, out) {
		complete = false
	}
	if complete && ctx.Err() == nil {
		r.mu.Lock()
		r.complete[j.abs] = true
		r.mu.Unlock()
	}
}

// recordBatch checks a batch of records against the store and sends the
// new and changed ones on. It reports false when a record failed.
func (r *runner) recordBatch(ctx context.Context, j fileJob, media string, recs []Record, out chan<- []pending) bool {
	if len(recs) == 0 {
		return true
	}
	ok := true
	type cand struct {
		rec  *Record
		id   string
		src  string
		hash string
		meta map[string]string
	}
	var cands []cand
	for i := range recs {
		rec := &recs[i]
		where := rec.Pos
		var id, key string
		if rec.ID != "" {
			where += fmt.Sprintf(" (id %q)", rec.ID)
			if err := checkRecordID(rec.ID); err != nil {
				r.problem(KindFailed, j.abs, where, err)
				ok = false
				continue
			}
			id, key = RecordID(r.scope, rec.ID), rec.ID
		} else {
			id, key = positionalID(r.scope, j.abs, rec.N), fmt.Sprintf("@%d", rec.N)
		}
		if prev, fresh := r.claim(id, j.abs); !fresh {
			r.problem(KindFailed, j.abs, where, fmt.Errorf("duplicate record id %q (already ingested from %s in this run)", rec.ID, prev))
			ok = false
			continue
		}
		if strings.TrimSpace(rec.Text) == "" {
			r.problem(KindSkipped, j.abs, where, errors.New("no text (set the text field with --text-field or --csv-text-cols)"))
			continue
		}
		meta := rec.Metadata
		if len(r.opts.Metadata) > 0 {
			if meta == nil {
				meta = map[string]string{}
			}
			maps.Copy(meta, r.opts.Metadata)
		}
		cands = append(cands, cand{rec: rec, id: id, src: recordURI(j.abs, key), hash: hashHex(rec.Raw), meta: meta})
	}
	if len(cands) == 0 {
		return ok
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.id
	}
	olds, err := r.store.LookupDocuments(ctx, ids)
	if err != nil {
		for _, c := range cands {
			r.problem(KindFailed, j.abs, c.rec.Pos, fmt.Errorf("store lookup: %w", err))
		}
		return false
	}
	var ps []pending
	unchanged := 0
	for _, c := range cands {
		old := olds[c.id]
		if r.unchanged(old, c.hash, c.src, c.meta) {
			unchanged++
			continue
		}
		title := c.rec.Title
		if title == "" {
			title = c.rec.ID
		}
		d := &sextant.Document{
			ID: c.id, Source: c.src, Title: title, MediaType: media, Hash: c.hash, Size: int64(len(c.rec.Raw)),
			Text: c.rec.Text, Metadata: c.meta,
		}
		if r.opts.PII != nil {
			d.Text, _ = r.opts.PII(d.Text)
		}
		r.newDocument(old, d)
		ps = append(ps, pending{doc: d, chunks: Chunk(c.id, d.Text, nil, r.opts.Chunk), path: j.abs, pos: c.rec.Pos, updated: old != nil})
	}
	if unchanged > 0 {
		r.mu.Lock()
		r.sum.Unchanged += unchanged
		r.mu.Unlock()
	}
	r.send(ctx, out, ps)
	return ok
}

// write stores pending documents in batches until in is closed. A batch
// that fails is retried one document at a time so one bad document fails
// alone. It returns an error only when the context ends or the store has
// failed every write so far (more than 100 documents).
func (r *runner) write(ctx context.Context, in <-chan []pending) error {
	var batch []pending
	chunks, docsBytes := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.put(ctx, batch)
		batch, chunks, docsBytes = batch[:0:0], 0, 0
		return err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ps, ok := <-in:
			if !ok {
				return flush()
			}
			for _, p := range ps {
				batch = append(batch, p)
				chunks += len(p.chunks)
				docsBytes += len(p.doc.Text)
				if chunks >= r.opts.BatchChunks || len(batch) >= 2048 || docsBytes >= 32<<20 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

func (r *runner) put(ctx context.Context, batch []pending) error {
	docs := make([]*sextant.Document, len(batch))
	chunks := make([][]sextant.Chunk, len(batch))
	for i, p := range batch {
		docs[i], chunks[i] = p.doc, p.chunks
	}
	err := r.store.PutDocuments(ctx, docs, chunks)
	if err == nil {
		r.stored(batch)
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(batch) > 1 {
		for _, p := range batch {
			if err := r.put(ctx, []pending{p}); err != nil {
				return err
			}
		}
		return nil
	}
	p := batch[0]
	r.problem(KindFailed, p.path, p.pos, fmt.Errorf("store: %w", err))
	if r.storeFailures.Add(1) > 100 && r.storeOK.Load() == 0 {
		return fmt.Errorf("ingest: the store failed every write, giving up: %w", err)
	}
	return nil
}

func (r *runner) stored(batch []pending) {
	r.storeOK.Add(int64(len(batch)))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range batch {
		if p.updated {
			r.sum.Updated++
		} else {
			r.sum.Added++
		}
		r.sum.Chunks += len(p.chunks)
	}
}

// prune deletes documents under the roots that this run did not see and
// whose source is gone (see Run).
func (r *runner) prune(ctx context.Context, roots []root) error {
	var del []string
	for _, rt := range roots {
		if rt.fault {
			continue
		}
		prefix := FileURI(rt.abs)
		if rt.dir {
			prefix = strings.TrimSuffix(prefix, "/") + "/"
		}
		srcs, err := r.store.DocumentSources(ctx, r.opts.Tenant, r.opts.Collection, prefix)
		if err != nil {
			return fmt.Errorf("ingest: prune %s: %w", rt.abs, err)
		}
		for id, src := range srcs {
			if _, seen := r.seen[id]; seen {
				continue
			}
			path, frag, ok := parseSource(src)
			if !ok {
				continue
			}
			if !rt.dir && !rt.gone && path != rt.abs {
				continue // a longer name with the root as prefix
			}
			if frag != "" && r.complete[path] {
				del = append(del, id)
				continue
			}
			if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
				del = append(del, id)
			}
		}
		if rt.gone {
			if len(srcs) == 0 {
				r.problem(KindFailed, rt.abs, "", errors.New("no such file or directory"))
			} else {
				r.problem(KindNote, rt.abs, "", errors.New("no longer exists: its documents are pruned"))
			}
		}
	}
	if len(del) == 0 {
		return nil
	}
	sort.Strings(del)
	del = slices.Compact(del)
	total := 0
	for b := range slices.Chunk(del, 1000) {
		n, err := r.store.DeleteDocuments(ctx, b)
		if err != nil {
			return fmt.Errorf("ingest: prune: %w", err)
		}
		total += n
	}
	r.mu.Lock()
	r.sum.Deleted += total
	r.mu.Unlock()
	return nil
}
