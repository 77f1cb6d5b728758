package guard

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
)

// Secret detectors: private-key blocks, provider API keys, AWS keys, JWTs,
// bearer and basic credentials, labelled passwords, URL credentials and
// generic high-entropy tokens.

const (
	csAlnum    = iota // [A-Za-z0-9]
	csAlnumDU         // [A-Za-z0-9_-]
	csHex             // [0-9a-f]
	csUpperNum        // [A-Z0-9]
	csLetters         // [A-Za-z]
	csAny             // any secret-run byte
)

// keyPattern is one provider's key format: a literal prefix followed by a
// body of bounded length drawn from a charset.
type keyPattern struct {
	prefix   string
	min, max int
	charset  int
	typ      Type
	name     string
	conf     float64
}

// keyPatterns, longest prefixes first so "sk-ant-" wins over "sk-".
var keyPatterns = []keyPattern{
	{"sk-ant-api03-", 80, 120, csAlnumDU, APIKey, "anthropic", 0.99},
	{"sk-ant-admin01-", 80, 120, csAlnumDU, APIKey, "anthropic", 0.99},
	{"sk-ant-", 32, 150, csAlnumDU, APIKey, "anthropic", 0.97},
	{"sk-proj-", 40, 220, csAlnumDU, APIKey, "openai", 0.99},
	{"sk-svcacct-", 40, 220, csAlnumDU, APIKey, "openai", 0.99},
	{"sk-admin-", 40, 220, csAlnumDU, APIKey, "openai", 0.99},
	{"sk-", 32, 200, csAlnumDU, APIKey, "openai", 0.9},
	{"github_pat_", 70, 100, csAlnumDU, APIKey, "github", 0.99},
	{"ghp_", 36, 36, csAlnum, APIKey, "github", 0.99},
	{"gho_", 36, 36, csAlnum, APIKey, "github", 0.99},
	{"ghu_", 36, 36, csAlnum, APIKey, "github", 0.99},
	{"ghs_", 36, 36, csAlnum, APIKey, "github", 0.99},
	{"ghr_", 36, 36, csAlnum, APIKey, "github", 0.99},
	{"glpat-", 20, 20, csAlnumDU, APIKey, "gitlab", 0.99},
	{"xoxb-", 20, 200, csAlnumDU, APIKey, "slack", 0.98},
	{"xoxp-", 20, 200, csAlnumDU, APIKey, "slack", 0.98},
	{"xoxa-", 20, 200, csAlnumDU, APIKey, "slack", 0.98},
	{"xoxr-", 20, 200, csAlnumDU, APIKey, "slack", 0.98},
	{"xoxs-", 20, 200, csAlnumDU, APIKey, "slack", 0.98},
	{"xapp-", 20, 200, csAlnumDU, APIKey, "slack", 0.98},
	{"sk_live_", 20, 120, csAlnum, APIKey, "stripe", 0.99},
	{"sk_test_", 20, 120, csAlnum, APIKey, "stripe", 0.97},
	{"rk_live_", 20, 120, csAlnum, APIKey, "stripe", 0.99},
	{"rk_test_", 20, 120, csAlnum, APIKey, "stripe", 0.97},
	{"whsec_", 24, 80, csAlnum, APIKey, "stripe", 0.97},
	{"AIza", 35, 35, csAlnumDU, APIKey, "google", 0.98},
	{"ya29.", 20, 300, csAlnumDU, APIKey, "google-oauth", 0.95},
	{"GOCSPX-", 28, 28, csAlnumDU, APIKey, "google-oauth", 0.98},
	{"hf_", 30, 40, csLetters, APIKey, "huggingface", 0.95},
	{"npm_", 36, 36, csAlnum, APIKey, "npm", 0.98},
	{"pypi-AgEIcHlwaS5vcmc", 50, 250, csAlnumDU, APIKey, "pypi", 0.99},
	{"dop_v1_", 64, 64, csHex, APIKey, "digitalocean", 0.99},
	{"shpat_", 32, 32, csHex, APIKey, "shopify", 0.99},
	{"shpss_", 32, 32, csHex, APIKey, "shopify", 0.99},
	{"xai-", 60, 100, csAlnum, APIKey, "xai", 0.97},
	{"gsk_", 48, 60, csAlnum, APIKey, "groq", 0.97},
	{"r8_", 37, 40, csAlnum, APIKey, "replicate", 0.95},
	{"pplx-", 40, 60, csAlnum, APIKey, "perplexity", 0.97},
	{"key-", 32, 32, csHex, APIKey, "mailgun", 0.9},
}

var awsPrefixes = []string{"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"}

var secretCues = []string{"key", "keys", "token*", "secret*", "password*", "passwd", "pwd", "credential*", "auth*",
	"api", "apikey", "access", "bearer", "private", "passwort", "kennwort", "schlüssel"}

func isSecretByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == '+' || c == '=' || c == '~'
}

func inCharset(s string, cs int) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		var ok bool
		switch cs {
		case csAlnum:
			ok = isAlnum(c)
		case csAlnumDU:
			ok = isAlnum(c) || c == '-' || c == '_'
		case csHex:
			ok = isDigit(c) || ('a' <= c && c <= 'f')
		case csUpperNum:
			ok = isDigit(c) || isUpper(c)
		case csLetters:
			ok = isAlpha(c)
		default:
			ok = isSecretByte(c)
		}
		if !ok {
			return false
		}
	}
	return true
}

func detectTokens(sc *scan) {
	t := sc.text
	for i := 0; i < len(t); i++ {
		if !isSecretByte(t[i]) || (i > 0 && isSecretByte(t[i-1]) && !isAssign(t, i-1)) {
			continue
		}
		if isAssign(t, i) {
			continue
		}
		j := i
		for j < len(t) && isSecretByte(t[j]) && j-i < 8192 && !isAssign(t, j) {
			j++
		}
		if sc.open(i, j) {
			i = j - 1
			continue
		}
		e := j
		for e > i && (t[e-1] == '.' || t[e-1] == '-' || t[e-1] == '/') {
			e--
		}
		if e-i >= 16 {
			sc.token(i, e)
		}
		i = j - 1
	}
	detectBearer(sc)
	detectLabelled(sc)
	detectURLCredentials(sc)
}

// isAssign reports an '=' at i that separates a name from a value
// (KEY=value), as opposed to base64 padding at the end of a token.
func isAssign(t string, i int) bool {
	return t[i] == '=' && i+1 < len(t) && isSecretByte(t[i+1]) && t[i+1] != '='
}

// token classifies one run of secret bytes.
func (sc *scan) token(s, e int) {
	tok := sc.text[s:e]
	if strings.HasPrefix(tok, "eyJ") && isJWT(tok) {
		sc.add(JWT, s, e, 0.97, "jwt")
		return
	}
	if k := strings.Index(tok, "hooks.slack.com/services/"); k >= 0 && k <= 2 {
		start := s
		if s >= 6 && sc.lower[s-6] == 'h' && string(sc.lower[s-6:s]) == "https:" {
			start = s - 6
		}
		sc.add(APIKey, start, e, 0.97, "slack-webhook")
		return
	}
	for _, p := range keyPatterns {
		if !strings.HasPrefix(tok, p.prefix) {
			continue
		}
		body := tok[len(p.prefix):]
		if len(body) >= p.min && len(body) <= p.max && inCharset(body, p.charset) {
			sc.add(p.typ, s, e, p.conf, p.name)
			return
		}
	}
	if len(tok) == 20 && inCharset(tok[4:], csUpperNum) {
		for _, p := range awsPrefixes {
			if strings.HasPrefix(tok, p) {
				sc.add(AWSKey, s, e, 0.97, "aws-access-key")
				return
			}
		}
	}
	ctx := hasCue(sc.before(s, 40), secretCues)
	if len(tok) == 40 && ctx && hasCue(sc.before(s, 48), []string{"aws*", "secret_access_key", "secret access key"}) &&
		inCharset(strings.Map(func(r rune) rune {
			if r == '/' || r == '+' {
				return 'a'
			}
			return r
		}, tok), csAlnum) {
		sc.add(AWSKey, s, e, 0.95, "aws-secret-key")
		return
	}
	if conf := entropyConfidence(tok, ctx); conf > 0 {
		sc.add(Secret, s, e, conf, "entropy")
	}
}

// isJWT decodes a compact JWS/JWE: three (or five) base64url segments whose
// header is a JSON object naming "alg" and whose payload (for JWS) is a
// JSON object.
func isJWT(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 && len(parts) != 5 {
		return false
	}
	dec := func(s string) ([]byte, bool) {
		s = strings.TrimRight(s, "=")
		b, err := base64.RawURLEncoding.DecodeString(s)
		return b, err == nil
	}
	h, ok := dec(parts[0])
	if !ok {
		return false
	}
	var hdr map[string]any
	if json.Unmarshal(h, &hdr) != nil {
		return false
	}
	if _, ok := hdr["alg"]; !ok {
		return false
	}
	if len(parts) == 5 {
		return true // JWE: the payload is encrypted
	}
	p, ok := dec(parts[1])
	if !ok {
		return false
	}
	var payload map[string]any
	return json.Unmarshal(p, &payload) == nil
}

// entropyConfidence scores a token as a generic secret by its character
// mix and Shannon entropy; 0 means not a secret.
func entropyConfidence(tok string, ctx bool) float64 {
	n := len(tok)
	if n < 20 || n > 1000 {
		return 0
	}
	var upper, lower, digit, dots, slashes int
	for i := 0; i < n; i++ {
		c := tok[i]
		switch {
		case isUpper(c):
			upper++
		case isLowerc(c):
			lower++
		case isDigit(c):
			digit++
		case c == '.':
			dots++
		case c == '/':
			slashes++
		}
	}
	if digit == 0 || upper+lower == 0 || dots >= 2 || tok[0] == '/' || strings.Contains(tok, "//") {
		return 0
	}
	classes := boolInt(upper > 0) + boolInt(lower > 0) + boolInt(digit > 0)
	hexOnly := inCharset(strings.ToLower(tok), csHex)
	if hexOnly || isUUID(tok) {
		if !ctx {
			return 0
		}
		return 0.75
	}
	h := entropy(tok)
	need := 3.9
	switch {
	case n >= 40:
		need = 4.4
	case n >= 24:
		need = 4.1
	}
	if h < need || (classes < 3 && !(n >= 32 && h >= 4.4)) {
		if ctx && h >= need-0.4 && classes >= 2 {
			return 0.7
		}
		return 0
	}
	if ctx {
		return 0.9
	}
	return 0.7
}

func entropy(s string) float64 {
	var counts [256]uint16
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// detectBearer finds "Bearer <token>" and "Basic <base64 user:pass>".
func detectBearer(sc *scan) {
	for _, kw := range []string{"bearer ", "basic "} {
		from := 0
		for {
			k := bytes.Index(sc.lower[from:], []byte(kw))
			if k < 0 {
				break
			}
			k += from
			from = k + len(kw)
			if k > 0 && isWordByte(sc.lower[k-1]) {
				continue
			}
			s := from
			for s < len(sc.text) && sc.text[s] == ' ' {
				s++
			}
			e := s
			for e < len(sc.text) && e-s < 4096 && (isAlnum(sc.text[e]) || strings.IndexByte("-._~+/=", sc.text[e]) >= 0) {
				e++
			}
			if sc.open(k, e) {
				continue
			}
			tok := sc.text[s:e]
			switch {
			case kw == "bearer " && len(tok) >= 16:
				sc.add(BearerToken, s, e, 0.95, "bearer")
			case kw == "basic " && len(tok) >= 8 && hasCue(sc.before(k, 24), []string{"authorization*"}):
				if b, err := base64.StdEncoding.DecodeString(tok); err == nil && bytes.IndexByte(b, ':') > 0 {
					sc.add(BearerToken, s, e, 0.92, "basic-auth")
				}
			}
		}
	}
}

// labelNames maps the last segment of an identifier (after '_' or '-') to
// 1 for password-like labels and 2 for key- and token-like ones.
var labelNames = map[string]int{"password": 1, "passwd": 1, "pwd": 1, "pass": 1, "passphrase": 1, "passwort": 1,
	"kennwort": 1, "pin": 1, "secret": 2, "token": 2, "key": 2, "apikey": 2, "credential": 2, "credentials": 2, "auth": 2}

// labelSuffixes are key-like endings of identifiers without a separator
// ("authtoken", "clientsecret").
var labelSuffixes = [][]byte{[]byte("token"), []byte("secret"), []byte("apikey"), []byte("password")}

// labelKind classifies a lower-cased identifier: 1 password-like, 2 key-
// or token-like, 0 neither.
func labelKind(id []byte) int {
	k := bytes.LastIndexAny(id, "_-")
	if kind := labelNames[string(id[k+1:])]; kind > 0 {
		return kind
	}
	for i, suf := range labelSuffixes {
		if bytes.HasSuffix(id, suf) {
			if i == 3 {
				return 1
			}
			return 2
		}
	}
	return 0
}

var (
	notSecrets = map[string]bool{"required": true, "optional": true, "none": true, "null": true, "nil": true,
		"true": true, "false": true, "string": true, "your": true, "the": true, "a": true, "an": true,
		"is": true, "was": true, "not": true, "empty": true, "redacted": true, "hidden": true, "secret": true,
		"password": true, "undefined": true, "example": true}
)

// detectLabelled finds values assigned to password-, secret-, token- or
// key-named identifiers: `password: hunter2`, `API_KEY="..."`,
// `db_password = 'x'`, "my password is hunter2!".
func detectLabelled(sc *scan) {
	t, lw := sc.text, sc.lower
	for i := 0; i < len(t); i++ {
		if !isAlpha(t[i]) || (i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_' || t[i-1] == '-')) {
			continue
		}
		j := i
		for j < len(t) && (isAlnum(t[j]) || t[j] == '_' || t[j] == '-') && j-i < 64 {
			j++
		}
		kind := labelKind(lw[i:j])
		if kind == 0 {
			i = j - 1
			continue
		}
		// Separator: quotes and blanks around ':' / '=' / '=>' or " is ".
		k := j
		for k < len(t) && (t[k] == '"' || t[k] == '\'') && k-j < 1 {
			k++
		}
		for k < len(t) && t[k] == ' ' && k-j < 4 {
			k++
		}
		isForm := false
		switch {
		case k < len(t) && (t[k] == ':' || t[k] == '='):
			k++
			if k < len(t) && t[k] == '>' {
				k++
			}
		case k+3 <= len(t) && (string(lw[k:k+3]) == "is " || k+4 <= len(t) && string(lw[k:k+4]) == "ist "):
			isForm = true
			k += 3
			if lw[k-1] != ' ' {
				k++
			}
		default:
			i = j - 1
			continue
		}
		for k < len(t) && t[k] == ' ' && k-j < 12 {
			k++
		}
		quote := byte(0)
		if k < len(t) && (t[k] == '"' || t[k] == '\'' || t[k] == '`') {
			quote = t[k]
			k++
		}
		v := k
		for v < len(t) && v-k < 200 && !isBlank(t[v]) && t[v] != quote && (quote != 0 || strings.IndexByte(",;)\"'`", t[v]) < 0) {
			v++
		}
		for v > k && quote == 0 && strings.IndexByte(".!?", t[v-1]) >= 0 && isForm {
			v--
		}
		if sc.open(i, v) {
			i = j - 1
			continue
		}
		val := t[k:v]
		if len(val) < 4 || notSecrets[strings.ToLower(val)] || strings.ContainsAny(val[:1], "$<{[(*%") {
			i = j - 1
			continue
		}
		mixed := secretish(val)
		switch {
		case kind == 1 && (!isForm || mixed):
			sc.add(Secret, k, v, 0.85, "labelled-password")
		case kind == 2 && len(val) >= 12 && mixed:
			sc.add(Secret, k, v, 0.8, "labelled-secret")
		}
		i = v - 1
		if i < j-1 {
			i = j - 1
		}
	}
}

// secretish reports a value that mixes character classes (digits with
// letters, or symbols), unlike a plain word.
func secretish(v string) bool {
	var letters, digits, other int
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case isAlpha(c):
			letters++
		case isDigit(c):
			digits++
		default:
			other++
		}
	}
	return (letters > 0 && digits > 0) || other > 0 || (digits >= 6)
}

// detectURLCredentials finds the user:password part of scheme://user:pass@host.
func detectURLCredentials(sc *scan) {
	t := sc.text
	from := 0
	for {
		k := strings.Index(t[from:], "://")
		if k < 0 {
			return
		}
		k += from
		from = k + 3
		s := from
		e := s
		colon := -1
		for e < len(t) && e-s < 256 && !isBlank(t[e]) && t[e] != '/' && t[e] != '@' {
			if t[e] == ':' && colon < 0 {
				colon = e
			}
			e++
		}
		if sc.open(k, e) {
			return
		}
		if e < len(t) && t[e] == '@' && colon > s && colon+1 < e {
			sc.add(Secret, s, e, 0.98, "url-credentials")
		}
	}
}

// detectPrivateKeys finds PEM private-key blocks, PGP private key blocks
// and PuTTY key files. An unterminated block runs to the end of the text.
func detectPrivateKeys(sc *scan) {
	t := sc.text
	from := 0
	for from < len(t) {
		k := strings.Index(t[from:], "-----BEGIN ")
		pk := strings.Index(t[from:], "PuTTY-User-Key-File-")
		if k < 0 && pk < 0 {
			return
		}
		if k < 0 || (pk >= 0 && pk < k) {
			s := from + pk
			e := strings.Index(t[s:], "Private-MAC:")
			if e < 0 {
				sc.pend(s)
				if sc.final {
					sc.add(PrivateKey, s, len(t), 0.9, "putty-key")
				}
				return
			}
			e = s + e
			for e < len(t) && t[e] != '\n' {
				e++
			}
			sc.add(PrivateKey, s, e, 0.99, "putty-key")
			from = e
			continue
		}
		s := from + k
		hdrEnd := strings.Index(t[s+11:min(len(t), s+11+64)], "-----")
		if hdrEnd < 0 {
			if len(t)-s < 11+64 {
				sc.pend(s) // the header may still be arriving
			}
			from = s + 11
			continue
		}
		label := t[s+11 : s+11+hdrEnd]
		if !strings.Contains(label, "PRIVATE KEY") {
			from = s + 11 + hdrEnd
			continue
		}
		endMark := "-----END " + label + "-----"
		e := strings.Index(t[s:], endMark)
		if e < 0 {
			sc.pend(s)
			if sc.final {
				sc.add(PrivateKey, s, len(t), 0.9, "pem-private-key")
			}
			return
		}
		e = s + e + len(endMark)
		sc.add(PrivateKey, s, e, 0.99, "pem-private-key")
		from = e
	}
}
