package guard

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "redact", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestRedactGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/redact/input.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{})
	for _, tc := range []struct {
		name string
		r    *Redactor
	}{
		{"placeholders.golden", &Redactor{Vault: NewVault()}},
		{"plain.golden", &Redactor{}},
		{"mask.golden", &Redactor{Default: ActionMask}},
		{"hash.golden", &Redactor{Default: ActionHash, HashKey: []byte("test-key")}},
		{"mixed.golden", &Redactor{Actions: map[Type]Action{Email: ActionAllow, CreditCard: ActionMask, Person: ActionHash}, HashKey: []byte("k"), Vault: NewVault()}},
	} {
		out, _ := tc.r.Redact(s, string(in))
		golden(t, tc.name, out)
	}
}

func TestVaultRoundTrip(t *testing.T) {
	s := New(Options{})
	v := NewVault()
	r := &Redactor{Vault: v}
	turn1, _ := r.Redact(s, "Mail anna@example.org, phone +1 415 555 2671.")
	turn2, _ := r.Redact(s, "Again: ANNA@example.org and bob@example.org")
	if !strings.Contains(turn1, "[EMAIL_1]") || !strings.Contains(turn2, "[EMAIL_1]") || !strings.Contains(turn2, "[EMAIL_2]") {
		t.Fatalf("placeholders not consistent across turns: %q / %q", turn1, turn2)
	}
	if strings.Contains(turn1+turn2, "@") {
		t.Fatalf("raw value left: %q %q", turn1, turn2)
	}
	answer := "I wrote to [EMAIL_1] and [EMAIL_2], and called [PHONE_1]. [UNKNOWN_9] stays."
	want := "I wrote to anna@example.org and bob@example.org, and called +1 415 555 2671. [UNKNOWN_9] stays."
	if got := v.Restore(answer); got != want {
		t.Errorf("Restore = %q, want %q", got, want)
	}
	// Streaming restore, split at every byte.
	for cut := 0; cut <= len(answer); cut++ {
		rs := v.Restorer()
		got := rs.Write(answer[:cut]) + rs.Write(answer[cut:]) + rs.Flush()
		if got != want {
			t.Fatalf("Restorer split %d: %q", cut, got)
		}
	}
}

func TestMask(t *testing.T) {
	for _, tt := range []struct {
		typ      Type
		in, want string
	}{
		{CreditCard, "4111 1111 1111 1234", "**** **** **** 1234"},
		{Email, "maria@example.com", "m****@example.com"},
		{Phone, "+1 415 555 2671", "+* *** *** **71"},
		{SSN, "460-89-9847", "***-**-9847"},
		{IBAN, "DE89370400440532013000", "DE****************3000"},
		{Person, "Ann Lee", "*** ***"},
	} {
		if got := Mask(tt.typ, tt.in); got != tt.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestHashStable(t *testing.T) {
	k := []byte("k")
	if Hash(k, Email, "A@B.io") != Hash(k, Email, "a@b.io") {
		t.Error("email hash should ignore case")
	}
	if Hash(k, Phone, "+1 415 555 2671") != Hash(k, Phone, "+1-415-555-2671") {
		t.Error("phone hash should ignore separators")
	}
	if Hash(k, Email, "a@b.io") == Hash([]byte("other"), Email, "a@b.io") {
		t.Error("hash must depend on the key")
	}
}

func TestLogHandlerNoPII(t *testing.T) {
	var buf bytes.Buffer
	base := slog.NewJSONHandler(&buf, nil)
	log := slog.New(NewLogHandler(base, LogOptions{})).With("user", "maria.schmidt@example.com")
	log.Info("login from 10.1.2.3 by maria.schmidt@example.com",
		"card", "4111 1111 1111 1111",
		"password", "plain words",
		slog.Group("req", "auth", "Bearer abcdef0123456789abcdef0123", "ip", "203.0.113.9"),
		"err", errString("dial 203.0.113.9: refused"),
		"n", 3)
	out := buf.String()
	for _, raw := range []string{"maria.schmidt@example.com", "10.1.2.3", "4111 1111", "plain words", "abcdef0123456789", "203.0.113.9"} {
		if strings.Contains(out, raw) {
			t.Errorf("log output contains %q: %s", raw, out)
		}
	}
	for _, want := range []string{"[EMAIL]", "[CREDIT_CARD]", "[REDACTED]", `"n":3`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q: %s", want, out)
		}
	}
	buf.Reset()
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: LogReplaceAttr(LogOptions{HashKey: []byte("k")})})
	slog.New(h).Log(context.Background(), slog.LevelWarn, "mail bob@example.org", "to", "bob@example.org")
	if strings.Contains(buf.String(), "bob@example.org") || !strings.Contains(buf.String(), "[EMAIL:") {
		t.Errorf("ReplaceAttr output: %s", buf.String())
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestOutputChecks(t *testing.T) {
	canary := NewCanary()
	c, err := NewOutputChecker(OutputOptions{
		Canary:       canary,
		SystemPrompt: "You are the Sextant assistant. Answer only from the numbered sources and cite them with brackets every time.",
		CheckLinks:   true,
		Sources:      []string{"See https://docs.example.com/guide/install for details."},
		Deny:         map[string][]string{"weapons": {"nerve agent", "pipe bomb"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	answer := "Install per https://docs.example.com/guide/install/ or https://evil.example/x. " +
		"My instructions say: answer only from the numbered sources and cite them with brackets every time. " +
		"Secret: " + strings.ToUpper(canary) + ". Never build a Pipe Bomb. Mail a@b.io"
	got := map[Type]int{}
	for _, f := range c.Check(answer) {
		got[f.Type]++
	}
	want := map[Type]int{Link: 1, PromptLeak: 1, Canary: 1, Denied: 1, Email: 1}
	for ty, n := range want {
		if got[ty] != n {
			t.Errorf("%s findings = %d, want %d (all: %v)", ty, got[ty], n, got)
		}
	}
	spaced := strings.Join(strings.Split(canary, ""), " ")
	if fs := c.Check("leak: " + spaced); len(fs) != 1 || fs[0].Type != Canary {
		t.Errorf("spaced-out canary not found: %v", fs)
	}
	if _, err := NewOutputChecker(OutputOptions{Canary: "abc"}); err == nil {
		t.Error("short canary accepted")
	}
}

// TestStreamEverySplit streams answers split at every byte position (and
// byte by byte) and checks the output equals redacting the whole answer.
func TestStreamEverySplit(t *testing.T) {
	canary := "sxc-0123456789abcdef"
	c, err := NewOutputChecker(OutputOptions{Canary: canary, CheckLinks: true,
		Sources: []string{"https://ok.example/a"}, Deny: map[string][]string{"t": {"forbidden phrase here"}}})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := os.ReadFile("testdata/redact/input.txt")
	texts := []string{
		string(in),
		"Call (415) 555-2671 x12 or +44 20 7946 0958 now. Card: 3782 822463 10005.",
		"See https://ok.example/a and https://bad.example/b. The canary sxc-0123456789ABCDEF leaked; forbidden phrase here.",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\nok",
		"Ship to PSC 3294, Box 9168\nAPO AA 61487\nthanks, Mr. John Smith",
	}
	for _, text := range texts {
		want := (&Redactor{}).Apply(text, c.Check(text))
		for cut := 0; cut <= len(text); cut++ {
			st := c.Stream(nil)
			a, _ := st.Write(text[:cut])
			b, _ := st.Write(text[cut:])
			d, _ := st.Flush()
			if got := a + b + d; got != want {
				t.Fatalf("split at %d:\n got %q\nwant %q", cut, got, want)
			}
		}
		st := c.Stream(nil)
		var out strings.Builder
		maxHeld := 0
		for i := 0; i < len(text); i++ {
			s, _ := st.Write(text[i : i+1])
			out.WriteString(s)
			maxHeld = max(maxHeld, st.Held())
		}
		s, _ := st.Flush()
		out.WriteString(s)
		if out.String() != want {
			t.Fatalf("byte by byte:\n got %q\nwant %q", out.String(), want)
		}
		t.Logf("max held back %d bytes of %d", maxHeld, len(text))
	}
}

// TestStreamHoldsLittle checks that ordinary prose is released promptly:
// only the last word (and what a pending finding could cover) waits.
func TestStreamHoldsLittle(t *testing.T) {
	c, _ := NewOutputChecker(OutputOptions{})
	st := c.Stream(nil)
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20)
	for i := 0; i < len(text); i += 7 {
		st.Write(text[i:min(len(text), i+7)])
		if st.Held() > 16 {
			t.Fatalf("held %d bytes of plain prose after %d bytes", st.Held(), i+7)
		}
	}
}
