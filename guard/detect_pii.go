package guard

import (
	"net/netip"
	"strings"
)

// Context cues. Lower-case; a trailing '*' makes a cue a word prefix.
var (
	cardCues = []string{"card*", "credit", "debit", "visa", "mastercard", "master card", "amex", "american express",
		"discover", "diners", "jcb", "maestro", "unionpay", "cc", "cc#", "pan", "payment", "pay with", "charge*",
		"kreditkarte*", "karte*", "kartennummer", "tarjeta", "carte", "carta", "cvv", "cvc", "expir*", "billing"}
	cardAntiCues = []string{"order*", "invoice*", "tracking", "ref", "reference", "isbn", "serial", "imei",
		"phone*", "tel", "fax", "bestell*", "rechnung*", "kundennummer", "transaction id", "ticket*"}
	ssnCues = []string{"ssn*", "social security*", "social-security*", "ss#", "ss #", "ss no", "social sec*",
		"sozialversicherung*", "taxpayer", "tin"}
	phoneCues = []string{"phone*", "tel", "telephone", "mobile*", "mobil*", "cell*", "fax*", "desk", "office",
		"call*", "dial*", "text me", "sms", "whatsapp", "number", "contact*", "reach*", "ring*", "answering",
		"message*", "registered", "handy", "telefon*", "rufnummer", "anruf*", "ruf*", "nummer", "numéro",
		"téléphone", "teléfono", "llam*", "hotline", "helpline", "landline", "voicemail", "direct line", "switchboard"}
	phoneAntiCues = []string{"card*", "credit", "iban", "account", "acct", "order*", "invoice*", "zip", "postal",
		"postcode", "plz", "ssn", "social security", "isbn", "id", "price", "total", "amount", "population",
		"serial", "tracking", "ticket*", "version", "license", "licence", "driver*", "passport", "$", "€", "£", "usd", "eur"}
	dobCues = []string{"born", "birth*", "dob", "d.o.b", "b-day", "bday", "geboren", "geburtsdatum", "geburtstag*",
		"geb.", "né", "née", "nacido", "nacida", "nacimiento", "nascita", "naissance"}
	versionCues = []string{"version", "ver", "v", "release", "firmware", "build"}
)

// ---- email -------------------------------------------------------------

func isLocalByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainByte(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

func detectEmails(sc *scan) {
	t := sc.text
	for i := 0; i < len(t); i++ {
		if t[i] != '@' {
			continue
		}
		a := i
		for a > 0 && i-a < 64 && isLocalByte(t[a-1]) {
			a--
		}
		if a > 0 && isLocalByte(t[a-1]) { // local part longer than 64
			continue
		}
		for a < i && (t[a] == '.' || t[a] == '-') {
			a++
		}
		b := i + 1
		for b < len(t) && b-i-1 < 253 && isDomainByte(t[b]) {
			b++
		}
		if a == i {
			continue
		}
		if sc.open(a, b) {
			i = b - 1
			continue
		}
		end := b
		for end > i+1 && (t[end-1] == '.' || t[end-1] == '-') {
			end--
		}
		if validDomain(t[i+1 : end]) {
			sc.add(Email, a, end, 0.97, "email")
		}
		i = b - 1
	}
}

// validDomain checks labels of 1–63 bytes not starting or ending with a
// hyphen, at least two labels, and an alphabetic top-level label.
func validDomain(d string) bool {
	labels, start := 0, 0
	for k := 0; k <= len(d); k++ {
		if k < len(d) && d[k] != '.' {
			continue
		}
		l := d[start:k]
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		labels++
		if k == len(d) { // top-level label
			if len(l) < 2 {
				return false
			}
			if len(l) < 4 || l[:4] != "xn--" {
				for j := 0; j < len(l); j++ {
					if !isAlpha(l[j]) {
						return false
					}
				}
			}
		}
		start = k + 1
	}
	return labels >= 2
}

// ---- payment cards -----------------------------------------------------

// digitRun reads a run of digit groups starting at i, separated by single
// bytes from seps, and records group lengths. It returns the run's end and
// the number of groups (0 when there are more than len(groups)).
func digitRun(t string, i int, seps string, groups []int) (end, n int) {
	j := i
	for {
		k := j
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if n < len(groups) {
			groups[n] = j - k
		}
		n++
		if j+1 < len(t) && isSep(t[j], seps) && isDigit(t[j+1]) {
			j++
			continue
		}
		break
	}
	if n > len(groups) {
		n = 0
	}
	return j, n
}

func isSep(c byte, seps string) bool {
	for k := 0; k < len(seps); k++ {
		if seps[k] == c {
			return true
		}
	}
	return false
}

// cardGrouping reports whether group lengths look like a printed card
// number: one block, blocks of four (the last shorter), or 4-6-5 / 4-6-4.
func cardGrouping(g []int) bool {
	if len(g) == 1 {
		return true
	}
	if len(g) == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4) {
		return true
	}
	for k, n := range g {
		if n != 4 && !(k == len(g)-1 && n >= 1 && n < 4) {
			return false
		}
	}
	return true
}

func detectCards(sc *scan) {
	t := sc.text
	var groups [24]int
	var digits [64]byte
	for i := 0; i < len(t); {
		if !isDigit(t[i]) || (i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_')) {
			i++
			continue
		}
		end, n := digitRun(t, i, " -", groups[:])
		if sc.openWith(i, end, " -") || n == 0 || (end < len(t) && (isAlpha(t[end]) || t[end] == '_')) {
			i = end
			continue
		}
		// Try the whole run, then group windows within a longer run.
		starts := [25]int{}
		pos := i
		for k := 0; k < n; k++ {
			starts[k] = pos
			pos += groups[k] + 1
		}
		for a := 0; a < n; a++ {
			total := 0
			for b := a; b < n && total <= 19; b++ {
				total += groups[b]
				if total < 12 || total > 19 || !cardGrouping(groups[a:b+1]) {
					continue
				}
				if (a > 0 || b < n-1) && b == a {
					continue // a lone block inside a longer run is not a card
				}
				s, e := starts[a], starts[b]+groups[b]
				d := digitsOf(digits[:0], t[s:e])
				sc.card(s, e, d)
			}
		}
		i = end
	}
}

func (sc *scan) card(s, e int, d []byte) {
	if !luhn(d) || boringDigits(d) {
		return
	}
	brand := cardBrand(d)
	// The nearer cue decides: "phone 415 555 2671, card 4111 …" is a
	// card although a phone cue is in reach.
	w := sc.before(s, 48)
	cue := lastCue(w, cardCues)
	antiAt := lastCue(sc.before(s, 32), cardAntiCues)
	if antiAt >= 0 {
		antiAt += len(w) - min(32, len(w))
	}
	ctx := cue >= 0
	anti := antiAt > cue
	var conf float64
	switch {
	case brand != "" && ctx && !anti:
		conf = 0.97
	case brand == "" && ctx && !anti:
		conf = 0.85
	case brand != "" && !anti:
		conf = 0.8
	case brand != "":
		conf = 0.35
	default:
		return
	}
	sc.add(CreditCard, s, e, conf, "card-luhn")
}

// ---- US social security numbers ---------------------------------------

func detectSSNs(sc *scan) {
	t := sc.text
	var groups [4]int
	var digits [16]byte
	for i := 0; i < len(t); {
		if !isDigit(t[i]) || (i > 0 && (isAlnum(t[i-1]) || t[i-1] == '-' || t[i-1] == '_' || t[i-1] == '.')) {
			i++
			continue
		}
		end, n := digitRun(t, i, " -", groups[:])
		if sc.openWith(i, end, " -") || (end < len(t) && (isAlnum(t[end]) || t[end] == '_')) {
			i = end
			continue
		}
		var base float64
		switch {
		case n == 3 && groups[0] == 3 && groups[1] == 2 && groups[2] == 4:
			if t[i+3] != t[i+6] {
				i = end
				continue
			}
			base = 0.75
			if t[i+3] == ' ' {
				base = 0.45
			}
		case n == 1 && groups[0] == 9:
			base = 0.3
		default:
			i = end
			continue
		}
		d := digitsOf(digits[:0], t[i:end])
		if ssnValid(d) {
			conf := base
			if hasCue(sc.before(i, 40), ssnCues) {
				conf = base + 0.5
				if conf > 0.97 {
					conf = 0.97
				}
			}
			sc.add(SSN, i, end, conf, "ssn")
		}
		i = end
	}
}

// ---- phone numbers -----------------------------------------------------

// phoneRun reads a phone-shaped run at i: an optional '+', digit groups
// separated by up to two of " -." or parentheses. It returns the end of
// the last digit group and the group lengths, and whether a separator
// other than a single space appeared.
func phoneRun(t string, i int, groups []int) (end, n int, plus, paren, punct bool) {
	j := i
	if t[j] == '+' {
		plus = true
		j++
	}
	for {
		if j < len(t) && t[j] == '(' {
			paren = true
			j++
		}
		k := j
		for j < len(t) && isDigit(t[j]) && j-k < 15 {
			j++
		}
		if j == k {
			break
		}
		if n < len(groups) {
			groups[n] = j - k
		}
		n++
		end = j
		if j < len(t) && t[j] == ')' {
			paren = true
			j++
		}
		m := j
		for m < len(t) && m-j < 2 && (t[m] == ' ' || t[m] == '-' || t[m] == '.') {
			if t[m] != ' ' {
				punct = true
			}
			m++
		}
		if m < len(t) && (isDigit(t[m]) || (t[m] == '(' && m+1 < len(t) && isDigit(t[m+1]))) && (m > j || t[j-1] == ')') {
			j = m
			continue
		}
		break
	}
	if n > len(groups) {
		n = len(groups) + 1
	}
	return end, n, plus, paren, punct
}

// extension reads " x123", "x123", " ext. 123", "#123" after a number.
func extension(t string, j int) int {
	k := j
	if k < len(t) && t[k] == ' ' {
		k++
	}
	switch {
	case k < len(t) && (t[k] == 'x' || t[k] == 'X' || t[k] == '#'):
		k++
	case k+3 <= len(t) && (t[k:k+3] == "ext" || t[k:k+3] == "Ext"):
		k += 3
		if k < len(t) && t[k] == '.' {
			k++
		}
		if k < len(t) && t[k] == ' ' {
			k++
		}
	default:
		return j
	}
	d := k
	for d < len(t) && isDigit(t[d]) && d-k < 6 {
		d++
	}
	if d == k || (d < len(t) && isAlnum(t[d])) {
		return j
	}
	return d
}

func detectPhones(sc *scan) {
	t := sc.text
	var groups [12]int
	var digits [40]byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(isDigit(c) || ((c == '+' || c == '(') && i+1 < len(t) && isDigit(t[i+1]))) {
			continue
		}
		if i > 0 {
			p := t[i-1]
			if isAlnum(p) || p == '_' || p == '/' || p == '.' || p == '@' || p == '$' || p == '+' || (p == '-' && i > 1 && isDigit(t[i-2])) {
				// Skip the rest of this alphanumeric run.
				for i+1 < len(t) && isAlnum(t[i+1]) {
					i++
				}
				continue
			}
		}
		end, n, plus, paren, punct := phoneRun(t, i, groups[:])
		if n == 0 {
			continue
		}
		if n > len(groups) {
			i = end - 1
			continue
		}
		ext := extension(t, end)
		stop := ext
		if sc.openWith(i, stop, " -.()+xXet#") || (stop < len(t) && (isAlpha(t[stop]) && stop == end)) {
			i = stop - 1
			continue
		}
		d := digitsOf(digits[:0], t[i:end])
		if conf := sc.phoneConfidence(i, end, stop, d, groups[:n], plus, paren, punct); conf > 0 {
			sc.add(Phone, i, stop, conf, "phone")
		}
		i = stop - 1
	}
}

func (sc *scan) phoneConfidence(s, end, stop int, d []byte, g []int, plus, paren, punct bool) float64 {
	t := sc.text
	nd := len(d)
	intl := !plus && nd >= 10 && (string(d[:2]) == "00" || string(d[:3]) == "011")
	if nd < 7 || nd > 15 && !(intl && nd <= 17) {
		return 0
	}
	sep := byte(0)
	if len(g) > 1 {
		sep = t[s+boolInt(plus)+boolInt(t[s] == '(')+g[0]]
	}
	// Shapes that belong to other detectors or are not phones at all.
	switch {
	case len(g) == 4 && sep == '.' && g[0] <= 3 && g[1] <= 3 && g[2] <= 3 && g[3] <= 3:
		return 0 // IPv4
	case len(g) == 3 && g[0] == 4 && g[1] == 2 && g[2] == 2 && (sep == '-' || sep == '.'):
		return 0 // ISO date
	case len(g) == 3 && g[0] <= 2 && g[1] <= 2 && g[2] == 4 && (sep == '.' || sep == '-'):
		return 0 // d.m.yyyy
	case len(g) == 3 && g[0] == 3 && g[1] == 2 && g[2] == 4 && sep == '-':
		return 0 // SSN
	case !plus && len(g) >= 4 && g[0] == 4 && g[1] == 4 && g[2] == 4:
		return 0 // card blocks
	}
	var conf float64
	nanp := d
	if nd == 11 && d[0] == '1' {
		nanp = d[1:]
	} else if intl && nd == 13 && string(d[:3]) == "001" {
		nanp = d[3:]
	}
	nanpShape := len(nanp) == 10 && (len(g) == 1 || (len(g) >= 3 && g[len(g)-1] == 4 && g[len(g)-2] == 3 && g[len(g)-3] == 3))
	switch {
	case plus && nd >= 8:
		conf = 0.75
		if nd == 11 && d[0] == '1' && nanpValid(nanp) {
			conf = 0.9
		}
	case nanpShape && len(g) > 1:
		conf = 0.6
		if nanpValid(nanp) {
			conf = 0.8
		}
	case intl && len(g) > 1:
		conf = 0.6
	case nanpShape:
		conf = 0.3
		if nanpValid(nanp) {
			conf = 0.45
		}
	case len(g) > 1 && (paren || d[0] == '0'):
		conf = 0.5
	case len(g) > 1:
		conf = 0.4
		if punct {
			conf = 0.45
		}
	default:
		conf = 0.25
	}
	if hasCue(sc.before(s, 40), phoneCues) || hasCue(sc.after(stop, 12, s), phoneCues) {
		conf += 0.4
	}
	if hasCue(sc.before(s, 32), phoneAntiCues) {
		conf -= 0.35
	}
	return min(conf, 0.95)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---- IP addresses ------------------------------------------------------

func detectIPs(sc *scan) {
	t := sc.text
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !isHex(c) && c != ':' {
			continue
		}
		if i > 0 && (isAlnum(t[i-1]) || t[i-1] == '.' || t[i-1] == ':' || t[i-1] == '_') {
			continue
		}
		// The longest run of [0-9A-Fa-f:.] from i, capped at 45 bytes
		// (the longest textual IPv6 address).
		j := i
		colons := 0
		for j < len(t) && j-i < 46 && (isHex(t[j]) || t[j] == ':' || t[j] == '.') {
			if t[j] == ':' {
				colons++
			}
			j++
		}
		if sc.open(i, j) {
			i = j - 1
			continue
		}
		if j < len(t) && (isAlnum(t[j]) || t[j] == '_') {
			// Part of a longer word: skip the word.
			for j < len(t) && (isAlnum(t[j]) || t[j] == '_' || t[j] == ':' || t[j] == '.') {
				j++
			}
			i = j - 1
			continue
		}
		end := j
		for end > i && t[end-1] == '.' {
			end--
		}
		if colons == 1 && isDigit(c) {
			// "203.0.113.9:8080" or "203.0.113.9:" — an address and a port.
			if k := strings.IndexByte(t[i:end], ':'); k > 0 {
				colons, end = 0, i+k
			}
		}
		if colons >= 2 {
			sc.ipv6(i, end)
		} else if colons == 0 && isDigit(c) {
			sc.ipv4(i, end)
		}
		i = j - 1
	}
}

func (sc *scan) ipv4(s, e int) {
	t := sc.text[s:e]
	parts, n, v := 0, 0, 0
	for k := 0; k <= len(t); k++ {
		if k == len(t) || t[k] == '.' {
			if n == 0 || n > 3 || v > 255 || (n > 1 && t[k-n] == '0') {
				return
			}
			parts++
			n, v = 0, 0
			continue
		}
		if !isDigit(t[k]) {
			return
		}
		n++
		v = v*10 + int(t[k]-'0')
	}
	if parts != 4 {
		return
	}
	addr, err := netip.ParseAddr(t)
	if err != nil {
		return
	}
	conf := 0.9
	if addr.IsLoopback() || addr.IsPrivate() || addr.IsUnspecified() {
		conf = 0.7
	}
	if hasCue(sc.before(s, 16), versionCues) {
		conf = 0.3
	}
	sc.add(IPAddress, s, e, conf, "ipv4")
}

func (sc *scan) ipv6(s, e int) {
	t := sc.text[s:e]
	if len(t) > 2 && t[len(t)-1] == ':' && t[len(t)-2] != ':' {
		t = t[:len(t)-1]
		e--
	}
	hexDigits, groups := 0, 0
	for k := 0; k < len(t); k++ {
		if isHex(t[k]) {
			hexDigits++
			if k == 0 || t[k-1] == ':' {
				groups++
			}
		}
	}
	if hexDigits == 0 {
		return
	}
	addr, err := netip.ParseAddr(t)
	if err != nil || !addr.Is6() {
		return
	}
	conf := 0.9
	if groups < 3 {
		conf = 0.6
	}
	if addr.IsLoopback() || addr.IsUnspecified() {
		conf = 0.5
	}
	sc.add(IPAddress, s, e, conf, "ipv6")
}

// ---- MAC addresses -----------------------------------------------------

func detectMACs(sc *scan) {
	t := sc.text
	for i := 0; i < len(t); i++ {
		if !isHex(t[i]) || (i > 0 && (isAlnum(t[i-1]) || t[i-1] == ':' || t[i-1] == '-' || t[i-1] == '.')) {
			continue
		}
		e, ok := macAt(t, i)
		if !ok || sc.open(i, e) {
			continue // a partial MAC at the end of a stream is held as a trailing run
		}
		conf := 0.85
		allDigits, allSame := true, true
		for k := i; k < e; k++ {
			if isHex(t[k]) && !isDigit(t[k]) {
				allDigits = false
			}
			if isHex(t[k]) && (t[k]|0x20) != (t[i]|0x20) {
				allSame = false
			}
		}
		if allSame {
			conf = 0.3
		} else if allDigits && t[i+2] != ':' {
			conf = 0.55
		}
		sc.add(MACAddress, i, e, conf, "mac")
		i = e - 1
	}
}

// macAt matches aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff at i.
func macAt(t string, i int) (int, bool) {
	hexN := func(k, n int) bool {
		if k+n > len(t) {
			return false
		}
		for j := k; j < k+n; j++ {
			if !isHex(t[j]) {
				return false
			}
		}
		return true
	}
	end := -1
	if i+17 <= len(t) && (t[i+2] == ':' || t[i+2] == '-') {
		sep := t[i+2]
		ok := true
		for g := 0; g < 6 && ok; g++ {
			k := i + g*3
			ok = hexN(k, 2) && (g == 5 || t[k+2] == sep)
		}
		if ok {
			end = i + 17
		}
	}
	if end < 0 && i+14 <= len(t) && t[i+4] == '.' && t[i+9] == '.' && hexN(i, 4) && hexN(i+5, 4) && hexN(i+10, 4) {
		end = i + 14
	}
	if end < 0 || (end < len(t) && (isAlnum(t[end]) || t[end] == ':' || t[end] == '-' || (t[end] == '.' && end+1 < len(t) && isHex(t[end+1])))) {
		return 0, false
	}
	return end, true
}

// ---- IBAN --------------------------------------------------------------

func detectIBANs(sc *scan) {
	t := sc.text
	var buf [34]byte
	for i := 0; i+4 <= len(t) || (!sc.final && i < len(t)); i++ {
		if !isAlpha(t[i]) || (i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_')) {
			continue
		}
		if i+4 > len(t) || !isAlpha(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) {
			if !sc.final && i+4 > len(t) {
				sc.pend(i)
			}
			continue
		}
		cc := [2]byte{t[i] &^ 0x20, t[i+1] &^ 0x20}
		want, ok := ibanLengths[string(cc[:])]
		if !ok {
			continue
		}
		// Collect want characters; a single space is allowed only between
		// blocks of four, as IBANs are printed.
		n, j := 0, i
		for j < len(t) && n < want {
			c := t[j]
			if c == ' ' && n%4 == 0 && j+1 < len(t) && isAlnum(t[j+1]) {
				j++
				continue
			}
			if !isAlnum(c) {
				break
			}
			if isLowerc(c) {
				c -= 'a' - 'A'
			}
			buf[n] = c
			n++
			j++
		}
		if n < want {
			// A stream prefix may end in the space between two blocks.
			if !sc.final && (j == len(t) || j+1 == len(t) && t[j] == ' ' && n%4 == 0) {
				sc.pend(i)
			}
			continue
		}
		if sc.open(i, j) || (j < len(t) && isAlnum(t[j])) {
			continue
		}
		if ibanValid(buf[:n]) {
			conf := 0.95
			if hasCue(sc.before(i, 32), []string{"iban", "bank*", "account", "konto*", "transfer*", "überweis*"}) {
				conf = 0.99
			}
			sc.add(IBAN, i, j, conf, "iban-mod97")
			i = j - 1
		}
	}
}
