package guard

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDeidentifyInvertsRestore(t *testing.T) {
	s := New(Options{})
	v := NewVault()
	r := &Redactor{Vault: v}
	prompt, _ := r.Redact(s, "Write to jane.doe@example.com and call +1 415 555 2671 about card 4111 1111 1111 1111.")
	if prompt != "Write to [EMAIL_1] and call [PHONE_1] about card [CREDIT_CARD_1]." {
		t.Fatalf("redacted prompt %q", prompt)
	}
	answer := "I wrote to [EMAIL_1]; [PHONE_1] did not answer. [EMAIL_1] again."
	shown := v.Restore(answer)
	stored, edits := v.Deidentify(shown)
	if stored != answer {
		t.Fatalf("Deidentify(Restore(a)) = %q, want %q", stored, answer)
	}
	if len(edits) != 3 {
		t.Fatalf("edits %+v", edits)
	}
	// Offsets carried over: the start of "did" in shown maps to its start in stored.
	for _, word := range []string{"did", "again", "I wrote"} {
		i := indexOf(shown, word)
		if j := Shift(edits, i); stored[j:j+len(word)] != word {
			t.Errorf("Shift(%q at %d) = %d: %q", word, i, j, stored[j:])
		}
	}
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestDeidentifyWholeTokens(t *testing.T) {
	v := NewVault()
	v.placeholder(Person, "Al")
	v.placeholder(Email, "al@example.org")
	got, _ := v.Deidentify("Also Al wrote from al@example.org, not Alan.")
	if want := "Also [PERSON_1] wrote from [EMAIL_1], not Alan."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Overlapping values: the longer wins where both start.
	v2 := NewVault()
	v2.placeholder(Person, "Jane")
	v2.placeholder(Person, "Jane Doe")
	got, _ = v2.Deidentify("Jane Doe and Jane.")
	if want := "[PERSON_2] and [PERSON_1]."; got != want {
		t.Errorf("overlap: got %q, want %q", got, want)
	}
	if got, edits := NewVault().Deidentify("nothing here"); got != "nothing here" || edits != nil {
		t.Errorf("empty vault changed text: %q %v", got, edits)
	}
}

func TestShift(t *testing.T) {
	// "ab[X]cd[Y]e" from "abXXXXcdYe": [2,6) became 3 bytes, [8,9) became 3.
	edits := []Edit{{Start: 2, End: 6, Len: 3}, {Start: 8, End: 9, Len: 3}}
	for _, c := range []struct{ in, want int }{{0, 0}, {2, 2}, {3, 2}, {6, 5}, {7, 6}, {8, 7}, {9, 10}, {10, 11}} {
		if got := Shift(edits, c.in); got != c.want {
			t.Errorf("Shift(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	if got := Shift(nil, 5); got != 5 {
		t.Errorf("Shift(nil, 5) = %d", got)
	}
}

func TestApplyEdits(t *testing.T) {
	s := New(Options{})
	text := "Contact: jane@example.com, SSN 219-09-9999, card 4111 1111 1111 1111."
	fs := s.Scan(text)
	r := &Redactor{Actions: map[Type]Action{CreditCard: ActionMask, SSN: ActionAllow}}
	got, edits := r.ApplyEdits(text, fs)
	if want := r.Apply(text, fs); got != want {
		t.Fatalf("ApplyEdits text %q, Apply %q", got, want)
	}
	// Allow is not an edit; a mask is one of the same length.
	if diff := cmp.Diff([]Edit{{Start: 9, End: 25, Len: len("[EMAIL]")}, {Start: 49, End: 68, Len: 19}}, edits); diff != "" {
		t.Errorf("edits (-want +got):\n%s", diff)
	}
}

func TestReserve(t *testing.T) {
	v := NewVault()
	v.Reserve("earlier: [EMAIL_3] and [PHONE_1], [NOT_A_TYPE_9], [EMAIL_x]")
	r := &Redactor{Vault: v}
	got, _ := r.Redact(New(Options{}), "new: bob@example.org")
	if got != "new: [EMAIL_4]" {
		t.Errorf("after Reserve: %q, want [EMAIL_4]", got)
	}
}

func TestRestoreJSON(t *testing.T) {
	v := NewVault()
	p := v.placeholder(Person, `Jo "Quote" O'Neil\`)
	args := `{"to":"` + p + `","n":1}`
	got := v.RestoreJSON(args)
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("RestoreJSON gave invalid JSON %q: %v", got, err)
	}
	if m["to"] != `Jo "Quote" O'Neil\` {
		t.Errorf("to = %q", m["to"])
	}
}

func FuzzDeidentify(f *testing.F) {
	f.Add("jane@example.com", "Mail jane@example.com now, jane@example.com!")
	f.Add("x", "xx x")
	f.Fuzz(func(t *testing.T, value, text string) {
		if value == "" {
			return
		}
		v := NewVault()
		v.placeholder(Email, value)
		out, edits := v.Deidentify(text)
		last := 0
		for _, e := range edits {
			if e.Start < last || e.End > len(text) || e.Start >= e.End {
				t.Fatalf("bad edit %+v in %q", e, text)
			}
			last = e.End
		}
		if len(edits) == 0 && out != text {
			t.Fatalf("text changed without edits")
		}
		if Shift(edits, len(text)) != len(out) {
			t.Fatalf("Shift(end) = %d, len(out) = %d", Shift(edits, len(text)), len(out))
		}
	})
}
