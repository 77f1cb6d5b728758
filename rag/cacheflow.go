package rag

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"slices"
	"strconv"

	"github.com/sextant-ai/sextant"
)

// cacheVersion changes when the key layout changes, so old entries of a
// shared cache are never misread.
const cacheVersion = "rag-cache-1"

// lookup consults the response cache. It reports whether the answer was
// served from it (then r.res holds it).
func (r *run) lookup(ctx context.Context) (bool, error) {
	p := r.p
	if r.req.NoCache || r.asst.NoCache || r.noCache || len(r.req.Tools) > 0 {
		p.stats.bypassed.Add(1)
		return false, nil
	}
	r.cacheKey = r.exactKey()
	if e, ok := p.opts.Cache.Get(r.cacheKey); ok {
		r.hit(e, "exact")
		p.stats.exact.Add(1)
		return true, nil
	}
	if p.opts.Embed != nil && r.singleTurn() {
		vecs, err := p.opts.Embed(ctx, []string{r.question})
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			p.log.Warn("semantic cache: embedding the question failed; treating as a miss", "err", err)
		case len(vecs) != 1 || !normalize(vecs[0]):
			p.log.Warn("semantic cache: the embedder returned no usable vector")
		default:
			r.vector = vecs[0]
			if e, _, ok := p.opts.Cache.Similar(r.scope(), r.vector, p.semantic); ok {
				if r.dependsHold(e) {
					r.hit(e, "semantic")
					p.stats.semantic.Add(1)
					return true, nil
				}
				p.opts.Cache.Remove(e.Key)
				p.stats.invalidated.Add(1)
			}
		}
	}
	p.stats.misses.Add(1)
	return false, nil
}

// singleTurn reports whether the request is a lone question: the only kind
// the semantic cache serves or stores.
func (r *run) singleTurn() bool {
	return len(r.history) == 0 && len(r.trailing) == 0 && r.system == "" && len(r.req.Tools) == 0
}

func (r *run) hit(e *CacheEntry, kind string) {
	c := e.Answer
	res := r.res
	res.Text, res.Sources, res.Sentences = c.Text, c.Sources, c.Sentences
	res.FinishReason, res.Served = c.FinishReason, c.Served
	res.Template, res.TemplateHash = c.Template, c.TemplateHash
	res.Usage, res.Avoided = sextant.Usage{}, c.Usage
	res.Cache = kind
	for _, m := range sextant.ParseCitations(res.Text) {
		res.Citations = append(res.Citations, Citation{Start: m.Start, End: m.End, Sources: m.Sources, Valid: m.Sources[len(m.Sources)-1] <= len(res.Sources)})
	}
}

// dependsHold reports whether every source a cached answer cites is among
// the current sources with the same text.
func (r *run) dependsHold(e *CacheEntry) bool {
	for _, d := range e.Depends {
		found := false
		for i := range r.sources {
			if r.sources[i].ChunkID == d.ChunkID && textHash(r.sources[i].Text) == d.TextHash {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (r *run) cacheEntry() *CacheEntry {
	a := r.res.Answer
	a.Timings = nil
	e := &CacheEntry{Key: r.cacheKey, Answer: a, Created: r.p.opts.Now()}
	cited := map[int]bool{}
	for _, s := range r.res.Sentences {
		for _, c := range s.Citations {
			cited[c] = true
		}
	}
	for _, s := range r.sources {
		if cited[s.N] || len(cited) == 0 {
			e.Depends = append(e.Depends, Dependency{ChunkID: s.ChunkID, DocumentID: s.DocumentID, TextHash: textHash(s.Text)})
		}
	}
	if r.vector != nil && r.singleTurn() {
		e.Scope, e.Vector = r.scope(), slices.Clone(r.vector)
	}
	return e
}

// exactKey hashes everything the generator's output depends on: the
// generation settings and the prompt (which holds the template's
// rendering of the instructions, sources, conversation and question), and
// the sources' chunk ids. The caller's tenant and groups are in it too,
// so an answer never crosses an access boundary even when the prompts
// happen to match.
func (r *run) exactKey() string {
	h := sha256.New()
	r.writeSettings(h)
	for _, m := range r.msgs {
		writeField(h, m.Role)
		writeField(h, m.Content)
		writeField(h, m.Name)
		writeField(h, m.ToolCallID)
		for _, tc := range m.ToolCalls {
			writeField(h, tc.ID+"\x00"+tc.Name+"\x00"+tc.Arguments)
		}
	}
	for _, s := range r.sources {
		writeField(h, s.ChunkID)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scope identifies the settings a semantic match must share.
func (r *run) scope() string {
	h := sha256.New()
	r.writeSettings(h)
	return hex.EncodeToString(h.Sum(nil))
}

func (r *run) writeSettings(h hash.Hash) {
	writeField(h, cacheVersion)
	writeField(h, r.asst.Name)
	writeField(h, r.asst.Model)
	writeField(h, r.res.TemplateHash)
	writeField(h, r.asst.System)
	writeField(h, r.req.Principal.Tenant)
	if g := r.req.Principal.Groups; g != nil {
		gs := slices.Clone(g)
		slices.Sort(gs)
		writeField(h, "groups")
		for _, x := range gs {
			writeField(h, x)
		}
	}
	if t := r.res.Temperature; t != nil {
		writeField(h, strconv.FormatUint(math.Float64bits(*t), 16))
	} else {
		writeField(h, "-")
	}
	if s := r.res.Seed; s != nil {
		writeField(h, strconv.FormatInt(*s, 10))
	} else {
		writeField(h, "-")
	}
	writeField(h, strconv.Itoa(r.res.MaxTokens))
}

// writeField writes s length-prefixed, so fields cannot run into each other.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

func textHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
