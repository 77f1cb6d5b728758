package eval

import (
	"strings"
	"unicode/utf8"
)

// NormalizeAnswer normalizes text as the SQuAD v1.1 evaluation script's
// normalize_answer does: lowercase, remove ASCII punctuation
// (Python's string.punctuation), replace the articles a, an and the (as
// whole words) by a space, and collapse whitespace to single spaces.
func NormalizeAnswer(s string) string {
	s = pyLower(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf && isASCIIPunct(byte(r)) {
			continue
		}
		b.WriteRune(r)
	}
	s = removeArticles(b.String())
	return strings.Join(pyFields(s), " ")
}

// isASCIIPunct reports membership in Python's string.punctuation.
func isASCIIPunct(c byte) bool {
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')
}

// removeArticles is re.sub(r'\b(a|an|the)\b', ' ', s): a maximal run of
// word characters equal to an article is replaced by one space.
func removeArticles(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !pyIsWord(r) {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !pyIsWord(r) {
				break
			}
			j += n
		}
		switch w := s[i:j]; w {
		case "a", "an", "the":
			b.WriteByte(' ')
		default:
			b.WriteString(w)
		}
		i = j
	}
	return b.String()
}

// ExactMatch is the SQuAD v1.1 exact-match score of prediction: 1 when its
// normalized form equals the normalized form of any reference, else 0.
// With no references it is 0.
func ExactMatch(prediction string, references ...string) float64 {
	p := NormalizeAnswer(prediction)
	for _, r := range references {
		if NormalizeAnswer(r) == p {
			return 1
		}
	}
	return 0
}

// TokenF1 is the SQuAD v1.1 token F1 of prediction: the harmonic mean of
// precision and recall of the multiset of normalized tokens, maximized over
// the references (metric_max_over_ground_truths). With no references it is
// 0.
func TokenF1(prediction string, references ...string) float64 {
	pred := pyFields(NormalizeAnswer(prediction))
	best := 0.0
	for _, r := range references {
		if f := tokenF1(pred, pyFields(NormalizeAnswer(r))); f > best {
			best = f
		}
	}
	return best
}

func tokenF1(pred, ref []string) float64 {
	if len(pred) == 0 || len(ref) == 0 {
		return 0
	}
	counts := make(map[string]int, len(ref))
	for _, t := range ref {
		counts[t]++
	}
	same := 0
	for _, t := range pred {
		if counts[t] > 0 {
			counts[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	p := float64(same) / float64(len(pred))
	r := float64(same) / float64(len(ref))
	return 2 * p * r / (p + r)
}
