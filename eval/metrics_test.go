package eval

import (
	"bufio"
	"math"
	"os"
	"strings"
	"testing"
)

const tol = 1e-6

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps }

func TestNormalizeAnswer(t *testing.T) {
	// Expected outputs follow the SQuAD v1.1 script's normalize_answer:
	// lower → remove string.punctuation → \b(a|an|the)\b → ' ' → collapse.
	cases := []struct{ in, want string }{
		{"The Cat!", "cat"},
		{"  an apple,  a day ", "apple day"},
		{"Theater of the absurd", "theater of absurd"},
		{"the—cat", "—cat"}, // an em dash is not in string.punctuation
		{"U.S.A.", "usa"},
		{"a_b the_c", "ab thec"}, // '_' is in string.punctuation, removed before articles
		{"ΟΔΟΣ", "οδος"},         // final sigma, as Python's str.lower
		{"İstanbul", "i\u0307stanbul"},
		{"tab\tand\u00a0nbsp\x1cfs", "tab and nbsp fs"},
		{"", ""},
	}
	for _, c := range cases {
		if got := NormalizeAnswer(c.in); got != c.want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestExactMatchAndF1(t *testing.T) {
	cases := []struct {
		pred string
		refs []string
		em   float64
		f1   float64
	}{
		{"The Cat!", []string{"cat"}, 1, 1},
		// quick brown fox | quick fox jumps: 2 common, p = r = 2/3.
		{"the quick brown fox", []string{"a quick fox jumps"}, 0, 2.0 / 3},
		// Multiset overlap: x x y | x y y → min counts x:1, y:1 = 2 of 3.
		{"x x y", []string{"x y y"}, 0, 2.0 / 3},
		// p = 1/1, r = 1/4 → f1 = 2·(1/4)/(5/4) = 0.4.
		{"Paris", []string{"Paris, the capital of France"}, 0, 0.4},
		// Max over references.
		{"Paris", []string{"London", "paris."}, 1, 1},
		// Normalized empty strings: SQuAD v1.1 F1 is 0, EM is 1.
		{"the", []string{"a"}, 1, 0},
		{"anything", nil, 0, 0},
		// Python lowercases Σ at a word end to ς, so these differ.
		{"ΟΔΟΣ", []string{"οδοσ"}, 0, 0},
	}
	for _, c := range cases {
		if got := ExactMatch(c.pred, c.refs...); got != c.em {
			t.Errorf("ExactMatch(%q, %q) = %v, want %v", c.pred, c.refs, got, c.em)
		}
		if got := TokenF1(c.pred, c.refs...); !near(got, c.f1, tol) {
			t.Errorf("TokenF1(%q, %q) = %v, want %v", c.pred, c.refs, got, c.f1)
		}
	}
}

func TestPorterStemMatchesNLTK(t *testing.T) {
	f, err := os.Open("testdata/porter/nltk_porter.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		word, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		if got := porterStem(word); got != want {
			t.Errorf("porterStem(%q) = %q, NLTK gives %q", word, got, want)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10000 {
		t.Fatalf("only %d golden stems read", n)
	}
}

func TestRougeTokens(t *testing.T) {
	cases := []struct {
		in   string
		stem bool
		want string
	}{
		{"The quick-brown fox's 2nd jump!", false, "the quick brown fox s 2nd jump"},
		{"Running runners ran", true, "run runner ran"},
		{"Café İstanbul K", false, "caf i stanbul k"}, // é dropped; İ→"i̇"; Kelvin sign→k
		{"generously", true, "gener"},                 // NLTK Porter, not Snowball ("generous")
		{"", false, ""},
	}
	for _, c := range cases {
		got := strings.Join(RougeTokens(c.in, RougeOptions{Stem: c.stem}), " ")
		if got != c.want {
			t.Errorf("RougeTokens(%q, stem=%v) = %q, want %q", c.in, c.stem, got, c.want)
		}
	}
}

// The first two cases of rouge-score's own tests (rouge_scorer_test.py);
// the last ones compare with ROUGE-1.5.5 on its test files (to 5 places, as
// that test does).
func TestRougeMatchesRougeScore(t *testing.T) {
	type want struct{ p, r, f float64 }
	check := func(name string, got Rouge, w want, eps float64) {
		t.Helper()
		if !near(got.Precision, w.p, eps) || !near(got.Recall, w.r, eps) || !near(got.F1, w.f, eps) {
			t.Errorf("%s = %+v, want p=%v r=%v f=%v", name, got, w.p, w.r, w.f)
		}
	}
	none := RougeOptions{}
	stem := RougeOptions{Stem: true}
	check("rougeL consecutive", RougeL("testing one", "testing one two", none), want{1, 2.0 / 3, 0.8}, tol)
	check("rougeL non-consecutive", RougeL("testing two", "testing one two", none), want{1, 2.0 / 3, 0.8}, tol)
	check("rougeL empty", RougeL("", "testing one two", none), want{0, 0, 0}, tol)
	check("rouge1", RougeN("testing", "testing one two", 1, none), want{1, 1.0 / 3, 0.5}, tol)
	check("rouge2", RougeN("testing one", "testing one two", 2, none), want{1, 0.5, 2.0 / 3}, tol)
	check("rougeLsum", RougeLsum("w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5", "w1 w2 w3 w4 w5", none), want{0.4, 0.8, 0.8 * 0.4 * 2 / 1.2}, tol)
	check("rougeLsum empty", RougeLsum("", "w1 w2 w3 w4 w5", none), want{0, 0, 0}, tol)
	check("rougeLsum symbols only", RougeLsum("/", "w1 w2 w3 w4 w5", none), want{0, 0, 0}, tol)

	const (
		target0 = "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L\n"
		target1 = "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN\n"
		pred0   = "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi\n"
		pred1   = "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD\n"
		multiT  = target0 + target1 + "NhETebUbBk'er WOvoHMTjSRizKgH'vHiing Xu,hWxfs VkNE QhgKiLHE -HidivzoM.dO anhtion jbLQiSGDTCsuhREebUaKM dv J dVN tmbOT\nvMR HDm,xOAetion D,tion HJtodT.mHl UIv-p VjWH'BdyWjnfGU-OjT aEMdFICyLWfQMtion wEMfdOKing AwkeKbO 'DxqNOHBH qKtVvm OYJl mM\n"
		multiP  = pred0 + pred1 + "xfs VkJE QhgKiLHE -HidivzoM.dO anhing jbLQiSGDTCsuhREebUaKM dv J\nVjWH'BdyWjnfGU-OjTNaEMdFICyLWfQMing wEMfdOKijg AwkeKbO 'DxqNO\n"
	)
	const five = 5e-6
	check("rouge1 #0", RougeN(pred0, target0, 1, none), want{0.68750, 0.40741, 0.51163}, five)
	check("rouge1 #1", RougeN(pred1, target1, 1, none), want{0.65385, 0.40476, 0.50000}, five)
	check("rouge1 stem #1", RougeN(pred1, target1, 1, stem), want{0.69231, 0.42857, 0.52941}, five)
	check("rouge2 #0", RougeN(pred0, target0, 2, none), want{0.53333, 0.30769, 0.39024}, five)
	check("rouge2 #1", RougeN(pred1, target1, 2, none), want{0.48000, 0.29268, 0.36364}, five)
	check("rougeL #0", RougeL(pred0, target0, none), want{0.68750, 0.40741, 0.51163}, five)
	check("rougeL #1", RougeL(pred1, target1, none), want{0.65385, 0.40476, 0.50000}, five)
	check("rougeLsum stem multi", RougeLsum(multiP, multiT, stem), want{0.66667, 0.36538, 0.47205}, five)
}

func TestLCSIndicesBacktrack(t *testing.T) {
	// rouge-score's testLcsTable and testUnionLcs.
	toks := func(s string) []string { return strings.Fields(s) }
	got := lcsIndices(toks("1 2 3 4 5"), toks("2 5 3 4"))
	if want := []int{1, 2, 3}; !equalInts(got, want) {
		t.Errorf("lcsIndices = %v, want %v", got, want)
	}
	u := unionLCS(toks("1 2 3 4 5"), [][]string{toks("1 2 6 7 8"), toks("1 3 8 9 5")})
	if strings.Join(u, " ") != "1 2 3 5" {
		t.Errorf("unionLCS = %v, want [1 2 3 5]", u)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
