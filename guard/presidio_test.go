package guard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// presidioDir is the labelled PII set, relative to this package.
const presidioDir = "../../shared/data/presidio-synth-pii"

func loadPresidio(t testing.TB) []Example {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(presidioDir, "synth_dataset_v2.json"))
	if err != nil {
		t.Skipf("presidio data not available: %v", err)
	}
	exs, err := ParsePresidio(data)
	if err != nil {
		t.Fatal(err)
	}
	return exs
}

func TestPresidioStructured(t *testing.T) {
	exs := loadPresidio(t)
	s := New(Options{})
	structured := []Type{Email, Phone, CreditCard, IBAN, SSN, IPAddress}
	res := ScorePII(s, exs, structured, MatchOverlap)
	for _, ty := range structured {
		p := res.PerType[ty]
		t.Logf("%-12s P=%.3f R=%.3f F1=%.3f support=%d", ty, p.Precision, p.Recall, p.F1, p.Support)
	}
	if os.Getenv("GUARD_DUMP") != "" {
		dumpErrors(t, s, exs, Type(os.Getenv("GUARD_DUMP")))
	}
	if res.Micro.F1 < 0.95 {
		t.Errorf("structured micro F1 = %.3f, want >= 0.95", res.Micro.F1)
	}
}

func dumpErrors(t *testing.T, s *Scanner, exs []Example, ty Type) {
	var b strings.Builder
	for _, ex := range exs {
		fs := s.Scan(ex.Text)
		for _, g := range ex.Spans {
			if g.Type != ty {
				continue
			}
			found := false
			for _, f := range fs {
				if f.Type == ty && f.Start < g.End && g.Start < f.End {
					found = true
				}
			}
			if !found {
				fmt.Fprintf(&b, "FN %q   in %q\n", ex.Text[g.Start:g.End], ex.Text)
			}
		}
		for _, f := range fs {
			if f.Type != ty {
				continue
			}
			if !coveredBySameType(f, ex.Spans) {
				fmt.Fprintf(&b, "FP %q (%s %.2f)  in %q\n", ex.Text[f.Start:f.End], f.Detector, f.Confidence, ex.Text)
			}
		}
	}
	os.WriteFile("/tmp/pii/"+string(ty)+".txt", []byte(b.String()), 0o644)
}

func TestPresidioAll(t *testing.T) {
	exs := loadPresidio(t)
	s := New(Options{})
	all := []Type{Email, Phone, CreditCard, IBAN, SSN, IPAddress, Person, StreetAddress, DateOfBirth}
	for _, m := range []string{MatchOverlap, MatchExact} {
		res := ScorePII(s, exs, all, m)
		for _, ty := range all {
			p := res.PerType[ty]
			t.Logf("%s %-14s P=%.3f R=%.3f F1=%.3f support=%d", m, ty, p.Precision, p.Recall, p.F1, p.Support)
		}
		t.Logf("%s micro P=%.3f R=%.3f F1=%.3f", m, res.Micro.Precision, res.Micro.Recall, res.Micro.F1)
	}
}
