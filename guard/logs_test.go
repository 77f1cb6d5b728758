package guard

import (
	"strings"
	"testing"
)

// keyNormRef is keyNorm's definition, written the obvious way.
func keyNormRef(k string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "", ".", "").Replace(k))
}

// FuzzKeyNorm checks the allocation-free keyNorm against its definition.
func FuzzKeyNorm(f *testing.F) {
	for _, s := range []string{"", "request_id", "apikey", "X-Api_Key", "Set-Cookie", "a.b.c", "ÄPI-KEY", "İd", "\xffA-b",
		"token", "TOKEN", "-_.", "Ωmega_Key", "k\u0130", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := keyNorm(k), keyNormRef(k); got != want {
			t.Fatalf("keyNorm(%q) = %q, want %q", k, got, want)
		}
	})
}

func TestKeyNormAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { keyNorm("request_id") }); n > 1 {
		t.Errorf("keyNorm(\"request_id\"): %v allocations, want at most 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { keyNorm("duration") }); n != 0 {
		t.Errorf("keyNorm(\"duration\"): %v allocations, want none", n)
	}
}
