package eval

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/sextant-ai/sextant"
)

// BLEUOptions configures BLEU. The zero value is sacreBLEU's default for
// corpus_bleu: 13a tokenization, mixed case, 'exp' smoothing, maximum
// n-gram order 4, no effective order.
type BLEUOptions struct {
	// Smooth is the smoothing method: "exp" (the default, also chosen by
	// ""), "none", "floor" or "add-k" (Chen & Cherry 2014 methods 3, 0, 1
	// and 2).
	Smooth string
	// SmoothValue is the value for "floor" (default 0.1) and "add-k"
	// (default 1); 0 means the default.
	SmoothValue float64
	// Tokenize is "13a" (the default, also chosen by "") or "none".
	Tokenize string
	// Lowercase lowercases hypotheses and references before tokenizing.
	Lowercase bool
	// EffectiveOrder stops at the highest n-gram order the hypothesis has,
	// as sacreBLEU's effective_order (recommended for sentence BLEU).
	EffectiveOrder bool
	// MaxOrder is the highest n-gram order; 0 means 4.
	MaxOrder int
}

// BLEU is a BLEU score with its sufficient statistics, as sacreBLEU's
// BLEUScore.
type BLEU struct {
	Score      float64   // 0–100
	Counts     []int     // matched n-grams per order, 1..MaxOrder
	Totals     []int     // hypothesis n-grams per order
	Precisions []float64 // smoothed precisions per order, 0–100
	BP         float64   // brevity penalty
	SysLen     int       // hypothesis tokens
	RefLen     int       // closest reference tokens
}

func (o BLEUOptions) validate() error {
	switch o.Smooth {
	case "", "exp", "none", "floor", "add-k":
	default:
		return sextant.Errorf(sextant.EINVALID, "bleu: unknown smoothing method %q (want exp, none, floor or add-k)", o.Smooth)
	}
	switch o.Tokenize {
	case "", "13a", "none":
	default:
		return sextant.Errorf(sextant.EINVALID, "bleu: unknown tokenizer %q (want 13a or none)", o.Tokenize)
	}
	if o.MaxOrder < 0 || o.MaxOrder > 16 {
		return sextant.Errorf(sextant.EINVALID, "bleu: max order must be between 1 and 16, got %d", o.MaxOrder)
	}
	if o.SmoothValue < 0 || math.IsNaN(o.SmoothValue) || math.IsInf(o.SmoothValue, 0) {
		return sextant.Errorf(sextant.EINVALID, "bleu: smoothing value must be a non-negative number, got %v", o.SmoothValue)
	}
	return nil
}

func (o BLEUOptions) maxOrder() int {
	if o.MaxOrder == 0 {
		return 4
	}
	return o.MaxOrder
}

// CorpusBLEU is sacreBLEU's corpus_score: refs holds one or more reference
// streams, each with one reference per hypothesis (refs[k][i] is the k-th
// reference of hyps[i]); an empty reference string means that hypothesis
// has fewer references. Statistics are summed over the corpus before the
// score is computed.
func CorpusBLEU(hyps []string, refs [][]string, o BLEUOptions) (BLEU, error) {
	if err := o.validate(); err != nil {
		return BLEU{}, err
	}
	if len(hyps) == 0 {
		return BLEU{}, sextant.Errorf(sextant.EINVALID, "bleu: no hypotheses")
	}
	if len(refs) == 0 {
		return BLEU{}, sextant.Errorf(sextant.EINVALID, "bleu: no reference streams")
	}
	for k, stream := range refs {
		if len(stream) != len(hyps) {
			return BLEU{}, sextant.Errorf(sextant.EINVALID, "bleu: reference stream %d has %d segments, want %d (one per hypothesis)", k, len(stream), len(hyps))
		}
	}
	n := o.maxOrder()
	st := bleuStats{correct: make([]int, n), total: make([]int, n)}
	segRefs := make([]string, 0, len(refs))
	for i, h := range hyps {
		segRefs = segRefs[:0]
		for _, stream := range refs {
			if stream[i] != "" {
				segRefs = append(segRefs, stream[i])
			}
		}
		if len(segRefs) == 0 {
			return BLEU{}, sextant.Errorf(sextant.EINVALID, "bleu: hypothesis %d has only empty references", i)
		}
		st.add(h, segRefs, o)
	}
	return computeBLEU(st, o), nil
}

// SentenceBLEU is sacreBLEU's sentence_score of one hypothesis against its
// references. sacreBLEU's sentence_bleu defaults are BLEUOptions{
// EffectiveOrder: true}.
func SentenceBLEU(hyp string, refs []string, o BLEUOptions) (BLEU, error) {
	streams := make([][]string, len(refs))
	for k, r := range refs {
		streams[k] = []string{r}
	}
	return CorpusBLEU([]string{hyp}, streams, o)
}

type bleuStats struct {
	sysLen, refLen int
	correct, total []int
}

// add accumulates one segment's statistics (sacreBLEU's
// _compute_segment_statistics with _extract_reference_info).
func (st *bleuStats) add(hyp string, refs []string, o BLEUOptions) {
	n := len(st.correct)
	refMax := map[string]int{}
	closest, closestDiff := -1, -1
	hypToks := pyFields(bleuPreprocess(hyp, o))
	for _, r := range refs {
		toks := pyFields(bleuPreprocess(r, o))
		counts := wordNgrams(toks, n)
		for g, c := range counts {
			if c > refMax[g] {
				refMax[g] = c
			}
		}
		diff := abs(len(hypToks) - len(toks))
		if closestDiff == -1 || diff < closestDiff || (diff == closestDiff && len(toks) < closest) {
			closestDiff, closest = diff, len(toks)
		}
	}
	st.sysLen += len(hypToks)
	st.refLen += closest
	for g, c := range wordNgrams(hypToks, n) {
		order := int(g[0]) - 1
		st.total[order] += c
		if rc, ok := refMax[g]; ok {
			st.correct[order] += min(c, rc)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// wordNgrams counts the n-grams of orders 1..n, keyed by ngramKey.
func wordNgrams(toks []string, n int) map[string]int {
	m := make(map[string]int, len(toks)*n)
	var buf []byte
	for k := 1; k <= n; k++ {
		for i := 0; i+k <= len(toks); i++ {
			buf = appendNgramKey(buf[:0], toks[i:i+k])
			m[string(buf)]++
		}
	}
	return m
}

// appendNgramKey appends an unambiguous key for the n-gram toks: its order
// as one byte, then each token prefixed by its length.
func appendNgramKey(dst []byte, toks []string) []byte {
	dst = append(dst, byte(len(toks)))
	for _, t := range toks {
		dst = binary.AppendUvarint(dst, uint64(len(t)))
		dst = append(dst, t...)
	}
	return dst
}

func bleuPreprocess(s string, o BLEUOptions) string {
	if o.Lowercase {
		s = pyLower(s)
	}
	s = pyRStrip(s)
	if o.Tokenize == "none" {
		return s
	}
	return Tokenize13a(s)
}

// computeBLEU is sacreBLEU's compute_bleu.
func computeBLEU(st bleuStats, o BLEUOptions) BLEU {
	n := len(st.correct)
	smooth := o.Smooth
	if smooth == "" {
		smooth = "exp"
	}
	value := o.SmoothValue
	if value == 0 {
		switch smooth {
		case "floor":
			value = 0.1
		case "add-k":
			value = 1
		}
	}
	res := BLEU{
		Counts:     append([]int(nil), st.correct...),
		Totals:     append([]int(nil), st.total...),
		Precisions: make([]float64, n),
		SysLen:     st.sysLen,
		RefLen:     st.refLen,
		BP:         1,
	}
	if st.sysLen < st.refLen {
		res.BP = 0
		if st.sysLen > 0 {
			res.BP = math.Exp(1 - float64(st.refLen)/float64(st.sysLen))
		}
	}
	anyCorrect := false
	for _, c := range st.correct {
		anyCorrect = anyCorrect || c > 0
	}
	if !anyCorrect {
		return res
	}
	correct := make([]float64, n)
	total := make([]float64, n)
	for i := range n {
		correct[i], total[i] = float64(st.correct[i]), float64(st.total[i])
	}
	smoothMteval := 1.0
	effOrder := n
	for k := 1; k <= n; k++ {
		if smooth == "add-k" && k > 1 {
			correct[k-1] += value
			total[k-1] += value
		}
		if total[k-1] == 0 {
			break
		}
		if o.EffectiveOrder {
			effOrder = k
		}
		switch {
		case correct[k-1] > 0:
			res.Precisions[k-1] = 100 * correct[k-1] / total[k-1]
		case smooth == "exp":
			smoothMteval *= 2
			res.Precisions[k-1] = 100 / (smoothMteval * total[k-1])
		case smooth == "floor":
			res.Precisions[k-1] = 100 * value / total[k-1]
		}
	}
	sum := 0.0
	for _, p := range res.Precisions[:effOrder] {
		sum += sacreLog(p)
	}
	res.Score = res.BP * math.Exp(sum/float64(effOrder))
	return res
}

// sacreLog is sacreBLEU's my_log: log with log(0) floored.
func sacreLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

// Tokenize13a tokenizes a segment as sacreBLEU's default "13a" tokenizer
// (mteval-v13a.pl): unescape a few XML entities, separate punctuation and
// symbols, separate periods and commas unless they sit between digits, and
// separate a dash that follows a digit. Tokens are joined by single spaces.
func Tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	line = strings.ReplaceAll(line, "&quot;", "\"")
	line = strings.ReplaceAll(line, "&amp;", "&")
	line = strings.ReplaceAll(line, "&lt;", "<")
	line = strings.ReplaceAll(line, "&gt;", ">")
	rs := []rune(" " + line + " ")

	// ([\{-\~\[-\` -\&\(-\+\:-\@\/]) → " \1 "
	out := make([]rune, 0, len(rs)*2)
	for _, r := range rs {
		if is13aSymbol(r) {
			out = append(out, ' ', r, ' ')
		} else {
			out = append(out, r)
		}
	}
	// ([^0-9])([\.,]) → "\1 \2 "
	out = subPairs(out, func(a, b rune) bool { return !isDigit(a) && (b == '.' || b == ',') },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	// ([\.,])([^0-9]) → " \1 \2"
	out = subPairs(out, func(a, b rune) bool { return (a == '.' || a == ',') && !isDigit(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, ' ', a, ' ', b) })
	// ([0-9])(-) → "\1 \2 "
	out = subPairs(out, func(a, b rune) bool { return isDigit(a) && b == '-' },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	return strings.Join(pyFields(string(out)), " ")
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func is13aSymbol(r rune) bool {
	return (r >= '{' && r <= '~') || (r >= '[' && r <= '`') || (r >= ' ' && r <= '&') ||
		(r >= '(' && r <= '+') || (r >= ':' && r <= '@') || r == '/'
}

// subPairs is Python's re.sub for a two-character pattern: scanning left to
// right, each non-overlapping match of (a, b) is replaced by repl.
func subPairs(rs []rune, match func(a, b rune) bool, repl func(dst []rune, a, b rune) []rune) []rune {
	out := make([]rune, 0, len(rs)+len(rs)/2)
	i := 0
	for i < len(rs) {
		if i+1 < len(rs) && match(rs[i], rs[i+1]) {
			out = repl(out, rs[i], rs[i+1])
			i += 2
			continue
		}
		out = append(out, rs[i])
		i++
	}
	return out
}

// String formats the score like sacreBLEU's verbose format.
func (b BLEU) String() string {
	ps := make([]string, len(b.Precisions))
	for i, p := range b.Precisions {
		ps[i] = fmt.Sprintf("%.1f", p)
	}
	ratio := 0.0
	if b.RefLen > 0 {
		ratio = float64(b.SysLen) / float64(b.RefLen)
	}
	return fmt.Sprintf("BLEU = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		b.Score, strings.Join(ps, "/"), b.BP, ratio, b.SysLen, b.RefLen)
}
