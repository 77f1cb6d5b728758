package guard

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// detectCase says whether text contains a finding of typ covering want
// (want == "" means: no finding of typ at all).
type detectCase struct {
	text string
	want string
}

func runDetect(t *testing.T, typ Type, cases []detectCase) {
	t.Helper()
	s := New(Options{})
	for _, c := range cases {
		var got []string
		for _, f := range s.Scan(c.text) {
			if f.Type == typ {
				got = append(got, c.text[f.Start:f.End])
			}
		}
		if c.want == "" {
			if len(got) > 0 {
				t.Errorf("%s in %q: got %q, want none", typ, c.text, got)
			}
			continue
		}
		found := false
		for _, g := range got {
			if g == c.want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s in %q: got %q, want %q", typ, c.text, got, c.want)
		}
	}
}

func TestEmail(t *testing.T) {
	runDetect(t, Email, []detectCase{
		{"write to jane.doe+tag@example.co.uk today", "jane.doe+tag@example.co.uk"},
		{"Mail: UtaKortig@jourrapide.com?", "UtaKortig@jourrapide.com"},
		{"<a@b.io>", "a@b.io"},
		{"user@localhost", ""},
		{"@handle on twitter", ""},
		{"a@b.c", ""},
		{"foo@bar.123", ""},
		{"name@-bad.com", ""},
	})
}

func TestCreditCard(t *testing.T) {
	runDetect(t, CreditCard, []detectCase{
		{"my card 4111 1111 1111 1111 expires", "4111 1111 1111 1111"},
		{"card number 4454794511390933?", "4454794511390933"},
		{"amex 3782-822463-10005", "3782-822463-10005"},
		{"credit card 060426070011 transactions", "060426070011"}, // no brand, Luhn + context
		{"visa 4111111111111112", ""},                             // Luhn fails
		{"order number 4111111111111111", ""},                     // Luhn passes, but an order number
		{"ref 0000000000000000", ""},
		{"id 123456789012", ""},               // no brand, no context
		{"4111111111111111abc", ""},           // part of a token
		{"1234 5678 9012 3456 7890 1234", ""}, // too long, bad grouping
		{"tracking 79927398713", ""},
	})
}

func TestIBAN(t *testing.T) {
	runDetect(t, IBAN, []detectCase{
		{"IBAN GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"},
		{"to DE89370400440532013000.", "DE89370400440532013000"},
		{"my iban is gb42nawi04454264788619", "gb42nawi04454264788619"},
		{"GB82 WEST 1234 5698 7654 33", ""}, // checksum
		{"DE8937040044053201300", ""},       // German length is 22
		{"XX89370400440532013000", ""},      // unknown country
	})
}

func TestSSN(t *testing.T) {
	runDetect(t, SSN, []detectCase{
		{"Here's my SSN: 460-89-9847", "460-89-9847"},
		{"His social security number is 853-37-1694", "853-37-1694"},
		{"ssn 123 45 6780 ok", "123 45 6780"},
		{"SSN: 666-12-3456", ""}, // area 666
		{"SSN: 000-12-3456", ""},
		{"SSN: 912-12-3456", ""}, // 9xx
		{"SSN: 123-00-3456", ""},
		{"SSN: 123-45-0000", ""},
		{"SSN 078-05-1120", ""}, // the Woolworth wallet number
		{"call 123-45-67890", ""},
		{"born 1999-12-3456", ""},
	})
}

func TestPhone(t *testing.T) {
	runDetect(t, Phone, []detectCase{
		{"call me at (415) 555-2671 tomorrow", "(415) 555-2671"},
		{"+1-984-182-0190 mobile", "+1-984-182-0190"},
		{"Phone: +44 20 7946 0958", "+44 20 7946 0958"},
		{"Fax: 345-899-3560x4587", "345-899-3560x4587"},
		{"Can someone call me on 9472 7916?", "9472 7916"},
		{"Mobile: 03.93.92.16.85", "03.93.92.16.85"},
		{"Tel. 030 1234567", "030 1234567"},
		{"3660170548-Fax", "3660170548"},
		{"on 2024-01-15 we met", ""},
		{"version 10.2.3.4", ""},
		{"IP 192.168.1.20 answered", ""},
		{"population 83 240 000", ""},
		{"the order 1234567 shipped", ""},
		{"My driver's license number is 6940579", ""},
		{"pi is 3.14159265", ""},
	})
}

func TestIP(t *testing.T) {
	runDetect(t, IPAddress, []detectCase{
		{"address 41.173.96.26 blocked", "41.173.96.26"},
		{"|106.31.73.20|", "106.31.73.20"},
		{"from 2001:db8::8a2e:370:7334 ok", "2001:db8::8a2e:370:7334"},
		{"address 6e40:4041:c617:e898:c11:40d2:c669:2eb4 blocked", "6e40:4041:c617:e898:c11:40d2:c669:2eb4"},
		{"256.1.1.1", ""},
		{"1.2.3", ""},
		{"1.2.3.4.5", ""},
		{"01.02.03.04", ""},
		{"at 12:30:45 sharp", ""},
		{"std::vector<int>", ""},
		{"version 1.2.3.4", ""},
	})
}

func TestMAC(t *testing.T) {
	runDetect(t, MACAddress, []detectCase{
		{"mac 00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5E"},
		{"hw 00-1a-2b-3c-4d-5e.", "00-1a-2b-3c-4d-5e"},
		{"cisco 001a.2b3c.4d5e", "001a.2b3c.4d5e"},
		{"00:1A:2B:3C:4D", ""},
		{"00:1A:2B:3C:4D:5E:6F", ""},
		{"ff:ff:ff:ff:ff:ff", ""}, // broadcast, not a device
	})
}

func TestDOB(t *testing.T) {
	runDetect(t, DateOfBirth, []detectCase{
		{"She was born on 2/8/1935.", "2/8/1935"},
		{"date of birth: 1985-03-12", "1985-03-12"},
		{"DOB 12 March 1985", "12 March 1985"},
		{"geboren am 12.03.1985", "12.03.1985"},
		{"Born March 12, 1985 in Ohio", "March 12, 1985"},
		{"The meeting is on 2/8/2025.", ""}, // no birth context
		{"born on 13/13/1990", ""},          // not a date
		{"invoice date 1985-03-12", ""},
		{"Born on the 12th of March 1985 in Leeds", "12th of March 1985"},
		{"Date of birth: 3rd May 1990", "3rd May 1990"},
		{"born March 12th, 1985", "March 12th, 1985"},
		{"She was born on 2/8/1935 (see 3/4/2020)", "2/8/1935"},
		// Scientific text: ranges next to "birth" are no dates.
		{"pre-term birth (aOR, 6.7; 95% CI, 4.5-10.0)", ""},
		{"birthweight (RR 1.15 [95% CI 1.09-1.21]), birth length (1.28 [1.11-1.48])", ""},
		{"children aged 5-12 years, born 2001-2005", ""},
		{"birth weight 2.5-3.5 kg", ""},
		{"born 12-3/1985", ""}, // mixed separators
		{"born on 12 of March 1985", ""},
		{"born 1985-03-12345", ""}, // inside a longer number
	})
}

func TestAddress(t *testing.T) {
	runDetect(t, StreetAddress, []detectCase{
		{"I live at 221B Baker Street, London", "221B Baker Street, London"},
		{"Send it to 1600 Pennsylvania Avenue NW", "1600 Pennsylvania Avenue"},
		{"Meine Adresse: Hauptstraße 5, 10115 Berlin", "Hauptstraße 5, 10115 Berlin"},
		{"PSC 3294, Box 9168\nAPO AA 61487", "PSC 3294, Box 9168\nAPO AA 61487"},
		{"Write to P.O. Box 123 please", "P.O. Box 123"},
		{"He lives on Rua Diadema 1903.", "Rua Diadema 1903"},
		{"In 2019 Apple sold 5 million phones", ""},
		{"Chapter 3 covers the main street food", ""},
		// A street type as a word of its own.
		{"The bus station is on Villacher Strasse 89", "Villacher Strasse 89"},
		{"Ich wohne in der Berliner Straße 5, 10115 Berlin.", "Berliner Straße 5, 10115 Berlin"},
		{"Berliner Str. 12a", "Berliner Str. 12a"},
		{"Frankfurter Allee 3", "Frankfurter Allee 3"},
		{"The Ring 5 complex and Benzene Platz", ""},
		{"Table 2 Strasse", ""},
		// US Coast Guard cutters have military addresses too.
		{"The address of Solarlist is USCGC Khadzhiyev\nFPO AA 65607", "USCGC Khadzhiyev\nFPO AA 65607"},
		{"USCGC Healy sailed north.", ""},
		// A sentence after the address is not part of it.
		{"Ship to 41086 Kiannonkatu 98, Suite 464, OULU. Thanks, Bob", "41086 Kiannonkatu 98, Suite 464, OULU."},
		{"1600 Main Street, St. Louis, MO 63101", "1600 Main Street, St. Louis, MO 63101"},
	})
}

func TestPerson(t *testing.T) {
	runDetect(t, Person, []detectCase{
		{"My name is Aantje Mourik", "Aantje Mourik"},
		{"Please ask Maria Schmidt about it", "Maria Schmidt"},
		{"Mr. Manning is here", "Manning"},
		{"Contact John O'Brien today", "John O'Brien"},
		{"Name: Sieuwerd Heuver\nPhone: 1", "Sieuwerd Heuver"},
		{"Alice Goldberg's Cautionary Tales", "Alice Goldberg"},
		{"follow up with patricia jones soon", "patricia jones"},
		{"The Clark, Romero and Hall Orchestra", ""},
		{"Will you help me?", ""},
		{"I work for Aunt Bertha Inc", ""},
		{"We met at Marina Fort Street", ""},
		{"What is the capital of France?", ""},
		// Two unknown capitalized words: a person only by what follows
		// or by heading an address block.
		{"Zorvath Quenby said the order was late.", "Zorvath Quenby"},
		{"Quenby Zorvath\n\n4812 Tallowmere 17\nLeeds", "Quenby Zorvath"},
		{"> Quenby Zorvath\n> Irecycle\n> 2224 Tallow gate 232\n> Apt. 342", "Quenby Zorvath"},
		{"Ilsa Quenby\n12 Marlow Street\nLeeds", "Ilsa Quenby"},
		{"a film directed by Zorvath Quenby and starring others", "Zorvath Quenby"},
		{"Zorvath Quenby was late.", ""},                                // "was": places and firms are too
		{"Hazard Ratios\n\n12 Patients were followed for 5 years.", ""}, // prose, not a street
		{"Hazard Ratios\n\n12 Patients aged 5 years", ""},
		{"Study Design\n\n2010 Census data were used", ""},
		{"This approach is called Gradient Boosting.", ""},
		{"Quenby Zorvath met us. 4812 Tallowmere 17", ""}, // not a line of its own
		// A middle initial between two unknown words.
		{"Zorvath Q. Quenby from Can Capital is the keynote speaker", "Zorvath Q. Quenby"},
		{"Have you been to a Ravil G Quenby concert before?", "Ravil G Quenby"},
		{"Hepatitis C Virus infection was common", ""},
		{"Effector T Cells were counted", ""},
		{"Protein Kinase C Activation in Neurons", ""},
		{"BACKGROUND Thrombosis B. Patients were enrolled", ""},
		// Place names open with words no person's name does.
		{"3M Pharmaceuticals, St Paul, MN, U.S.A.", ""},
		{"SETTING Lower Hunter region of New South Wales", ""},
	})
}

func TestSecrets(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	tests := []struct {
		typ Type
		c   detectCase
	}{
		{AWSKey, detectCase{"key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"}},
		{AWSKey, detectCase{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{AWSKey, detectCase{"AKIAIOSFODNN7EXAMPL", ""}},
		{JWT, detectCase{"token " + jwt + " end", jwt}},
		{JWT, detectCase{"eyJhbGciOiJub3QganNvbg.eyJzdWIiOiIxIn0.sig", ""}}, // header is not JSON
		{BearerToken, detectCase{"Authorization: Bearer abcdef0123456789abcdef", "abcdef0123456789abcdef"}},
		{BearerToken, detectCase{"Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="}},
		{BearerToken, detectCase{"the bearer of bad news", ""}},
		{APIKey, detectCase{"OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"}},
		{APIKey, detectCase{"sk-ant-api03-" + strings.Repeat("aB3_", 24) + "AA", "sk-ant-api03-" + strings.Repeat("aB3_", 24) + "AA"}},
		{APIKey, detectCase{"ghp_" + strings.Repeat("a1B2", 9), "ghp_" + strings.Repeat("a1B2", 9)}},
		{APIKey, detectCase{"xoxb-123456789012-123456789012-abcdefABCDEF123456", "xoxb-123456789012-123456789012-abcdefABCDEF123456"}},
		{APIKey, detectCase{"stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}},
		{APIKey, detectCase{"AIzaSyD-1234567890abcdefghijklmnopqrstu", "AIzaSyD-1234567890abcdefghijklmnopqrstu"}},
		{APIKey, detectCase{"the sk-learn library", ""}},
		{PrivateKey, detectCase{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"}},
		{PrivateKey, detectCase{"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", ""}},
		{Secret, detectCase{"password: hunter2!", "hunter2!"}},
		{Secret, detectCase{`DB_PASSWORD="s3cr3t-Pa55"`, "s3cr3t-Pa55"}},
		{Secret, detectCase{"my password is Tr0ub4dor&3", "Tr0ub4dor&3"}},
		{Secret, detectCase{"a password is required", ""}},
		{Secret, detectCase{"postgres://admin:pa55word@db.internal:5432/app", "admin:pa55word"}},
		{Secret, detectCase{"token Zx9Qm2Lw8Rt5Yp1Ks7Dv3Hn6", "Zx9Qm2Lw8Rt5Yp1Ks7Dv3Hn6"}},
		{Secret, detectCase{"commit 3f2a9c0d1b2e4f5612ab34cd56ef7890a1b2c3d4", ""}}, // a git hash
		{Secret, detectCase{"see github.com/sextant-ai/sextant/guard", ""}},
		{Secret, detectCase{"id 123e4567-e89b-12d3-a456-426614174000", ""}},
		{Secret, detectCase{"getUserAccountSettingsHandler", ""}},
	}
	for _, tt := range tests {
		runDetect(t, tt.typ, []detectCase{tt.c})
	}
}

func TestValidators(t *testing.T) {
	if !luhn([]byte("79927398713")) || luhn([]byte("79927398710")) {
		t.Error("luhn")
	}
	if !ibanValid([]byte("GB82WEST12345698765432")) || ibanValid([]byte("GB82WEST12345698765433")) {
		t.Error("iban")
	}
	if !nanpValid([]byte("4155552671")) || nanpValid([]byte("1155552671")) || nanpValid([]byte("4151112671")) || nanpValid([]byte("4915552671")) {
		t.Error("nanp")
	}
	for in, want := range map[string]string{"4111111111111111": "visa", "5500000000000004": "mastercard",
		"340000000000009": "amex", "6011000000000004": "discover", "3530111333300000": "jcb", "30000000000004": "diners"} {
		if got := cardBrand([]byte(in)); got != want {
			t.Errorf("cardBrand(%s) = %q, want %q", in, got, want)
		}
	}
	b := CharToByte("héllo wörld", 0, 2, 7, 11)
	if want := []int{0, 3, 8, 13}; b[0] != want[0] || b[1] != want[1] || b[2] != want[2] || b[3] != want[3] {
		t.Errorf("CharToByte = %v, want %v", b, want)
	}
}

func TestTypesFilter(t *testing.T) {
	s := New(Options{Types: []Type{Email}})
	fs := s.Scan("mail a@b.io or call +1 415 555 2671, key AKIAIOSFODNN7EXAMPLE")
	if len(fs) != 1 || fs[0].Type != Email {
		t.Errorf("Types filter: got %+v", fs)
	}
}

// FuzzScan checks that no input panics, spans are in range and ordered,
// and a stream split anywhere gives the same redaction.
func FuzzScan(f *testing.F) {
	for _, s := range []string{"", "a@b.io", "4111 1111 1111 1111", "+1 (415) 555-2671 x12", "GB82 WEST 1234 5698 7654 32",
		"-----BEGIN PRIVATE KEY-----\nabc", "eyJhbGciOiJIUzI1NiJ9.eyJ9.x", "Bearer abcdefghijklmnopqrstuv", "My name is Ann Lee",
		"221B Baker Street\nLondon\n, UK", "born 1/2/1990", "00:1A:2B:3C:4D:5E", "::1", "1.2.3.4", "password: x",
		strings.Repeat("a@", 100), strings.Repeat("1 ", 100), "\xff\xfe@\x00", "PSC 1, Box 2\nAPO AA 12345",
		"born the 12th of March 1985", "DOB March 3rd, 1990", "born 1.09-1.21", "Quenby Zorvath\n\n4812 Tallowmere 17\nLeeds",
		"> Ann Lee\n> 12 Marlow Street", "Zorvath Quenby said", "Berliner Str. 12a", "USCGC A\nFPO AA 1",
		"12 Baker Street, OULU. Thanks",
		// Found by fuzzing: stream prefixes that must hold a candidate back.
		"!AaA Lee 000000000000", " AaAA Lee 000000", "Ba AA\n0000000000000000000 AAAAAAAAAA000,00",
		"0 A Street,AAAAAA '0000000000000000000", "AA Str 0", "DOB MAY 10 0000 00",
		"BaAAAAAAAAAA y AaAAAAA\n0000 AAAAAAAAAA000,0000", "0A " + strings.Repeat("000 ", 45) + "0 AAAAa 0",
		"PSC0BoX00,AA\n000000AAA000000", "PSC0BoX00\n000A00000A0000,00000", "bo orr 0"} {
		f.Add(s)
	}
	s := New(Options{})
	f.Fuzz(func(t *testing.T, text string) {
		fs := s.Scan(text)
		last := 0
		for _, x := range fs {
			if x.Start < last || x.End > len(text) || x.Start >= x.End || x.Confidence <= 0 || x.Confidence > 1 {
				t.Fatalf("bad finding %+v in %q (len %d)", x, text, len(text))
			}
			last = x.End
		}
		if utf8.ValidString(text) && len(text) < 300 {
			c, _ := NewOutputChecker(OutputOptions{Scanner: s})
			want := (&Redactor{}).Apply(text, c.Check(text))
			for _, cut := range []int{len(text) / 3, len(text) / 2} {
				st := c.Stream(nil)
				a, _ := st.Write(text[:cut])
				b, _ := st.Write(text[cut:])
				d, _ := st.Flush()
				if got := a + b + d; got != want {
					t.Fatalf("stream split at %d of %q:\n got %q\nwant %q", cut, text, got, want)
				}
			}
		}
	})
}

func TestCoverage(t *testing.T) {
	s := New(Options{})
	text := "Bob wrote: ship to 41086 Kiannonkatu 98, Suite 464, OULU"
	ex := []Example{{Text: text, Spans: []Span{
		{StreetAddress, strings.Index(text, "41086"), strings.Index(text, "41086") + 5},
		{StreetAddress, strings.Index(text, "Kiannonkatu"), strings.Index(text, "Kiannonkatu") + 14},
		{StreetAddress, 0, 3}, // nothing found there
	}}}
	got := Coverage(s, ex, []Type{StreetAddress, Person})
	if got[StreetAddress] != 2.0/3 || got[Person] != 0 {
		t.Errorf("Coverage = %v, want ADDRESS 2/3, PERSON 0 (no labels)", got)
	}
	// ScorePII matches one to one: the one address finding takes one span.
	if r := ScorePII(s, ex, []Type{StreetAddress}, MatchOverlap).PerType[StreetAddress]; r.TP != 1 || r.FN != 2 {
		t.Errorf("ScorePII TP=%d FN=%d, want 1 and 2", r.TP, r.FN)
	}
}
