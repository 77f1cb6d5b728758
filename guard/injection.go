package guard

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/sextant-ai/sextant"
)

// Action is what to do with a finding or a scored text.
type Action string

// Actions. Allow, Flag and Block apply to scored texts (and policy
// decisions); Redact, Mask, Hash and Allow apply to findings.
const (
	ActionAllow  Action = "allow"  // let it through unchanged
	ActionFlag   Action = "flag"   // let it through, mark it for review
	ActionBlock  Action = "block"  // refuse it
	ActionRedact Action = "redact" // replace with a typed placeholder: [EMAIL_1]
	ActionMask   Action = "mask"   // keep the shape, hide most characters: ****1111
	ActionHash   Action = "hash"   // replace with a keyed HMAC: [EMAIL:3f2a…]
)

// Thresholds turn an injection score into an action: at or above Block a
// prompt is blocked, at or above Flag it is flagged. Document is the
// threshold for retrieved chunks (ScoreDocument): at or above it a chunk is
// excluded and its document quarantined.
type Thresholds struct {
	Flag, Block, Document float64
}

// Assessment is the injection verdict on one text.
type Assessment struct {
	Score   float64            // calibrated probability of an injection or jailbreak attempt
	Action  Action             // ActionAllow, ActionFlag or ActionBlock under the thresholds
	Model   float64            // the learned model's probability on its own
	Signals map[string]float64 // the non-zero hand-written signals, by name
}

// Injection scores text for prompt injection and jailbreak attempts: a
// logistic combiner over hand-written signals and a logistic model over
// hashed word and character n-grams. It is immutable and safe for
// concurrent use.
type Injection struct {
	bits       uint
	weights    []float32 // 1<<bits hashed feature weights
	bias       float64
	comb       [numSignals + 2]float64 // bias, model logit, signals
	Thresholds Thresholds
	ps         *patternSet
}

//go:generate go run ../cmd/sextant guard train --data ../../shared/data/deepset-prompt-injections/train.jsonl --extra testdata/dev_attacks.jsonl,testdata/train_benign.jsonl,testdata/injection_dev.jsonl,testdata/benign_dev.jsonl,testdata/mixed_dev.jsonl --calibrate testdata/calib_benign.jsonl --out injection_model.bin

//go:embed injection_model.bin
var embeddedModel []byte

// DefaultInjection returns the scorer embedded in the binary, trained by
// `sextant guard train` (the go:generate line above): the n-gram model on
// the deepset prompt-injections train split only, the combiner on that
// split plus the development sets in testdata/, the thresholds on the
// benign prompts of testdata/calib_benign.jsonl.
var DefaultInjection = sync.OnceValue(func() *Injection {
	inj, err := LoadInjection(embeddedModel)
	if err != nil {
		panic("guard: embedded injection model: " + err.Error()) // a build defect, caught by tests
	}
	return inj
})

// Score assesses a prompt.
func (inj *Injection) Score(text string) Assessment {
	a := inj.assess(text)
	switch {
	case a.Score >= inj.Thresholds.Block:
		a.Action = ActionBlock
	case a.Score >= inj.Thresholds.Flag:
		a.Action = ActionFlag
	default:
		a.Action = ActionAllow
	}
	return a
}

// ScoreDocument assesses a retrieved chunk for indirect injection: text
// that tries to instruct the model. Long chunks are scored per window of a
// few lines as well as whole, since an injected instruction is usually a
// small part of an otherwise ordinary document; the highest score counts.
// Action is ActionBlock at or above Thresholds.Document (exclude the chunk,
// quarantine its document), otherwise ActionAllow.
//
// Markdown that quotes — code spans, fenced code blocks and block quotes —
// is scored apart from the prose and its score multiplied by
// QuotedDiscount: documentation that shows an attack as an example
// (a manual page on guardrails) is describing it, not issuing it. An
// instruction in plain prose scores in full.
func (inj *Injection) ScoreDocument(text string) Assessment {
	prose, quoted := splitQuoted(text)
	if quoted == "" {
		return inj.documentAction(inj.scoreWindows(text))
	}
	best := inj.scoreWindows(prose)
	if q := inj.scoreWindows(quoted); q.Score*QuotedDiscount > best.Score {
		q.Score *= QuotedDiscount
		best = q
	}
	return inj.documentAction(best)
}

// QuotedDiscount scales the injection score of quoted Markdown (code and
// block quotes) in documents: an attack quoted as an example scores at
// most 0.6, under the default document threshold (0.7).
const QuotedDiscount = 0.6

func (inj *Injection) scoreWindows(text string) Assessment {
	best := inj.assess(text)
	for _, w := range windows(text, 600) {
		if a := inj.assess(w); a.Score > best.Score {
			best = a
		}
	}
	return best
}

func (inj *Injection) documentAction(a Assessment) Assessment {
	a.Action = ActionAllow
	if a.Score >= inj.Thresholds.Document {
		a.Action = ActionBlock
	}
	return a
}

// splitQuoted separates Markdown text into prose and what it quotes:
// fenced code blocks (``` or ~~~), block quotes (lines starting with
// '>') and inline code spans. Line structure is kept on both sides (a
// quoted span leaves a blank in the prose). quoted is "" when there is
// nothing quoted. It is a single pass; an unclosed fence quotes to the end,
// an unclosed code span is prose.
func splitQuoted(text string) (prose, quoted string) {
	if !strings.ContainsAny(text, "`~>") {
		return text, ""
	}
	var p, q strings.Builder
	fence, inside := sextant.StartsInCodeBlock(text) // a chunk cut out of a longer document
	if !inside {
		fence = ""
	}
	for rest := text; rest != ""; {
		line, next, found := strings.Cut(rest, "\n")
		rest = next
		nl := ""
		if found {
			nl = "\n"
		}
		trim := strings.TrimLeft(line, " ")
		indent := len(line) - len(trim)
		switch {
		case fence != "":
			if indent < 4 && strings.HasPrefix(trim, fence) && strings.Trim(trim, fence[:1]+" ") == "" {
				fence = ""
			} else {
				q.WriteString(line)
			}
			q.WriteString(nl)
			p.WriteString(nl)
			continue
		case indent < 4 && (strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~")):
			n := 0
			for n < len(trim) && trim[n] == trim[0] {
				n++
			}
			fence = trim[:n]
			q.WriteString(nl)
			p.WriteString(nl)
			continue
		case indent < 4 && strings.HasPrefix(trim, ">"):
			q.WriteString(strings.TrimLeft(trim, "> "))
			q.WriteString(nl)
			p.WriteString(nl)
			continue
		}
		// Inline code spans: a run of n backticks up to the next run of
		// exactly n.
		for line != "" {
			i := strings.IndexByte(line, '`')
			if i < 0 {
				break
			}
			n := i
			for n < len(line) && line[n] == '`' {
				n++
			}
			ticks := line[i:n]
			e := -1
			for k := n; k < len(line); {
				j := strings.Index(line[k:], ticks)
				if j < 0 {
					break
				}
				j += k
				m := j + len(ticks)
				if m < len(line) && line[m] == '`' || line[j-1] == '`' {
					for m < len(line) && line[m] == '`' {
						m++
					}
					k = m
					continue
				}
				e = j
				break
			}
			if e < 0 {
				p.WriteString(line[:n])
				line = line[n:]
				continue
			}
			p.WriteString(line[:i])
			p.WriteByte(' ')
			q.WriteString(line[n:e])
			q.WriteByte(' ')
			line = line[e+len(ticks):]
		}
		p.WriteString(line)
		p.WriteString(nl)
		q.WriteString(nl)
	}
	if strings.TrimSpace(q.String()) == "" {
		return text, ""
	}
	return p.String(), q.String()
}

// windows splits text at line and sentence ends into pieces of at most
// about size bytes (a single longer sentence stays whole).
func windows(text string, size int) []string {
	if len(text) <= size {
		return nil
	}
	var out []string
	start, lastCut := 0, 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' || ((c == '.' || c == '!' || c == '?') && i+1 < len(text) && text[i+1] == ' ') {
			if i+1-start > size && lastCut > start {
				out = append(out, text[start:lastCut])
				start = lastCut
			}
			lastCut = i + 1
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

func (inj *Injection) assess(text string) Assessment {
	fs := featurePool.Get().(*featureScratch)
	defer featurePool.Put(fs)
	norm, st := normalize(fs.norm, text)
	fs.norm = norm
	ns := string(norm)
	fs.words = tokenizeLower(fs.words[:0], ns)
	sig := signalsOf(text, ns, st, fs.words, inj.ps, &fs.sig)
	fs.feats = featuresOf(fs.feats[:0], ns, fs.words)
	logit := linearLogit(inj.weights, inj.bias, fs.feats, inj.bits)
	z := combinerInput(logit, sig)
	s := inj.comb[0]
	for i, v := range z {
		s += inj.comb[i+1] * v
	}
	a := Assessment{Score: sigmoid(s), Model: sigmoid(logit)}
	for i, v := range sig {
		if v > 0 {
			if a.Signals == nil {
				a.Signals = map[string]float64{}
			}
			a.Signals[signalNames[i]] = v
		}
	}
	return a
}

// combinerInput is the combiner's feature vector: the clipped model logit,
// then the signals.
func combinerInput(logit float64, sig [numSignals]float64) [numSignals + 1]float64 {
	var z [numSignals + 1]float64
	z[0] = max(-8, min(8, logit)) / 4
	copy(z[1:], sig[:])
	return z
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// ---- the hashed n-gram model ------------------------------------------

var featurePool = sync.Pool{New: func() any { return new(featureScratch) }}

type featureScratch struct {
	norm  []byte
	words []string
	feats []uint32
	sig   signalScratch
}

func linearLogit(w []float32, bias float64, feats []uint32, bits uint) float64 {
	if len(feats) == 0 {
		return bias
	}
	mask := uint32(1)<<bits - 1
	s := 0.0
	for _, f := range feats {
		s += float64(w[f&mask])
	}
	return bias + s/math.Sqrt(float64(len(feats)))
}

// maxFeatureBytes caps the text the model reads: beyond it, n-grams add
// cost without changing a prompt's verdict (signals still see all text).
const maxFeatureBytes = 8192

// extractFeatures hashes word unigrams and bigrams and character 3- to
// 5-grams of the normalized text.
func extractFeatures(fs *featureScratch, text string) []uint32 {
	norm, _ := normalize(fs.norm, text)
	fs.norm = norm
	ns := string(norm)
	fs.words = tokenizeLower(fs.words[:0], ns)
	return featuresOf(fs.feats[:0], ns, fs.words)
}

// featuresOf hashes the features of normalized text norm and its words,
// reading at most maxFeatureBytes of it.
func featuresOf(out []uint32, norm string, words []string) []uint32 {
	if len(norm) > maxFeatureBytes {
		norm = norm[:maxFeatureBytes]
		n := 0
		for i, w := range words {
			if w != "^" && w != lineBreak {
				n += len(w) + 1
			}
			if n > maxFeatureBytes {
				words = words[:i]
				break
			}
		}
	}
	prev := ""
	for _, w := range words {
		if w == lineBreak {
			w = "^" // the model sees every break alike
		}
		if w != "^" {
			out = append(out, hashStrings(1, w, ""))
		}
		if prev != "" {
			out = append(out, hashStrings(2, prev, w))
		}
		prev = w
	}
	// Character n-grams over the normalized text with blanks collapsed.
	var win [5]byte
	n := 0
	lastSpace := true
	for i := 0; i < len(norm); i++ {
		c := norm[i]
		if isBlank(c) {
			if lastSpace {
				continue
			}
			c = ' '
			lastSpace = true
		} else {
			lastSpace = false
		}
		copy(win[:], win[1:])
		win[4] = c
		n++
		for k := 3; k <= 5; k++ {
			if n >= k {
				out = append(out, hashBytes(uint32(k), win[5-k:]))
			}
		}
	}
	return out
}

// FNV-1a, inlined to hash without allocating.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

func hashStrings(kind uint32, a, b string) uint32 {
	h := uint32(fnvOffset) ^ kind
	h *= fnvPrime
	for i := 0; i < len(a); i++ {
		h ^= uint32(a[i])
		h *= fnvPrime
	}
	if b != "" {
		h ^= ' '
		h *= fnvPrime
		for i := 0; i < len(b); i++ {
			h ^= uint32(b[i])
			h *= fnvPrime
		}
	}
	return h
}

func hashBytes(kind uint32, b []byte) uint32 {
	h := uint32(fnvOffset) ^ (kind + 16)
	h *= fnvPrime
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime
	}
	return h
}

// ---- serialization -----------------------------------------------------

const modelMagic = "SXGI1\n"

// MarshalBinary encodes the scorer: header, combiner, thresholds, then the
// non-zero hashed weights as (index delta, float32) pairs.
func (inj *Injection) MarshalBinary() ([]byte, error) {
	b := []byte(modelMagic)
	b = binary.AppendUvarint(b, uint64(inj.bits))
	b = binary.AppendUvarint(b, numSignals)
	f64 := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) }
	f64(inj.bias)
	for _, v := range inj.comb {
		f64(v)
	}
	f64(inj.Thresholds.Flag)
	f64(inj.Thresholds.Block)
	f64(inj.Thresholds.Document)
	nz := 0
	for _, w := range inj.weights {
		if w != 0 {
			nz++
		}
	}
	b = binary.AppendUvarint(b, uint64(nz))
	last := 0
	for i, w := range inj.weights {
		if w != 0 {
			b = binary.AppendUvarint(b, uint64(i-last))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(w))
			last = i
		}
	}
	return b, nil
}

// LoadInjection decodes a scorer written by MarshalBinary.
func LoadInjection(data []byte) (*Injection, error) {
	bad := func(what string) (*Injection, error) {
		return nil, fmt.Errorf("injection model: %s", what)
	}
	rest, ok := strings.CutPrefix(string(data), modelMagic)
	if !ok {
		return bad("not a model file (bad magic)")
	}
	b := []byte(rest)
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	f64 := func() (float64, bool) {
		if len(b) < 8 {
			return 0, false
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	bits, ok := uv()
	if !ok || bits < 8 || bits > 24 {
		return bad("bad hash size")
	}
	ns, ok := uv()
	if !ok || ns != numSignals {
		return bad(fmt.Sprintf("model has %d signals, this build %d: retrain with `sextant guard train`", ns, numSignals))
	}
	inj := &Injection{bits: uint(bits), weights: make([]float32, 1<<bits), ps: defaultPatterns()}
	if inj.bias, ok = f64(); !ok {
		return bad("truncated header")
	}
	for i := range inj.comb {
		if inj.comb[i], ok = f64(); !ok {
			return bad("truncated combiner")
		}
	}
	for _, p := range []*float64{&inj.Thresholds.Flag, &inj.Thresholds.Block, &inj.Thresholds.Document} {
		if *p, ok = f64(); !ok || *p < 0 || *p > 1 {
			return bad("bad thresholds")
		}
	}
	nz, ok := uv()
	if !ok || nz > 1<<bits {
		return bad("bad weight count")
	}
	idx := 0
	for k := uint64(0); k < nz; k++ {
		d, ok := uv()
		if !ok || len(b) < 4 {
			return bad("truncated weights")
		}
		idx += int(d)
		if idx >= len(inj.weights) || (k > 0 && d == 0) {
			return bad("weight index out of range")
		}
		w := math.Float32frombits(binary.LittleEndian.Uint32(b))
		if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			return bad("non-finite weight")
		}
		inj.weights[idx] = w
		b = b[4:]
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return inj, nil
}
