package guard

import (
	"fmt"
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

// TestLogRedactorRemembersClean: values seen clean are answered from the
// set, values with findings are redacted every time and never kept, and a
// full set starts over.
func TestLogRedactorRemembersClean(t *testing.T) {
	lr := newLogRedactor(LogOptions{})
	for range 3 {
		if got := lr.text("POST /v1/chat/completions"); got != "POST /v1/chat/completions" {
			t.Fatalf("clean value: %q", got)
		}
		if got := lr.text("mail maria.schmidt@example.com"); got != "mail [EMAIL]" {
			t.Fatalf("email: %q", got)
		}
	}
	if _, ok := lr.clean["POST /v1/chat/completions"]; !ok {
		t.Error("clean value not remembered")
	}
	if len(lr.clean) != 1 {
		t.Errorf("set holds %d values, want only the clean one", len(lr.clean))
	}
	long := strings.Repeat("a", cleanMaxLen+1)
	if lr.text(long) != long || len(lr.clean) != 1 {
		t.Error("a value over the length bound was remembered")
	}
	for i := range cleanMaxEntries + 1 {
		lr.text(fmt.Sprintf("req_%d", i))
	}
	if n := len(lr.clean); n > cleanMaxEntries || n == 0 {
		t.Errorf("set holds %d values after overflowing, want 1..%d", n, cleanMaxEntries)
	}
}
