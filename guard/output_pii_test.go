package guard

import (
	"strings"
	"testing"
)

func TestOutputPIIModes(t *testing.T) {
	sources := []string{
		"The study was led by Maria Gonzalez (maria.gonzalez@uni-example.edu),\nat 221B Baker Street, London.",
		"Billing card on file: 4111 1111 1111 1111. SSN 536-22-8726.",
	}
	answer := "Contact Maria Gonzalez at MARIA.GONZALEZ@uni-example.edu or 221B Baker Street, London. " +
		"Her colleague John Smith (john.smith@example.org) can help. " +
		"The card is 4111 1111 1111 1111, SSN 536-22-8726, key AKIAIOSFODNN7EXAMPLE."
	type want struct {
		typ   Type
		value string
	}
	for _, c := range []struct {
		mode PIIMode
		want []want
	}{
		{PIIRedact, []want{{Person, "Maria Gonzalez"}, {Email, "MARIA.GONZALEZ@uni-example.edu"}, {StreetAddress, "221B Baker Street"},
			{Person, "John Smith"}, {Email, "john.smith@example.org"}, {CreditCard, "4111 1111 1111 1111"}, {SSN, "536-22-8726"}, {AWSKey, "AKIAIOSFODNN7EXAMPLE"}}},
		{"", []want{{Person, "Maria Gonzalez"}, {Email, "MARIA.GONZALEZ@uni-example.edu"}, {StreetAddress, "221B Baker Street"},
			{Person, "John Smith"}, {Email, "john.smith@example.org"}, {CreditCard, "4111 1111 1111 1111"}, {SSN, "536-22-8726"}, {AWSKey, "AKIAIOSFODNN7EXAMPLE"}}},
		// In the sources: Maria, her email (case aside), the address (line
		// break aside). Not: John Smith; never: card, SSN, the key.
		{PIIAllowFromSources, []want{{Person, "John Smith"}, {Email, "john.smith@example.org"}, {CreditCard, "4111 1111 1111 1111"},
			{SSN, "536-22-8726"}, {AWSKey, "AKIAIOSFODNN7EXAMPLE"}}},
		{PIIAllow, []want{{AWSKey, "AKIAIOSFODNN7EXAMPLE"}}},
	} {
		t.Run(string(c.mode), func(t *testing.T) {
			oc, err := NewOutputChecker(OutputOptions{PII: c.mode, Sources: sources})
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, f := range oc.Check(answer) {
				got = append(got, want{f.Type, answer[f.Start:f.End]})
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].typ != c.want[i].typ || !strings.HasPrefix(got[i].value, c.want[i].value) {
					t.Errorf("finding %d: got %v, want %v", i, got[i], c.want[i])
				}
			}
			// A stream, fed in small pieces, lets the same findings through.
			var out strings.Builder
			st := oc.Stream(nil)
			for i := 0; i < len(answer); i += 7 {
				o, _ := st.Write(answer[i:min(i+7, len(answer))])
				out.WriteString(o)
			}
			o, _ := st.Flush()
			out.WriteString(o)
			want := (&Redactor{}).Apply(answer, oc.Check(answer))
			if out.String() != want {
				t.Errorf("stream:\n got %q\nwant %q", out.String(), want)
			}
		})
	}
	if _, err := NewOutputChecker(OutputOptions{PII: "sometimes"}); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("bad mode: err = %v", err)
	}
}

func TestContainsToken(t *testing.T) {
	for _, c := range []struct {
		hay, needle string
		want        bool
	}{
		{"joann lee wrote", "ann lee", false},
		{"by ann lee, 2020", "ann lee", true},
		{"ann leeds", "ann lee", false},
		{"x ann lee\x00joann lee", "ann lee", true},
		{"", "a", false},
		{"abc", "", false},
	} {
		if got := containsToken(c.hay, c.needle); got != c.want {
			t.Errorf("containsToken(%q, %q) = %v", c.hay, c.needle, got)
		}
	}
}
