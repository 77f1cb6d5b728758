package churn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/gbdt"
)

// Registry keeps versioned models in a directory:
//
//	registry.json          the index: every model's summary, the production
//	                       model and the promotion history (written
//	                       atomically: temp file, fsync, rename)
//	models/ID/model.json   metadata: schema, calibrator, metrics, drift
//	                       reference, data hash, training options
//	models/ID/trees.json   the boosted trees (gbdt's versioned format)
//	models/ID/card.md      the model card
//	traffic/ID.jsonl       a sample of the rows the model scored, for drift
//
// Model files are written once and never changed; only the index moves.
// The layout maps one-to-one onto tables should the registry move into the
// SQLite store.
type Registry struct {
	dir string
	now func() time.Time
	mu  sync.Mutex
}

// Stages of a registered model.
const (
	StageCandidate  = "candidate"
	StageProduction = "production"
	StageArchived   = "archived"
)

// Entry summarises one registered model.
type Entry struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Stage    string    `json:"stage"`
	Target   string    `json:"target"`
	Rows     int       `json:"rows"`
	AUC      float64   `json:"auc"`
	ECE      float64   `json:"ece"`
	Trees    int       `json:"trees"`
	DataHash string    `json:"data_hash"`
	Promoted time.Time `json:"promoted,omitzero"`
}

type registryIndex struct {
	Version    int      `json:"version"`
	Models     []Entry  `json:"models"`
	Production string   `json:"production,omitempty"`
	History    []string `json:"history,omitempty"` // earlier production models, oldest first
	Next       int      `json:"next"`
}

const indexVersion = 1

// OpenRegistry opens (creating) the registry in dir. now defaults to
// time.Now.
func OpenRegistry(dir string, now func() time.Time) (*Registry, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		return nil, fmt.Errorf("churn registry: %w", err)
	}
	return &Registry{dir: dir, now: now}, nil
}

// Dir returns the registry directory.
func (r *Registry) Dir() string { return r.dir }

func (r *Registry) indexPath() string { return filepath.Join(r.dir, "registry.json") }

func (r *Registry) readIndex() (*registryIndex, error) {
	b, err := os.ReadFile(r.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return &registryIndex{Version: indexVersion, Next: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("churn registry: %w", err)
	}
	var ix registryIndex
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, sextant.Errorf(sextant.EINTERNAL, "churn registry %s: %v", r.indexPath(), err)
	}
	if ix.Version != indexVersion {
		return nil, sextant.Errorf(sextant.EINTERNAL, "churn registry %s: index version %d, this build reads %d", r.indexPath(), ix.Version, indexVersion)
	}
	return &ix, nil
}

// update runs fn on the index under a lock and writes it back atomically.
func (r *Registry) update(ctx context.Context, fn func(*registryIndex) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	unlock, err := lockFile(ctx, filepath.Join(r.dir, "registry.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	ix, err := r.readIndex()
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(r.indexPath(), append(b, '\n'))
}

// lockFile takes an exclusive lock file, waiting while another process
// holds it; a lock older than a minute is considered abandoned.
func lockFile(ctx context.Context, path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("churn registry lock: %w", err)
		}
		if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) > time.Minute {
			os.Remove(path)
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeAtomic replaces path with data: a reader sees the old file or the
// new one, never a mix.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

var idPattern = regexp.MustCompile(`^v[0-9]+$`)

// Save registers m as a new candidate and sets m.ID (v1, v2, ...).
func (r *Registry) Save(ctx context.Context, m *Model) (Entry, error) {
	var e Entry
	err := r.update(ctx, func(ix *registryIndex) error {
		id := "v" + strconv.Itoa(ix.Next)
		m.ID = id
		m.Version = ModelVersion
		m.Card = modelCard(m)
		dir := filepath.Join(r.dir, "models", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		meta, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		var trees bytes.Buffer
		if err := m.Booster.Encode(&trees); err != nil {
			return err
		}
		for name, data := range map[string][]byte{"model.json": append(meta, '\n'), "trees.json": trees.Bytes(), "card.md": []byte(m.Card)} {
			if err := writeAtomic(filepath.Join(dir, name), data); err != nil {
				return err
			}
		}
		e = Entry{ID: id, Created: m.Created, Stage: StageCandidate, Target: m.Schema.Target, Rows: m.Rows,
			Trees: len(m.Booster.Trees), DataHash: m.DataHash}
		if m.CV != nil {
			e.AUC, e.ECE = m.CV.Pooled.AUC, m.CV.Pooled.ECE
		}
		ix.Models = append(ix.Models, e)
		ix.Next++
		return nil
	})
	return e, err
}

// List returns every registered model, oldest first.
func (r *Registry) List() ([]Entry, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	return ix.Models, nil
}

// Resolve turns "production" (or "") into the production model's id and
// checks that an id is registered.
func (r *Registry) Resolve(ref string) (string, error) {
	ix, err := r.readIndex()
	if err != nil {
		return "", err
	}
	if ref == "" || ref == StageProduction {
		if ix.Production == "" {
			return "", sextant.Errorf(sextant.ENOTFOUND, "no production churn model: promote one (sextant churn promote ID)")
		}
		return ix.Production, nil
	}
	if !slices.ContainsFunc(ix.Models, func(e Entry) bool { return e.ID == ref }) {
		return "", sextant.Errorf(sextant.ENOTFOUND, "no churn model %q", ref)
	}
	return ref, nil
}

// Load reads a registered model by id or "production".
func (r *Registry) Load(ref string) (*Model, error) {
	id, err := r.Resolve(ref)
	if err != nil {
		return nil, err
	}
	if !idPattern.MatchString(id) {
		return nil, sextant.Errorf(sextant.EINVALID, "bad model id %q", id)
	}
	dir := filepath.Join(r.dir, "models", id)
	meta, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		return nil, fmt.Errorf("churn model %s: %w", id, err)
	}
	var m Model
	if err := json.Unmarshal(meta, &m); err != nil {
		return nil, sextant.Errorf(sextant.EINTERNAL, "churn model %s: model.json: %v", id, err)
	}
	if m.Version != ModelVersion {
		return nil, sextant.Errorf(sextant.EINVALID, "churn model %s: model.json format version %d, this build reads version %d: retrain it or use a matching sextant", id, m.Version, ModelVersion)
	}
	f, err := os.Open(filepath.Join(dir, "trees.json"))
	if err != nil {
		return nil, fmt.Errorf("churn model %s: %w", id, err)
	}
	defer f.Close()
	if m.Booster, err = gbdt.Decode(f); err != nil {
		return nil, fmt.Errorf("churn model %s: %w", id, err)
	}
	if err := m.check(); err != nil {
		return nil, sextant.Errorf(sextant.EINTERNAL, "churn model %s: %v", id, err)
	}
	return &m, nil
}

// check verifies that a loaded model's parts agree.
func (m *Model) check() error {
	if m.Schema == nil {
		return errors.New("no schema")
	}
	if err := m.Schema.Validate(); err != nil {
		return err
	}
	feats := m.Schema.gbdtFeatures()
	if len(feats) != len(m.Booster.Features) {
		return fmt.Errorf("schema has %d features, trees %d", len(feats), len(m.Booster.Features))
	}
	for i, f := range feats {
		if f != m.Booster.Features[i] {
			return fmt.Errorf("feature %d: schema says %+v, trees %+v", i, f, m.Booster.Features[i])
		}
	}
	return m.Calibrator.check()
}

// Promote makes id the production model; the previous one is archived and
// remembered for Rollback.
func (r *Registry) Promote(ctx context.Context, id string) error {
	return r.update(ctx, func(ix *registryIndex) error {
		i := slices.IndexFunc(ix.Models, func(e Entry) bool { return e.ID == id })
		if i < 0 {
			return sextant.Errorf(sextant.ENOTFOUND, "no churn model %q", id)
		}
		if ix.Production == id {
			return sextant.Errorf(sextant.ECONFLICT, "churn model %s is already in production", id)
		}
		if ix.Production != "" {
			ix.History = append(ix.History, ix.Production)
			setStage(ix, ix.Production, StageArchived)
		}
		ix.Production = id
		setStage(ix, id, StageProduction)
		ix.Models[i].Promoted = r.now().UTC()
		return nil
	})
}

// Rollback restores the previous production model and returns its id.
func (r *Registry) Rollback(ctx context.Context) (string, error) {
	var restored string
	err := r.update(ctx, func(ix *registryIndex) error {
		if len(ix.History) == 0 {
			return sextant.Errorf(sextant.ECONFLICT, "no earlier production churn model to roll back to")
		}
		restored = ix.History[len(ix.History)-1]
		ix.History = ix.History[:len(ix.History)-1]
		if ix.Production != "" {
			setStage(ix, ix.Production, StageArchived)
		}
		ix.Production = restored
		setStage(ix, restored, StageProduction)
		return nil
	})
	return restored, err
}

func setStage(ix *registryIndex, id, stage string) {
	for i := range ix.Models {
		if ix.Models[i].ID == id {
			ix.Models[i].Stage = stage
		}
	}
}

// TrafficRecord is one scored row kept for drift measurement.
type TrafficRecord struct {
	Time  time.Time `json:"t"`
	X     []float64 `json:"-"`
	Score float64   `json:"p"`
}

type trafficJSON struct {
	Time  time.Time  `json:"t"`
	X     []*float64 `json:"x"` // null for missing
	Score float64    `json:"p"`
}

// maxTrafficBytes bounds a traffic file; when full it is rotated once.
const maxTrafficBytes = 64 << 20

// RecordTraffic appends scored rows to the model's traffic sample.
func (r *Registry) RecordTraffic(id string, recs []TrafficRecord) error {
	if !idPattern.MatchString(id) {
		return sextant.Errorf(sextant.EINVALID, "bad model id %q", id)
	}
	dir := filepath.Join(r.dir, "traffic")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, id+".jsonl")
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, err := os.Stat(path); err == nil && st.Size() > maxTrafficBytes {
		if err := os.Rename(path, path+".1"); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, rec := range recs {
		tj := trafficJSON{Time: rec.Time.UTC(), Score: rec.Score, X: make([]*float64, len(rec.X))}
		for i := range rec.X {
			if v := rec.X[i]; v == v {
				tj.X[i] = &rec.X[i]
			}
		}
		if err := enc.Encode(tj); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Traffic returns the model's most recent scored rows, at most limit
// (0 = all kept).
func (r *Registry) Traffic(id string, limit int) ([]TrafficRecord, error) {
	if !idPattern.MatchString(id) {
		return nil, sextant.Errorf(sextant.EINVALID, "bad model id %q", id)
	}
	path := filepath.Join(r.dir, "traffic", id+".jsonl")
	var out []TrafficRecord
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		recs, err := readTraffic(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, recs...)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func readTraffic(r io.Reader) ([]TrafficRecord, error) {
	var out []TrafficRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var tj trafficJSON
		if err := json.Unmarshal(sc.Bytes(), &tj); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		rec := TrafficRecord{Time: tj.Time, Score: tj.Score, X: make([]float64, len(tj.X))}
		for i, v := range tj.X {
			if v == nil {
				rec.X[i] = math.NaN()
			} else {
				rec.X[i] = *v
			}
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}
