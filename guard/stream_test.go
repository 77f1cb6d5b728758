package guard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// streamPieces are the fragments the stream property test builds answers
// from: prose, and personal data and credentials of every kind, with the
// cues and look-alikes that make detectors look back and ahead.
var streamPieces = []string{
	"The quick brown fox jumps over the lazy dog. ", "Results were significant (p < 0.05). ",
	"Contact Maria Gonzalez for details. ", "Maria said so. ", "My name is Ann Lee. ", "Dr. John Smith ",
	"Marshall, Hernandez and Simpson LLP ", "Schmidt is from Berlin. ", "Remember me, Maria? ",
	"maria.schmidt@example.com ", "call +49 30 1234567 ", "(415) 555-2671 x12 ", "Card: 4111 1111 1111 1111. ",
	"SSN 460-89-9847, ", "server 10.0.0.12 and 2001:db8::1, ", "MAC 00:1A:2B:3C:4D:5E. ",
	"IBAN DE89 3704 0044 0532 0130 00. ", "born on 12 March 1985 ", "live at 221B Baker Street, London.\n",
	"PSC 3294, Box 9168\nAPO AA 61487\n", "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
	"Authorization: Bearer abcdef0123456789abcdef0123456789\n", "password: hunter2!\n",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ",
	"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
	"See https://ok.example/a and https://bad.example/b. ", "The canary sxc-0123456789ABCDEF leaked; ",
	"forbidden phrase here. ", "CX3CR1 and IL-6 in H2A.Z cells [1]. ", "version 1.2.3.4 ", "\n\n", "  ", "Ünïcödé Müller ",
}

// streamSources hold some of the personal data above, so that
// allow_from_sources lets part of it through.
var streamSources = []string{
	"Correspondence: Maria Gonzalez, maria.schmidt@example.com, tel +49 30 1234567.",
	"Ship to PSC 3294, Box 9168 APO AA 61487. Card 4111 1111 1111 1111.", "https://ok.example/a",
}

func streamCheckers(t testing.TB) map[PIIMode]*OutputChecker {
	out := map[PIIMode]*OutputChecker{}
	for _, m := range []PIIMode{PIIRedact, PIIAllowFromSources, PIIAllow} {
		c, err := NewOutputChecker(OutputOptions{PII: m, Sources: streamSources, Canary: "sxc-0123456789abcdef", CheckLinks: true,
			Deny: map[string][]string{"t": {"forbidden phrase here"}}})
		if err != nil {
			t.Fatal(err)
		}
		out[m] = c
	}
	return out
}

// streamMatchesCheck feeds text to a Stream in pieces of random sizes (at
// least one byte, at most max) and reports a difference from checking
// and redacting it whole: the emitted text and the findings.
func streamMatchesCheck(t *testing.T, c *OutputChecker, text string, rng *rand.Rand, maxPiece int) {
	t.Helper()
	wantFs := c.Check(text)
	want := (&Redactor{}).Apply(text, wantFs)
	st := c.Stream(nil)
	var out strings.Builder
	var gotFs []Finding
	var cuts []int
	for i := 0; i < len(text); {
		n := min(len(text)-i, 1+rng.IntN(maxPiece))
		s, fs := st.Write(text[i : i+n])
		out.WriteString(s)
		gotFs = append(gotFs, fs...)
		i += n
		cuts = append(cuts, i)
	}
	s, fs := st.Flush()
	out.WriteString(s)
	gotFs = append(gotFs, fs...)
	if out.String() != want {
		t.Errorf("pieces ending at %v of %q:\n got %q\nwant %q", shortCuts(cuts), text, out.String(), want)
	}
	if d := cmp.Diff(wantFs, gotFs, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("pieces ending at %v of %q: findings differ (-whole +stream):\n%s", shortCuts(cuts), text, d)
	}
}

// TestStreamPiecesMatchCheck: an answer fed to a Stream in pieces of any
// size gives exactly what Check and Apply give on the whole answer, in
// every PII mode, whatever the piece boundaries cut (findings included).
func TestStreamPiecesMatchCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checkers := streamCheckers(t)
	in, err := os.ReadFile("testdata/redact/input.txt")
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{string(in)}
	for range 60 {
		var b strings.Builder
		// No piece twice in a row: a tail of locality lines after a
		// military address swallows a second one ("PSC 1, Box 2\nAPO AA
		// 12345\nPSC 1, Box 2\nAPO AA 12345"), which a stream decides
		// a line earlier than Check (a known limit of addressTail).
		for n, last := 2+rng.IntN(40), -1; n > 0; n-- {
			i := rng.IntN(len(streamPieces))
			if i == last {
				continue
			}
			b.WriteString(streamPieces[i])
			last = i
		}
		texts = append(texts, b.String())
	}
	for _, mode := range []PIIMode{PIIRedact, PIIAllowFromSources, PIIAllow} {
		c := checkers[mode]
		for _, text := range texts {
			for _, maxPiece := range []int{1, 3, 8, 40} {
				streamMatchesCheck(t, c, text, rng, maxPiece)
			}
		}
	}
}

// FuzzStreamPieces is TestStreamPiecesMatchCheck on any text and piece
// sizes.
func FuzzStreamPieces(f *testing.F) {
	for i, p := range streamPieces {
		f.Add(p+streamPieces[(i+7)%len(streamPieces)]+streamPieces[(i+13)%len(streamPieces)], uint64(i))
	}
	checkers := streamCheckers(f)
	f.Fuzz(func(t *testing.T, text string, seed uint64) {
		if !utf8.ValidString(text) || len(text) > 2000 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		for _, mode := range []PIIMode{PIIRedact, PIIAllowFromSources, PIIAllow} {
			streamMatchesCheck(t, checkers[mode], text, rng, 1+int(seed%24))
		}
	})
}

// benchAnswer is an answer of the kind the pipeline streams: cited prose,
// with a name and an e-mail address in it.
func benchAnswer() string {
	var b strings.Builder
	for b.Len() < 1200 {
		b.WriteString("Treatment reduced the incidence of stroke by a third in the trial [1]. ")
		b.WriteString("The effect was larger in older patients, as Maria Gonzalez reported (maria.gonzalez@example.org) [2]. ")
		b.WriteString("No difference in mortality was seen at five years [3].\n")
	}
	return b.String()
}

// BenchmarkStream streams a 1.2 KB answer word by word (the way the
// extractive generator sends it) through the output guard; one op is one
// answer. allow_from_sources is the pipeline's default mode.
func BenchmarkStream(b *testing.B) {
	answer := benchAnswer()
	words := strings.SplitAfter(answer, " ")
	src := strings.Repeat("Background text of a source document, without the values the answer repeats. ", 100)
	for _, mode := range []PIIMode{PIIRedact, PIIAllowFromSources} {
		b.Run(string(mode), func(b *testing.B) {
			c, err := NewOutputChecker(OutputOptions{PII: mode, Sources: []string{src, "Maria Gonzalez"}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(answer)))
			b.ReportAllocs()
			for b.Loop() {
				st := c.Stream(nil)
				for _, w := range words {
					st.Write(w)
				}
				st.Flush()
			}
		})
	}
}

// BenchmarkStreamManyNames streams an answer that names forty people in
// full and then mentions them by first name alone: the stream's memory of
// confirmed names is full (64 words) and every lone name is looked up in
// it. One op is one 4 KB answer fed word by word, in redact mode.
func BenchmarkStreamManyNames(b *testing.B) {
	firsts := strings.Fields(`John William Christopher Matthew Donald Steven Andrew Joshua Kenneth Kevin Brian Timothy
		Ronald Edward Jason Jeffrey Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Brandon Samuel Jerry Aaron
		Jose Nathan Zachary Kyle Ethan Noah Jeremy Gerald Harold Sean Carl Arthur`)
	lasts := strings.Fields(`Smith Johnson Williams Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
		Gonzalez Wilson Anderson Moore Jackson Perez Thompson Harris Sanchez Clark Ramirez Lewis Robinson Walker Allen
		Wright Torres Nguyen Flores Adams Nelson Baker Rivera Campbell Mitchell Carter Roberts Gomez Phillips`)
	var sb strings.Builder
	for i, f := range firsts {
		fmt.Fprintf(&sb, "We thank %s %s for the samples. ", f, lasts[i])
	}
	for i := 0; sb.Len() < 4096; i++ {
		fmt.Fprintf(&sb, "The assay was repeated with %s on day %d. ", firsts[i%len(firsts)], i)
	}
	answer := sb.String()
	words := strings.SplitAfter(answer, " ")
	c, err := NewOutputChecker(OutputOptions{PII: PIIRedact})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	for b.Loop() {
		st := c.Stream(nil)
		for _, w := range words {
			st.Write(w)
		}
		st.Flush()
	}
}

// BenchmarkCheckWhole is the same answer checked in one piece: the floor
// a stream's work can approach.
func BenchmarkCheckWhole(b *testing.B) {
	answer := benchAnswer()
	c, err := NewOutputChecker(OutputOptions{PII: PIIAllowFromSources, Sources: []string{"Maria Gonzalez"}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	for b.Loop() {
		c.Check(answer)
	}
}

// shortCuts abbreviates a long list of piece ends for a failure message.
func shortCuts(cuts []int) any {
	if len(cuts) > 40 {
		return fmt.Sprintf("%v ... (%d pieces)", cuts[:40], len(cuts))
	}
	return cuts
}

// TestStreamRemembersConfirmedNames: a lone name is a person when the
// full name came earlier in the answer, and a stream keeps knowing it
// after its window has moved past the full name (it once emitted the
// second "Maria" unredacted). Each late occurrence is checked to need the
// earlier one, so the test fails if the stream forgets it.
func TestStreamRemembersConfirmedNames(t *testing.T) {
	filler := strings.Repeat("The effect was stable across all sites and doses. ", 8)
	// Forty full names, eighty distinct words: the memory keeps the first
	// maxKnownNames, in the whole answer as in the stream.
	firsts := strings.Fields(`John William Christopher Matthew Donald Steven Andrew Joshua Kenneth Kevin Brian Timothy
		Ronald Edward Jason Jeffrey Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Brandon Samuel Jerry Aaron
		Jose Nathan Zachary Kyle Ethan Noah Jeremy Gerald Harold Sean Carl Arthur`)
	lasts := strings.Fields(`Smith Johnson Williams Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
		Gonzalez Wilson Anderson Moore Jackson Perez Thompson Harris Sanchez Clark Ramirez Lewis Robinson Walker Allen
		Wright Torres Nguyen Flores Adams Nelson Baker Rivera Campbell Mitchell Carter Roberts Gomez Phillips`)
	var many strings.Builder
	for i, f := range firsts {
		fmt.Fprintf(&many, "We thank %s %s. ", f, lasts[i])
	}
	tests := []struct {
		name, text, late string // late: the lone name that needs the full one
		remembered       bool
	}{
		{"prose", "The trial was led by Maria Gonzalez at the Valencia site. " + filler + "Results went to Maria on Monday.", "Maria on", true},
		{"fuzz seed 89", "MAriA AAAA" + strings.Repeat(" A AAA 00a", 40) + " MAriA", " MAriA", true},
		{"first of many", many.String() + filler + "Thanks to John on Monday.", "John on", true},
		{"past the cap", many.String() + filler + "Thanks to Sean on Monday.", "Sean on", false},
	}
	c := streamCheckers(t)[PIIRedact]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			late := strings.LastIndex(tt.text, tt.late)
			if tt.late[0] == ' ' {
				late++
			}
			if got := hasFindingAt(c.Check(tt.text), Person, late); got != tt.remembered {
				t.Fatalf("whole answer: PERSON at %d is %v, want %v, in %q", late, got, tt.remembered, tt.text)
			}
			// Without the full name the lone one is no finding: the
			// memory is what the stream must keep.
			cut := strings.LastIndex(tt.text[:late-100], " ") + 1
			if hasFindingAt(c.Check(tt.text[cut:]), Person, late-cut) {
				t.Fatalf("the lone name alone is a PERSON already; the case tests nothing")
			}
			for _, maxPiece := range []int{1, 5, 24, 300} {
				streamMatchesCheck(t, c, tt.text, rand.New(rand.NewPCG(89, 0)), maxPiece)
			}
		})
	}
}

func hasFindingAt(fs []Finding, typ Type, start int) bool {
	for _, f := range fs {
		if f.Type == typ && f.Start == start {
			return true
		}
	}
	return false
}

// TestStreamNameLookahead: what makes a lone name a person may lie past
// the 16 bytes after it that a stream waits for ("Maria and Bartholomew
// said", "Maria" and a run of blanks before "said", "Maria, Anna and
// Sofia" that a comma turns from a firm into three people); the stream
// once decided on the cut text and emitted the name unredacted.
func TestStreamNameLookahead(t *testing.T) {
	c := streamCheckers(t)[PIIRedact]
	for _, text := range []string{
		"Yesterday Maria and Bartholomew said hello.",
		"Yesterday Maria                    said hello.",
		"Maria, Anna and Sofia, who said hi.",
		"Yesterday Maria, Anna and Sofia, who said hi.",
	} {
		whole := c.Check(text)
		if !hasFindingAt(whole, Person, strings.Index(text, "Maria")) {
			t.Fatalf("%q: no PERSON in the whole text (%v); the case tests nothing", text, whole)
		}
		for maxPiece := 1; maxPiece <= 8; maxPiece++ {
			streamMatchesCheck(t, c, text, rand.New(rand.NewPCG(uint64(maxPiece), 7)), maxPiece)
		}
	}
}

// TestStreamAddressUnit: a unit after a street ("Apartment 4567",
// "# 0000", a second "Suite 12") belongs to the address, and a stream
// must not emit the address before it knows whether one follows; it once
// emitted the unit's number unredacted when a piece ended inside the unit
// word or before its number (FuzzScan found "0 A Ct# 0000000000000000").
// Every split point is tried, with no other check holding text back.
func TestStreamAddressUnit(t *testing.T) {
	c, err := NewOutputChecker(OutputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		"0 A Ct# 0000000000000000",
		"He lives at 12 Baker Street # 4567 and more.",
		"He lives at 12 Baker Street Apt. 4567 and more.",
		"He lives at 12 Baker Street Apartment 4567 and more.",
		"He lives at 12 Baker Street Apt 4567 Suite 12 and more.",
		"He lives at 12 Baker Street\nApartment 4567\nLondon\n",
	} {
		want := (&Redactor{}).Apply(text, c.Check(text))
		if !strings.Contains(want, "[ADDRESS] and more.") && !strings.HasSuffix(want, "[ADDRESS]") && !strings.HasSuffix(want, "[ADDRESS]\n") {
			t.Fatalf("%q: the whole text redacts %q, not the address with its unit; the case tests nothing", text, want)
		}
		for cut := 0; cut <= len(text); cut++ {
			st := c.Stream(nil)
			a, _ := st.Write(text[:cut])
			b, _ := st.Write(text[cut:])
			d, _ := st.Flush()
			if got := a + b + d; got != want {
				t.Errorf("split at %d of %q:\n got %q\nwant %q", cut, text, got, want)
			}
		}
	}
}
