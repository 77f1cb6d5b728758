package rag

import (
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

// filterAll runs text through a markerFilter in pieces of the given sizes
// (cycled).
func filterAll(text string, n int, sizes []int) (string, int) {
	f := &markerFilter{n: n}
	var b strings.Builder
	for i, k := 0, 0; i < len(text); k++ {
		sz := 1
		if len(sizes) > 0 {
			sz = max(1, sizes[k%len(sizes)])
		}
		j := min(len(text), i+sz)
		b.WriteString(f.Write(text[i:j]))
		i = j
	}
	b.WriteString(f.Close())
	return b.String(), f.dropped
}

func TestMarkerFilter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"A [1]. B [3]. C [2, 3].", "A [1]. B. C [2]."},
		{"Trailing [9]", "Trailing"},
		{"Keep [citation needed] [x] and [", "Keep [citation needed] [x] and ["},
		{"Spaces   [4]  end.", "Spaces  end."},
		{"Range [1-4] out.", "Range [1, 2] out."},
		{"Dash [1–2].", "Dash [1–2]."},
	} {
		for _, sizes := range [][]int{nil, {2}, {3, 1, 7}, {1000}} {
			got, _ := filterAll(tc.in, 2, sizes)
			if got != tc.want {
				t.Errorf("%q in pieces %v: got %q, want %q", tc.in, sizes, got, tc.want)
			}
		}
	}
}

func FuzzMarkerFilter(f *testing.F) {
	for _, s := range []string{"A [1]. B [3].", "x [1, 9] y", "[[1]]", "a  [7]  b", "[1–3] [", "é [2] ü"} {
		f.Add(s, uint8(2), []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, text string, n uint8, sizes []byte) {
		ns := int(n % 5)
		whole, d1 := filterAll(text, ns, []int{len(text) + 1})
		szs := make([]int, len(sizes))
		for i, s := range sizes {
			szs[i] = int(s)
		}
		split, d2 := filterAll(text, ns, szs)
		if whole != split || d1 != d2 {
			t.Fatalf("%q: whole %q (%d dropped) != split %q (%d)", text, whole, d1, split, d2)
		}
		if nested(text) {
			return // removing an inner marker may join its neighbours into a new one
		}
		for _, m := range sextant.ParseCitations(whole) {
			for _, s := range m.Sources {
				if s > ns {
					t.Fatalf("%q → %q keeps marker naming source %d of %d", text, whole, s, ns)
				}
			}
		}
	})
}

// nested reports whether a '[' opens before an earlier '[' closed.
func nested(s string) bool {
	open := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			if open {
				return true
			}
			open = true
		case ']':
			open = false
		}
	}
	return false
}

func FuzzNormalizeText(f *testing.F) {
	for _, s := range []string{"  How\tdo I\r\n\r\n\r\ningest   a PDF? ", "Cafe\u0301", "a\x00b\u200bc", "\n\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeText(s)
		if normalizeText(n) != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, normalizeText(n))
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") || strings.Contains(n, "\n\n\n") {
			t.Fatalf("whitespace left in %q", n)
		}
	})
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{`{{define "system"}}x{{end}}`, `{{define "system"}}{{range .Sources}}{{.N}}{{end}}{{end}}{{define "user"}}{{.Question}}{{end}}`, `{{`, `{{define "system"}}{{template "system"}}{{end}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTemplate("fuzz", s)
		if err != nil {
			if sextant.ErrorCode(err) != sextant.EINVALID {
				t.Fatalf("error code %q: %v", sextant.ErrorCode(err), err)
			}
			return
		}
		if _, _, err := tp.Render(&PromptData{Question: "q"}); err != nil && sextant.ErrorCode(err) != sextant.EINVALID {
			t.Fatalf("render error code %q: %v", sextant.ErrorCode(err), err)
		}
	})
}
