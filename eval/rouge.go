package eval

import (
	"strings"
)

// Rouge holds precision, recall and F-measure (beta = 1) of one ROUGE
// comparison, as rouge-score's Score tuple.
type Rouge struct {
	Precision float64
	Recall    float64
	F1        float64 // rouge-score's fmeasure
}

// RougeOptions configures the ROUGE metrics. The zero value is
// rouge-score's default: no stemming.
type RougeOptions struct {
	// Stem applies NLTK's Porter stemmer (rouge-score's use_stemmer=True) to
	// tokens longer than three characters. This is the original Porter
	// algorithm with NLTK's extensions, not Snowball English.
	Stem bool
}

// RougeTokens tokenizes text as rouge-score's default tokenizer: lowercase,
// every run of characters other than a–z and 0–9 becomes a separator, and,
// with o.Stem, tokens longer than three characters are Porter-stemmed.
func RougeTokens(text string, o RougeOptions) []string {
	text = pyLower(text)
	var toks []string
	start := -1
	for i := 0; i <= len(text); i++ {
		alnum := i < len(text) && (text[i] >= 'a' && text[i] <= 'z' || text[i] >= '0' && text[i] <= '9')
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			t := text[start:i]
			if o.Stem && len(t) > 3 {
				t = porterStem(t)
			}
			if t != "" {
				toks = append(toks, t)
			}
			start = -1
		}
	}
	return toks
}

// RougeL is rouge-score's rougeL between a candidate and a reference (its
// score(target=reference, prediction=candidate)): the longest common
// subsequence of tokens, precision = LCS/len(candidate), recall =
// LCS/len(reference), F1 their harmonic mean. Empty token lists score 0.
func RougeL(candidate, reference string, o RougeOptions) Rouge {
	c := RougeTokens(candidate, o)
	r := RougeTokens(reference, o)
	if len(c) == 0 || len(r) == 0 {
		return Rouge{}
	}
	l := lcsLength(r, c)
	return newRouge(float64(l)/float64(len(c)), float64(l)/float64(len(r)))
}

// RougeN is rouge-score's rougeN (n ≥ 1): clipped n-gram overlap, with
// precision = overlap/max(candidate n-grams, 1) and recall =
// overlap/max(reference n-grams, 1). n < 1 scores 0.
func RougeN(candidate, reference string, n int, o RougeOptions) Rouge {
	if n < 1 {
		return Rouge{}
	}
	c := RougeTokens(candidate, o)
	r := RougeTokens(reference, o)
	rc := ngramCounts(r, n)
	cc := ngramCounts(c, n)
	overlap, rn, cn := 0, 0, 0
	for g, k := range rc {
		overlap += min(k, cc[g])
		rn += k
	}
	for _, k := range cc {
		cn += k
	}
	return newRouge(float64(overlap)/float64(max(cn, 1)), float64(overlap)/float64(max(rn, 1)))
}

func ngramCounts(toks []string, n int) map[string]int {
	m := make(map[string]int)
	var buf []byte
	for i := 0; i+n <= len(toks); i++ {
		buf = appendNgramKey(buf[:0], toks[i:i+n])
		m[string(buf)]++
	}
	return m
}

// RougeLsum is rouge-score's rougeLsum: summary-level LCS with the
// reference and candidate split into sentences at newlines (empty lines
// dropped), the union LCS of each reference sentence against all candidate
// sentences, and hits counted without double counting tokens, as in
// ROUGE-1.5.5.
func RougeLsum(candidate, reference string, o RougeOptions) Rouge {
	ref := rougeSentences(reference, o)
	can := rougeSentences(candidate, o)
	if len(ref) == 0 || len(can) == 0 {
		return Rouge{}
	}
	m, n := 0, 0
	refCounts := map[string]int{}
	canCounts := map[string]int{}
	for _, s := range ref {
		m += len(s)
		for _, t := range s {
			refCounts[t]++
		}
	}
	for _, s := range can {
		n += len(s)
		for _, t := range s {
			canCounts[t]++
		}
	}
	if m == 0 || n == 0 {
		return Rouge{}
	}
	hits := 0
	for _, r := range ref {
		for _, t := range unionLCS(r, can) {
			if canCounts[t] > 0 && refCounts[t] > 0 {
				hits++
				canCounts[t]--
				refCounts[t]--
			}
		}
	}
	return newRouge(float64(hits)/float64(n), float64(hits)/float64(m))
}

func rougeSentences(text string, o RougeOptions) [][]string {
	var out [][]string
	for _, s := range strings.Split(text, "\n") {
		if s != "" {
			out = append(out, RougeTokens(s, o))
		}
	}
	return out
}

// newRouge computes rouge-score's fmeasure.
func newRouge(p, r float64) Rouge {
	f := 0.0
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return Rouge{Precision: p, Recall: r, F1: f}
}

// lcsLength is the length of the longest common subsequence of a and b, in
// O(len(b)) memory.
func lcsLength(a, b []string) int {
	prev := make([]int32, len(b)+1)
	cur := make([]int32, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return int(prev[len(b)])
}

// unionLCS returns the tokens of ref at the union of the indices of one LCS
// of ref with each candidate sentence, in ref order. Which LCS is chosen
// follows rouge-score's backtracking, since the union depends on it.
func unionLCS(ref []string, cands [][]string) []string {
	in := make([]bool, len(ref))
	for _, c := range cands {
		for _, i := range lcsIndices(ref, c) {
			in[i] = true
		}
	}
	var out []string
	for i, ok := range in {
		if ok {
			out = append(out, ref[i])
		}
	}
	return out
}

// lcsIndices is rouge-score's lcs_ind: the table, then _backtrack_norec.
func lcsIndices(ref, can []string) []int {
	rows, cols := len(ref), len(can)
	t := make([][]int32, rows+1)
	for i := range t {
		t[i] = make([]int32, cols+1)
	}
	for i := 1; i <= rows; i++ {
		for j := 1; j <= cols; j++ {
			if ref[i-1] == can[j-1] {
				t[i][j] = t[i-1][j-1] + 1
			} else {
				t[i][j] = max(t[i-1][j], t[i][j-1])
			}
		}
	}
	var idx []int
	i, j := rows, cols
	for i > 0 && j > 0 {
		switch {
		case ref[i-1] == can[j-1]:
			idx = append(idx, i-1)
			i--
			j--
		case t[i][j-1] > t[i-1][j]:
			j--
		default:
			i--
		}
	}
	for a, b := 0, len(idx)-1; a < b; a, b = a+1, b-1 {
		idx[a], idx[b] = idx[b], idx[a]
	}
	return idx
}
