package eval

// porterStem stems a lowercase word exactly as NLTK's PorterStemmer in its
// default NLTK_EXTENSIONS mode (nltk.stem.porter, the stemmer Google's
// rouge-score uses). It differs from Snowball English ("Porter2"): for
// example NLTK Porter maps "generously" to "gener" where Snowball gives
// "generous". Words of one or two runes are returned unchanged.
func porterStem(word string) string {
	if s, ok := porterIrregular[word]; ok {
		return s
	}
	w := []rune(word)
	if len(w) <= 2 {
		return word
	}
	w = porterStep1a(w)
	w = porterStep1b(w)
	w = porterStep1c(w)
	w = porterStep2(w)
	w = porterStep3(w)
	w = porterStep4(w)
	w = porterStep5a(w)
	w = porterStep5b(w)
	return string(w)
}

// porterIrregular is NLTK's table of irregular forms, mapped straight to
// their stems.
var porterIrregular = map[string]string{
	"sky": "sky", "skies": "sky",
	"dying":   "die",
	"lying":   "lie",
	"tying":   "tie",
	"news":    "news",
	"innings": "inning", "inning": "inning",
	"outings": "outing", "outing": "outing",
	"cannings": "canning", "canning": "canning",
	"howe":    "howe",
	"proceed": "proceed",
	"exceed":  "exceed",
	"succeed": "succeed",
}

func isVowel(r rune) bool { return r == 'a' || r == 'e' || r == 'i' || r == 'o' || r == 'u' }

// consonant reports whether w[i] is a consonant: not a vowel, and not a y
// preceded by a consonant. Whether a y is a consonant depends on the letter
// before it, so the status is computed in one pass from the start (NLTK
// recurses, which is quadratic on runs of y).
func consonant(w []rune, i int) bool {
	c := false
	for j := 0; j <= i; j++ {
		c = nextConsonant(w[j], j, c)
	}
	return c
}

// nextConsonant is the consonant status of r at index j given the status
// prev of the letter before it.
func nextConsonant(r rune, j int, prev bool) bool {
	switch {
	case isVowel(r):
		return false
	case r == 'y' && j > 0:
		return !prev
	}
	return true
}

// measure is m in Porter's [C](VC)^m[V]: the number of vowel→consonant
// transitions.
func measure(w []rune) int {
	m := 0
	c := false
	for i, r := range w {
		prev := c
		c = nextConsonant(r, i, prev)
		if c && i > 0 && !prev {
			m++
		}
	}
	return m
}

func containsVowel(w []rune) bool {
	c := false
	for i, r := range w {
		if c = nextConsonant(r, i, c); !c {
			return true
		}
	}
	return false
}

func endsDoubleConsonant(w []rune) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && consonant(w, n-1)
}

// endsCVC is Porter's *o, with NLTK's extension that a two-letter
// vowel-consonant stem also qualifies.
func endsCVC(w []rune) bool {
	n := len(w)
	if n >= 3 && consonant(w, n-3) && !consonant(w, n-2) && consonant(w, n-1) {
		switch w[n-1] {
		case 'w', 'x', 'y':
		default:
			return true
		}
	}
	return n == 2 && !consonant(w, 0) && consonant(w, 1)
}

func hasSuffix(w []rune, s string) bool {
	if len(s) > len(w) {
		return false
	}
	off := len(w) - len(s)
	for i := 0; i < len(s); i++ {
		if w[off+i] != rune(s[i]) {
			return false
		}
	}
	return true
}

// replace returns w without its last n runes plus repl, in a new slice.
func replace(w []rune, n int, repl string) []rune {
	out := make([]rune, 0, len(w)-n+len(repl))
	out = append(out, w[:len(w)-n]...)
	for i := 0; i < len(repl); i++ {
		out = append(out, rune(repl[i]))
	}
	return out
}

// porterRule is one (suffix, replacement, condition) rule; cond receives
// the word without the suffix. A nil cond always holds.
type porterRule struct {
	suffix, repl string
	cond         func(stem []rune) bool
}

// applyRules applies the first rule whose suffix matches; if its condition
// fails the word is returned unchanged and no later rule is tried.
func applyRules(w []rune, rules []porterRule) []rune {
	for _, r := range rules {
		if hasSuffix(w, r.suffix) {
			stem := w[:len(w)-len(r.suffix)]
			if r.cond == nil || r.cond(stem) {
				return replace(w, len(r.suffix), r.repl)
			}
			return w
		}
	}
	return w
}

func positiveMeasure(stem []rune) bool { return measure(stem) > 0 }
func measureAbove1(stem []rune) bool   { return measure(stem) > 1 }

func porterStep1a(w []rune) []rune {
	if hasSuffix(w, "ies") && len(w) == 4 {
		return replace(w, 3, "ie")
	}
	return applyRules(w, []porterRule{
		{"sses", "ss", nil},
		{"ies", "i", nil},
		{"ss", "ss", nil},
		{"s", "", nil},
	})
}

func porterStep1b(w []rune) []rune {
	if hasSuffix(w, "ied") {
		if len(w) == 4 {
			return replace(w, 3, "ie")
		}
		return replace(w, 3, "i")
	}
	if hasSuffix(w, "eed") {
		if measure(w[:len(w)-3]) > 0 {
			return replace(w, 3, "ee")
		}
		return w
	}
	var stem []rune
	switch {
	case hasSuffix(w, "ed") && containsVowel(w[:len(w)-2]):
		stem = w[:len(w)-2]
	case hasSuffix(w, "ing") && containsVowel(w[:len(w)-3]):
		stem = w[:len(w)-3]
	default:
		return w
	}
	switch {
	case hasSuffix(stem, "at"):
		return replace(stem, 2, "ate")
	case hasSuffix(stem, "bl"):
		return replace(stem, 2, "ble")
	case hasSuffix(stem, "iz"):
		return replace(stem, 2, "ize")
	case endsDoubleConsonant(stem):
		switch last := stem[len(stem)-1]; last {
		case 'l', 's', 'z':
			return replace(stem, 0, "")
		default:
			return replace(stem, 1, "")
		}
	case measure(stem) == 1 && endsCVC(stem):
		return replace(stem, 0, "e")
	}
	return replace(stem, 0, "")
}

func porterStep1c(w []rune) []rune {
	n := len(w)
	if n > 0 && w[n-1] == 'y' {
		stem := w[:n-1]
		if len(stem) > 1 && consonant(stem, len(stem)-1) {
			return replace(w, 1, "i")
		}
	}
	return w
}

var porterStep2Rules = []porterRule{
	{"ational", "ate", positiveMeasure},
	{"tional", "tion", positiveMeasure},
	{"enci", "ence", positiveMeasure},
	{"anci", "ance", positiveMeasure},
	{"izer", "ize", positiveMeasure},
	{"bli", "ble", positiveMeasure},
	{"alli", "al", positiveMeasure},
	{"entli", "ent", positiveMeasure},
	{"eli", "e", positiveMeasure},
	{"ousli", "ous", positiveMeasure},
	{"ization", "ize", positiveMeasure},
	{"ation", "ate", positiveMeasure},
	{"ator", "ate", positiveMeasure},
	{"alism", "al", positiveMeasure},
	{"iveness", "ive", positiveMeasure},
	{"fulness", "ful", positiveMeasure},
	{"ousness", "ous", positiveMeasure},
	{"aliti", "al", positiveMeasure},
	{"iviti", "ive", positiveMeasure},
	{"biliti", "ble", positiveMeasure},
	{"fulli", "ful", positiveMeasure},
	// The 'l' of 'logi' stays with the stem for the measure, so that short
	// stems like 'geo' and 'theo' work like 'archaeo' and 'philo'.
	{"logi", "log", func(stem []rune) bool { return measure(append(stem[:len(stem):len(stem)], 'l')) > 0 }},
}

func porterStep2(w []rune) []rune {
	if hasSuffix(w, "alli") && positiveMeasure(w[:len(w)-4]) {
		return porterStep2(replace(w, 4, "al"))
	}
	return applyRules(w, porterStep2Rules)
}

var porterStep3Rules = []porterRule{
	{"icate", "ic", positiveMeasure},
	{"ative", "", positiveMeasure},
	{"alize", "al", positiveMeasure},
	{"iciti", "ic", positiveMeasure},
	{"ical", "ic", positiveMeasure},
	{"ful", "", positiveMeasure},
	{"ness", "", positiveMeasure},
}

func porterStep3(w []rune) []rune { return applyRules(w, porterStep3Rules) }

var porterStep4Rules = []porterRule{
	{"al", "", measureAbove1},
	{"ance", "", measureAbove1},
	{"ence", "", measureAbove1},
	{"er", "", measureAbove1},
	{"ic", "", measureAbove1},
	{"able", "", measureAbove1},
	{"ible", "", measureAbove1},
	{"ant", "", measureAbove1},
	{"ement", "", measureAbove1},
	{"ment", "", measureAbove1},
	{"ent", "", measureAbove1},
	{"ion", "", func(stem []rune) bool {
		return measure(stem) > 1 && (stem[len(stem)-1] == 's' || stem[len(stem)-1] == 't')
	}},
	{"ou", "", measureAbove1},
	{"ism", "", measureAbove1},
	{"ate", "", measureAbove1},
	{"iti", "", measureAbove1},
	{"ous", "", measureAbove1},
	{"ive", "", measureAbove1},
	{"ize", "", measureAbove1},
}

func porterStep4(w []rune) []rune { return applyRules(w, porterStep4Rules) }

func porterStep5a(w []rune) []rune {
	if hasSuffix(w, "e") {
		stem := w[:len(w)-1]
		m := measure(stem)
		if m > 1 || (m == 1 && !endsCVC(stem)) {
			return replace(w, 1, "")
		}
	}
	return w
}

func porterStep5b(w []rune) []rune {
	if hasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		return replace(w, 1, "")
	}
	return w
}
