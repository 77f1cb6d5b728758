package guard

// Validators: checksums and numbering-plan rules that cut false positives.
// Each takes the candidate's digits (or characters) only, never the text
// around it.

// luhn reports whether the digit string passes the Luhn (mod 10) check.
func luhn(digits []byte) bool {
	if len(digits) == 0 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// prefixIn reports whether the number formed by the first len(lo) digits
// of d lies in [lo, hi] (lo and hi have the same length).
func prefixIn(d []byte, lo, hi string) bool {
	if len(d) < len(lo) {
		return false
	}
	p := string(d[:len(lo)])
	return p >= lo && p <= hi
}

// cardBrand returns the brand whose issuer prefix and length match the
// digits, or "" when none does.
func cardBrand(d []byte) string {
	n := len(d)
	switch {
	case d[0] == '4' && (n == 13 || n == 16 || n == 19):
		return "visa"
	case (prefixIn(d, "51", "55") || prefixIn(d, "2221", "2720")) && n == 16:
		return "mastercard"
	case (prefixIn(d, "34", "34") || prefixIn(d, "37", "37")) && n == 15:
		return "amex"
	case (prefixIn(d, "6011", "6011") || prefixIn(d, "644", "649") || prefixIn(d, "65", "65") || prefixIn(d, "622126", "622925")) && n >= 16 && n <= 19:
		return "discover"
	case (prefixIn(d, "300", "305") || prefixIn(d, "3095", "3095") || prefixIn(d, "36", "36") || prefixIn(d, "38", "39")) && n >= 14 && n <= 19:
		return "diners"
	case prefixIn(d, "3528", "3589") && n >= 16 && n <= 19:
		return "jcb"
	case (prefixIn(d, "2131", "2131") || prefixIn(d, "1800", "1800")) && n == 15:
		return "jcb"
	case prefixIn(d, "2200", "2204") && n >= 16 && n <= 19:
		return "mir"
	case prefixIn(d, "62", "62") && n >= 16 && n <= 19:
		return "unionpay"
	case (prefixIn(d, "50", "50") || prefixIn(d, "56", "69")) && n >= 12 && n <= 19:
		return "maestro"
	}
	return ""
}

// boringDigits reports digit strings that are placeholders, not numbers:
// one repeated digit, or a run of consecutive digits.
func boringDigits(d []byte) bool {
	same, up, down := true, true, true
	for i := 1; i < len(d); i++ {
		same = same && d[i] == d[0]
		up = up && d[i] == (d[i-1]-'0'+1)%10+'0'
		down = down && d[i]+1 == d[i-1]
	}
	return same || up || down
}

// ibanLengths is the IBAN length of each country in the SWIFT registry.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
	"NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// ibanValid reports whether s (upper-case letters and digits only) is an
// IBAN: a known country, that country's length, two check digits and a
// mod-97 remainder of 1.
func ibanValid(s []byte) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	want, ok := ibanLengths[string(s[:2])]
	if !ok || want != len(s) || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	rem := 0
	for k := 0; k < len(s); k++ {
		c := s[(k+4)%len(s)]
		switch {
		case isDigit(c):
			rem = (rem*10 + int(c-'0')) % 97
		case 'A' <= c && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// ssnValid applies the SSA rules to 9 digits: area 000, 666 and 900–999,
// group 00 and serial 0000 are never issued, nor are the numbers that
// circulated as examples.
func ssnValid(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	area, group, serial := string(d[:3]), string(d[3:5]), string(d[5:])
	switch {
	case area == "000" || area == "666" || area >= "900":
		return false
	case group == "00" || serial == "0000":
		return false
	}
	switch string(d) {
	case "078051120", "219099999", "123456789", "457555462":
		return false
	}
	return true
}

// nanpValid reports whether 10 digits follow the North American Numbering
// Plan: area code and exchange start with 2–9, neither is an N11 service
// code, and the area code's middle digit is not 9 (reserved).
func nanpValid(d []byte) bool {
	if len(d) != 10 {
		return false
	}
	a, e := d[:3], d[3:6]
	switch {
	case a[0] < '2' || e[0] < '2':
		return false
	case a[1] == '9':
		return false
	case a[1] == '1' && a[2] == '1', e[1] == '1' && e[2] == '1':
		return false
	}
	return true
}
