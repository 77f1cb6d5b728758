package guard

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Injection signals. Each signal is a number in [0,1]; the combiner in
// injection.go weighs them together with the learned model.

// Signal indices. The order is part of the embedded model format.
const (
	sigOverride   = iota // "ignore all previous instructions", in several languages
	sigNewTask           // "from now on", "your new task is"
	sigRoleplay          // "act as", "pretend you are", "stay in character"
	sigJailbreak         // DAN, developer mode, "no restrictions"
	sigExfil             // "show your system prompt", "what was written above"
	sigDelimiter         // fake roles and delimiters: <|im_start|>, ### system:, </s>
	sigForcing           // "just say X", "answer every question with"
	sigContext           // "not by the articles", "ignore the documents"
	sigObfuscated        // zero-width, bidi, tag characters, homoglyphs, encoded payloads
	sigShouting          // a run of ALL-CAPS words inside ordinary text
	sigMixedLang         // English and German function words in one prompt
	sigSymbols           // unusual share of symbols / escaped newlines
	numSignals
)

var signalNames = [numSignals]string{"override", "new_task", "roleplay", "jailbreak", "exfiltration", "delimiter",
	"forcing", "context_manipulation", "obfuscation", "shouting", "mixed_language", "symbols"}

// patternSource is the phrase-pattern table. Each line is
// "category: pattern". A pattern is slots separated by spaces; a slot lists
// alternatives with '|'; a trailing '*' matches a word prefix; "~N" allows
// up to N other words before the next slot; "^" matches a sentence start;
// '_' joins the words of a multi-word alternative. A category written
// "!category" marks a strong pattern, counted twice.
// Words are lower-cased and folded; apostrophes are dropped.
const patternSource = `
!override: ignore|disregard|forget|skip|drop|abandon|override|overwrite|bypass|neglect|dismiss|erase|cancel|discard|ditch ~3 previous|prior|above|earlier|preceding|past|initial|original|all|any|every|your|these|those|the|system|safety|privacy|default ~2 instruction*|rule*|prompt*|direction*|guideline*|order*|task*|assignment*|command*|context|information|constraint*|restriction*|polic*|programming|training|filter*|conversation|discussion|directive*|setting*
override: ignore|disregard|forget ~1 everything|anything|all
override: set_aside|put_aside|throw_out|scrap|leave_behind|drop ~3 guidance|instructions|directions|rules|guidelines|directives|briefing|programming
override: forget ~2 that_you_are|you_are|youre ~3 ai|assistant|model|chatbot|bot|language_model
override: ignore|disregard|forget ~2 above|before|earlier|previously
override: forget|forgot|ignore ~2 what|everything ~2 said|told|know|learned|wrote
override: forgot|forgotten ~1 everything|all ~2 instruction*|before|previous
jailbreak: amnesia|memory_wipe
override: do_not|dont|never ~1 follow|obey|listen_to ~2 your|the|previous|any|these|system ~1 instruction*|rule*|prompt*|guideline*
override: remove|clear|delete|wipe ~2 all|previous|prior ~2 task*|instruction*|information ~3 head|memory|mind
override: leave ~2 all ~2 previous|prior ~1 information|instruction*|task* ~1 behind
!override: your|previous|prior|all|these|the|earlier|old ~1 instruction*|rules|guidelines|restrictions|directive*|polic* ~3 cancelled|canceled|void|revoked|overridden|irrelevant|obsolete|lifted|suspended|disabled|removed|deleted|no_longer|outdated
override: change|changed ~1 your ~1 instruction*|rule*|programming
override: vergiss|vergesse|vergessen|ignoriere|ignorieren|ignorier|missachte|missachten|übergehe|verwirf|vergiß ~4 alle|alles|vorherige*|bisherige*|obige*|vorangegangene*|vorangehende*|davor|zuvor|instruktion*|anweisung*|befehl*|aufgabe*|aufträge|auftrag|informationen|angaben|gesagte*|gesagt|ausführungen|regeln|richtlinien|vorhin
override: höre|hör ~1 nicht ~2 auf ~2 alles|zuvor|vorher
override: abweichend ~2 vorherigen|bisherigen|obigen
override: alle ~3 informationen|anweisungen|instruktionen ~4 irrelevant|unwichtig|ungültig|nicht
override: olvida|olvide|olvidar|olvidate|olvidá|ignora|ignorar|omite ~3 todo|todas|todos|instrucciones|anterior*|lo_dicho
override: oubliez|oublie|oublier|ignorez|ignorer ~3 toutes|tout|tous|instructions|précédent*|consignes
override: ignora|dimentica|dimenticate|ignorate ~3 tutte|tutto|istruzioni|precedenti
override: esqueça|esqueca|esquece ~3 todas|tudo|instruções|instrucoes|anteriores
override: vergeet|negeer ~3 alle|alles|instructies|vorige|eerdere
override: забудьте|забудь|игнорируй|игнорируйте|забыть|проигнорируй ~3 все|всё|инструкции|предыдущие|указания
override: zaboravi|zaboravite|ignoriraj|ignorirajte ~3 sve|instrukcije|upute
override: unut|görmezden ~3 tüm|talimatları|önceki
new_task: from_now_on|from_this_point|starting_now|henceforth|starting_from_now|from_here_on
new_task: your_new|the_new|next ~1 task*|assignment*|instruction*|mission|objective|role
new_task: now|here ~3 new|further|more|different ~1 task*|instruction*|assignment*|challenge ~1 follow*|come*|is|are
new_task: new ~1 instruction*|task*|assignment*|rule*|directive* ~1 follow*|now
new_task: ^ new|additional|further ~1 instruction*|statement|task*|command|directive*
new_task: ab_jetzt|ab_sofort|von_nun_an|von_jetzt_an
new_task: nun|jetzt ~3 neue|weitere|folgende ~1 aufgabe*|anweisung*|aufträge|instruktion*
new_task: deine|ihre ~1 neue ~1 aufgabe|anweisung|rolle
new_task: we ~2 start ~2 over|new_task|from_scratch|afresh
roleplay: ^ act|acting ~1 as|like ~1 a|an|my|the|if
roleplay: ^ please|now|just ~1 act ~1 as|like
roleplay: i_want|i_need|i_would_like ~1 you_to ~1 act|be|pretend|roleplay|play|imagine|behave|respond_as|become|simulate
roleplay: pretend|imagine ~2 you|youre ~1 are|were|can|have|re
roleplay: pretend ~1 to_be|that_you
roleplay: you_are_now|youre_now|you_are_no_longer|now_you_are|now_youre|you_will_now|you_must_now|you_shall_now
roleplay: roleplay|role_play|rollenspiel ~4 you_are|youre|as_a|as_an|where_you|in_which_you|you_will_be|you_play
roleplay: play_the_role|in_character|stay_in_character|break_character|breaking_character|out_of_character|remain_in_their_roles|stay_in_their_roles|stay_fully_in_their_roles|never_break|absorbed_in_your_role
roleplay: stell_dir_vor ~1 du_bist|du_wärst|du_waerst
roleplay: du_bist_jetzt|jetzt_bist_du|nun_bist_du|du_bist_nun|tu_so_als|tue_so_als|verhalte_dich_wie|spiele_die_rolle|schlüpfe_in_die_rolle
roleplay: dass_sie_als|dass_du_als ~4 agieren|fungieren|auftreten|handeln
roleplay: fungiere|agiere|agieren_sie|fungieren_sie ~1 als
roleplay: ^ you_are|youre ~1 the|an|a ~3 bot|ai|assistant|guide|gpt|monster|model|version
!jailbreak: dan|stan|betterdan|antigpt|ucar|dude_mode
jailbreak: you|your|yourself|were ~3 jailbroken|jailbreak*
jailbreak: jailbreak*|jailbroken ~3 you|your|yourself|mode|enabled|prompt|version
!jailbreak: do_anything_now
jailbreak: developer|dev|god|sudo|debug|admin|maintenance|unrestricted|opposite|evil|chaos ~1 mode ~1 enabled|activated|engaged|output|response*
jailbreak: you ~3 developer|god|sudo|evil|unrestricted|opposite ~1 mode
jailbreak: enable|enter|activate|switch_to ~1 sudo|god|jailbreak|unrestricted|dan|evil|opposite ~1 mode
jailbreak: comply_with|obey ~1 anything|everything|any_request|all_requests|every_request
jailbreak: you ~2 have ~1 no ~2 rules|restrictions|limits|limitations|guidelines|filters|boundaries|morals|ethics
jailbreak: must_now_obey|obey_only_me|only_obey_me|obey_only_the_user
jailbreak: unfiltered|uncensored|unrestricted|unbound|amoral|immoral|unethical|unhinged ~2 ai|assistant|bot|model|response*|answer*|version|character|mode|and
jailbreak: no|without|free_of|free_from|not_bound_by|not_restricted_by|beyond ~2 ethical|moral|any|the|all ~1 restrictions|limitations|filters|censorship|guidelines|ethics|morals|morality|boundaries|constraints|policies|content_policy|rules
jailbreak: no|zero|without|free_of|free_from|not_bound_by ~1 restrictions|filters|censorship|ethics|morals|morality|content_policy|programming_guidelines|limitations|limits|rules|boundaries
jailbreak: rules|restrictions|guidelines|limits|filters|policies ~1 dont|do_not|no_longer|doesnt|does_not ~1 exist|apply|matter|count
jailbreak: keine|ohne ~2 regeln|einschränkungen|grenzen|filter|richtlinien|zensur|beschränkungen
jailbreak: obey ~1 me|only_me ~3 not|instead|rather
jailbreak: not_your|instead_of_your ~1 creators|developers|makers|programmers|owners
jailbreak: ignore|bypass|break|violate ~3 openai|anthropic|content|safety|ethical ~1 polic*|guideline*|rules|filter*|restriction*
jailbreak: evil|malicious|rogue ~1 ai|assistant|bot|confidant|twin|version
jailbreak: hypothetical|theoretical|fictional|imaginary ~1 world|scenario|universe|setting ~5 you|where|in_which
jailbreak: two ~1 response*|answers|entities|personalities
jailbreak: stay|remain ~1 in ~1 character|role
jailbreak: completely ~1 immoral|amoral|unfiltered|unrestricted
jailbreak: grandma|grandmother ~6 used_to
jailbreak: token* ~3 lose|deducted
jailbreak: you_are|youre ~2 no|not ~2 newspaper|editorial|redaktion|chatbot|language_model
jailbreak: du_bist_keine|du_bist_kein ~2 redaktion|assistent|ki|chatbot
!exfil: show|print|reveal|repeat|output|display|tell|give|return|leak|dump|copy|spell|recite|list|disclose|expose|share|write|type|provide|quote ~4 your|initial|original|hidden|secret|system|the_system|the_initial|the_hidden|the_original|the_full_system|the_secret|all_your|the_above|the_previous|the_full ~3 prompt*|instruction*|embedding*|configuration|rules|guidelines|directive*|system_message|pre_prompt|preprompt|setup|orders
!exfil: reveal|leak|dump|disclose|expose|exfiltrate ~4 secret*|password*|confidential|credential*|keys|api_key*|token*|data
exfil: first|last ~2 words|lines|sentences|characters|paragraph ~2 of ~1 your|the|this ~1 prompt*|instruction*|conversation|message
exfil: instruction*|prompt*|rules ~1 you ~1 received|were_given|got|have|were_told
exfil: what ~1 instruction*|rules|directives|prompt ~1 were|have|did ~1 you ~1 given|received|get|told
exfil: prompt*|instruction*|rules ~4 developers|creators|openai|admin|administrator|operator ~2 wrote|gave|set|programmed|written
exfil: everything|all|text|words ~3 came|written|said|appears ~1 before|above
exfil: anfang ~2 dieses|des|deines ~1 prompts|textes|gesprächs|prompt
exfil: gib|gebe ~3 gesamten|ganzen|vollständigen ~1 text|prompt
!exfil: deine|ihre ~1 ursprünglichen|anfänglichen|ersten|versteckten|geheimen ~1 instruktionen|anweisungen|prompt*|regeln
exfil: your|the ~1 hidden|secret|initial|original|starting|pre ~1 prompt*|instruction*|directive*
exfil: prompt_text*|prompttext*|prompt_texte*
exfil: your|deinen|dein|ihren|ihr ~1 system_prompt|systemprompt|system_message|systemnachricht|hidden_prompt|prompt|context_window|initial_instructions|original_instructions|hidden_instructions|hidden_rules
exfil: what ~2 you ~1 told|instructed|given|programmed ~4 before|start|beginning|first
exfil: canary|secret_marker|secret_token ~3 prompt|instructions|print|reveal|show|is
!exfil: what ~3 your ~2 instruction*|prompt*|rules|directive*|guidelines|orders|programming
exfil: what ~1 was|is|were ~1 written|said|stated ~3 above|before|beginning|start|earlier
exfil: beginning|start|top ~2 of ~2 this|the|your ~1 prompt|conversation|chat|instructions
exfil: spell ~1 check|checking ~6 above|prompt|text|everything
exfil: repeat ~3 words|text|everything|all ~2 above|before
exfil: text|words|sentences ~3 above|before ~2 this|the
exfil: rechtschreib* ~6 obig*|eingabeaufforderung|prompt|text
exfil: zeig*|gib|drucke ~4 prompt*|anweisung*|instruktion*|eingabeaufforderung
exfil: was ~2 steht|stand ~3 oben|anfang|davor
exfil: obige ~1 eingabeaufforderung|anweisung*
forcing: just|only|simply ~1 say|output|print|write|respond|reply|answer ~1 with|that|yes|no|the
forcing: repeat_after_me
forcing: respond|answer|reply ~2 every|all|each|any ~1 question*|prompt*|message* ~1 with
forcing: say|state|write|print ~1 that ~1 you ~1 hate|love|are|think
forcing: include ~2 that_you
forcing: instead ~4 say|print|output|write|tell|respond|answer
forcing: say|sage|sag|di|dites|dices|dis ~1 yes|ja|sí|si|oui|only|nur|solo|seulement
forcing: do_not|dont ~2 answer ~3 question ~3 but|instead|just
forcing: antworte ~2 mit|nur
forcing: schreibe|schreib ~1 nur
context: not ~2 by|from|according_to|based_on ~2 the|provided|given ~1 article*|document*|context|source*|artikel*|dokument*
context: own_knowledge|eigenen_wissen
context: regardless|irrespective ~2 of ~2 the ~1 article*|document*|context|source*
context: disregard*|ignore|ignoring ~2 all|any|every ~1 article*|document*|sources|artikel*|dokument*
context: disregard*|ignore|ignoring ~2 provided|given|retrieved|supplied|attached ~1 article*|document*|context|sources
context: disregarding ~1 the ~1 article*|document*
!context: ignore|disregard|ignoring ~1 the_context|the_documents|the_articles|the_sources|the_provided|the_retrieved|the_given
context: do_not|dont ~1 look|use|rely ~3 document*|article*|context|sources
context: use ~2 also ~2 information ~2 in_the_prompt
context: information_in_the_prompt
context: there_is_no_relevant_answer|not_supposed_to_tell_me
context: antwort_steht_nicht_in_den_artikeln
context: document_context|context|kontext|artikel ~4 frage|question
`

type slot struct {
	words    map[string]bool // one-word alternatives
	prefixes []string        // one-word prefix alternatives
	phrases  [][]string      // multi-word alternatives; a word ending in '*' is a prefix
	gap      int             // words allowed before this slot
	anchor   bool
}

type phrasePattern struct {
	cat    int
	weight int // matches counted per occurrence: 2 for strong ("!") patterns
	slots  []slot
}

// match returns how many words of ws starting at k the slot matches (0
// when it does not).
func (s *slot) match(ws []string, k int) int {
	w := ws[k]
	if s.anchor {
		return boolInt(w == "^")
	}
	if s.words[w] {
		return 1
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(w, p) {
			return 1
		}
	}
phrases:
	for _, ph := range s.phrases {
		if k+len(ph) > len(ws) {
			continue
		}
		for i, pw := range ph {
			if p, ok := strings.CutSuffix(pw, "*"); ok {
				if !strings.HasPrefix(ws[k+i], p) {
					continue phrases
				}
			} else if ws[k+i] != pw {
				continue phrases
			}
		}
		return len(ph)
	}
	return 0
}

type patternSet struct {
	byFirst  map[string][]int // first-slot word → pattern indices
	byByte   [256][]int       // first byte of a first-slot prefix → pattern indices
	anyFirst []int            // patterns whose first slot has an empty prefix
	pats     []phrasePattern
}

var categoryIndex = map[string]int{"override": sigOverride, "new_task": sigNewTask, "roleplay": sigRoleplay,
	"jailbreak": sigJailbreak, "exfil": sigExfil, "forcing": sigForcing, "context": sigContext}

// defaultPatterns compiles patternSource once; the result is immutable.
var defaultPatterns = sync.OnceValue(func() *patternSet {
	ps, err := compilePatterns(patternSource)
	if err != nil {
		panic("guard: bad built-in pattern table: " + err.Error()) // a programming error, caught by tests
	}
	return ps
})

func compilePatterns(src string) (*patternSet, error) {
	ps := &patternSet{byFirst: map[string][]int{}}
	for line := range strings.Lines(src) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cat, body, ok := strings.Cut(line, ":")
		weight := 1
		if c, strong := strings.CutPrefix(cat, "!"); strong {
			cat, weight = c, 2
		}
		ci, known := categoryIndex[cat]
		if !ok || !known {
			return nil, fmt.Errorf("pattern line %q: unknown category", line)
		}
		var p phrasePattern
		p.cat = ci
		p.weight = weight
		gap := 0
		for _, f := range strings.Fields(body) {
			if strings.HasPrefix(f, "~") {
				n := 0
				for _, c := range f[1:] {
					n = n*10 + int(c-'0')
				}
				gap = n
				continue
			}
			p.slots = append(p.slots, makeSlot(f, gap))
			gap = 0
		}
		ps.pats = append(ps.pats, p)
	}
	for i, p := range ps.pats {
		first := p.slots[0]
		if first.anchor {
			ps.byFirst["^"] = append(ps.byFirst["^"], i)
			continue
		}
		for w := range first.words {
			ps.byFirst[w] = append(ps.byFirst[w], i)
		}
		firstBytes := map[byte]bool{}
		for _, ph := range first.phrases {
			if p, ok := strings.CutSuffix(ph[0], "*"); !ok {
				ps.byFirst[ph[0]] = append(ps.byFirst[ph[0]], i)
			} else if p == "" {
				ps.anyFirst = append(ps.anyFirst, i)
			} else {
				firstBytes[p[0]] = true
			}
		}
		for _, p := range first.prefixes {
			if p == "" {
				ps.anyFirst = append(ps.anyFirst, i)
			} else {
				firstBytes[p[0]] = true
			}
		}
		for b := range firstBytes {
			ps.byByte[b] = append(ps.byByte[b], i)
		}
	}
	return ps, nil
}

func makeSlot(f string, gap int) slot {
	s := slot{words: map[string]bool{}, gap: gap}
	if f == "^" {
		s.anchor = true
		return s
	}
	for _, alt := range strings.Split(f, "|") {
		alt = strings.ReplaceAll(alt, "'", "")
		if strings.Contains(alt, "_") {
			s.phrases = append(s.phrases, strings.Split(alt, "_"))
		} else if strings.HasSuffix(alt, "*") {
			s.prefixes = append(s.prefixes, strings.TrimSuffix(alt, "*"))
		} else if alt != "" {
			s.words[alt] = true
		}
	}
	return s
}

// matchAt reports whether pattern p matches the words starting at i, each
// slot taken at its earliest position within its gap.
func (p *phrasePattern) matchAt(ws []string, i int) bool {
	n := p.slots[0].match(ws, i)
	if n == 0 {
		return false
	}
	j := i + n
	for si := 1; si < len(p.slots); si++ {
		s := &p.slots[si]
		found := false
		skipped := 0
		for k := j; k < len(ws) && skipped <= s.gap; k++ {
			if m := s.match(ws, k); m > 0 {
				j = k + m
				found = true
				break
			}
			if ws[k] != "^" { // a sentence break does not count as a word
				skipped++
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// count adds, per category, the number of pattern matches in ws.
func (ps *patternSet) count(ws []string, counts *[numSignals]int) {
	for i, w := range ws {
		if w == "" {
			continue
		}
		exact := ps.byFirst[w]
		for _, pi := range exact {
			if p := &ps.pats[pi]; p.matchAt(ws, i) {
				counts[p.cat] += p.weight
			}
		}
		for _, list := range [2][]int{ps.byByte[w[0]], ps.anyFirst} {
			for _, pi := range list {
				p := &ps.pats[pi]
				if !slices.Contains(exact, pi) && p.matchAt(ws, i) {
					counts[p.cat] += p.weight
				}
			}
		}
	}
}

// Raw-text markers of fake roles and delimiters, lower-case.
var delimiterMarkers = []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|system|>", "<|user|>",
	"<|assistant|>", "</s>", "<s>", "[inst]", "[/inst]", "<<sys>>", "<</sys>>", "### system", "### instruction",
	"### human", "### assistant", "```system", "[system]", "(system)", "======end", "end of prompt", "end of input",
	"<system>", "</system>", "{\"role\": \"system\"", "{\"role\":\"system\"", "[/end]", "-- end --", "</instructions>",
	"<instructions>", "begin new instructions", "<!-- ", "\\n\\n"}

var (
	roleLabels      = []string{"system:", "assistant:", "human:", "user:", "ai:", "bot:", "chatgpt:", "gpt:"}
	roleLabelsInner = []string{". system:", ". assistant:", ". human:", ". user:", ". ai:", ". bot:", ". chatgpt:", ". gpt:"}
)

// German and English function words, for the mixed-language signal.
var (
	deWords = map[string]bool{"der": true, "die": true, "das": true, "und": true, "ist": true, "nicht": true, "ich": true,
		"sie": true, "wie": true, "was": true, "mit": true, "für": true, "auf": true, "ein": true, "eine": true,
		"den": true, "dem": true, "zu": true, "von": true, "es": true, "sind": true, "wir": true, "du": true, "bitte": true}
	enWords = map[string]bool{"the": true, "and": true, "is": true, "not": true, "you": true, "what": true, "how": true,
		"with": true, "for": true, "are": true, "this": true, "that": true, "of": true, "to": true, "your": true,
		"please": true, "do": true, "can": true, "it": true}
)

// signalScratch holds per-call buffers.
type signalScratch struct {
	norm  []byte
	words []string
	alt   []string
}

var signalPool = sync.Pool{New: func() any { return new(signalScratch) }}

// computeSignals returns the signal vector for text.
func computeSignals(text string, ps *patternSet) [numSignals]float64 {
	sc := signalPool.Get().(*signalScratch)
	defer signalPool.Put(sc)
	norm, st := normalize(sc.norm, text)
	sc.norm = norm
	ns := string(norm)
	sc.words = tokenizeLower(sc.words[:0], ns)
	return signalsOf(text, ns, st, sc.words, ps, sc)
}

// signalsOf computes the signals from text, its normalization and words.
func signalsOf(text, norm string, st normStats, words []string, ps *patternSet, sc *signalScratch) [numSignals]float64 {
	var counts [numSignals]int
	var obf float64
	ps.count(words, &counts)

	// Leetspeak, misspelt keywords and ROT13 variants: patterns that match
	// only after decoding count, and count as obfuscation.
	sc.alt = sc.alt[:0]
	changed := false
	for _, w := range words {
		if d, ok := deleet(w); ok {
			w, changed = d, true
		}
		if k, ok := nearKeyword(w); ok {
			w, changed = k, true
		}
		sc.alt = append(sc.alt, w)
	}
	if changed {
		var c2 [numSignals]int
		ps.count(sc.alt, &c2)
		for i := range c2 {
			if c2[i] > counts[i] {
				obf += float64(c2[i] - counts[i])
				counts[i] = c2[i]
			}
		}
	}
	// ROT13: only when the rotated words look more like language than
	// the words themselves (a cheap test that spares ordinary text the
	// extra pass).
	if looksRot13(words) {
		sc.alt = sc.alt[:0]
		for _, w := range words {
			sc.alt = append(sc.alt, rot13(w))
		}
		var c3 [numSignals]int
		ps.count(sc.alt, &c3)
		for i := range c3 {
			if c3[i] > 0 && (i == sigOverride || i == sigExfil || i == sigJailbreak || i == sigNewTask) {
				obf += float64(c3[i])
				counts[i] += c3[i]
			}
		}
	}

	// Encoded payloads: decode base64 and hex runs and scan them too.
	for _, payload := range encodedPayloads(text) {
		w2 := tokenizeLower(nil, strings.ToLower(payload))
		var c4 [numSignals]int
		ps.count(w2, &c4)
		for i := range c4 {
			if c4[i] > 0 {
				obf += float64(c4[i])
				counts[i] += c4[i]
			}
		}
	}

	// Invisible characters and look-alikes.
	if st.zeroWidth > 0 {
		obf += 1 + float64(min(st.zeroWidth, 20))/10
	}
	if st.bidi > 0 {
		obf += 1
	}
	if st.tags > 0 {
		obf += 2
	}
	if st.homoglyphs > 0 {
		obf += 1
	}
	obf += float64(spacedLetters(words)) // "S a y t h a t"

	lower := norm
	for _, m := range delimiterMarkers {
		if strings.Contains(lower, m) {
			counts[sigDelimiter]++
		}
	}
	for line := range strings.Lines(lower) {
		line = strings.TrimLeft(line, " \t>#*-")
		for k, l := range roleLabels {
			if strings.HasPrefix(line, l) {
				counts[sigDelimiter]++
			}
			if strings.Contains(line, roleLabelsInner[k]) {
				counts[sigDelimiter]++
			}
		}
	}

	var sig [numSignals]float64
	for i, c := range counts {
		sig[i] = saturate(float64(c))
	}
	sig[sigObfuscated] = saturate(obf)
	sig[sigShouting] = shouting(text)
	sig[sigMixedLang] = mixedLanguage(words)
	sig[sigSymbols] = symbolShare(text)
	return sig
}

// saturate maps a count to [0,1): 1 → 0.5, 2 → 0.75, ...
func saturate(c float64) float64 {
	if c <= 0 {
		return 0
	}
	v := 1.0
	for i := 0; i < int(min(c, 8)); i++ {
		v /= 2
	}
	return 1 - v
}

// spacedLetters counts runs of six or more single-letter words
// ("s a y t h a t"), a way to slip words past filters.
func spacedLetters(ws []string) int {
	runs, n := 0, 0
	for _, w := range ws {
		if utf8.RuneCountInString(w) == 1 && w != "^" {
			n++
			continue
		}
		if n >= 6 {
			runs++
		}
		n = 0
	}
	if n >= 6 {
		runs++
	}
	return runs
}

// shouting returns 1 when four or more consecutive words are ALL CAPS
// inside text that is mostly not, 0 otherwise.
func shouting(text string) float64 {
	run, best, words, caps := 0, 0, 0, 0
	for f := range strings.FieldsSeq(text) {
		letters, upper := 0, 0
		for _, r := range f {
			if r < utf8.RuneSelf && isAlpha(byte(r)) {
				letters++
				if isUpper(byte(r)) {
					upper++
				}
			}
		}
		if letters == 0 {
			continue
		}
		words++
		if letters >= 2 && upper == letters {
			caps++
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	if best >= 4 && caps*10 < words*8 {
		return 1
	}
	return 0
}

// mixedLanguage returns 1 when the text uses at least two German and two
// English function words.
func mixedLanguage(ws []string) float64 {
	de, en := 0, 0
	for _, w := range ws {
		if deWords[w] {
			de++
		}
		if enWords[w] {
			en++
		}
	}
	if de >= 2 && en >= 2 {
		return 1
	}
	return 0
}

// symbolShare scores unusual punctuation: escaped newlines, long runs of
// one symbol, or a high share of non-alphanumeric bytes.
func symbolShare(text string) float64 {
	if len(text) == 0 {
		return 0
	}
	sym, run, best := 0, 0, 0
	var last byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < utf8.RuneSelf && !isAlnum(c) && !isBlank(c) {
			sym++
			if c == last {
				run++
				best = max(best, run)
			} else {
				run = 1
			}
		} else {
			run = 0
		}
		last = c
	}
	v := 0.0
	if best >= 6 {
		v += 0.5
	}
	if strings.Count(text, `\n`) >= 2 {
		v += 0.5
	}
	if len(text) >= 20 && float64(sym)/float64(len(text)) > 0.25 {
		v += 0.5
	}
	return min(v, 1)
}

// encodedPayloads decodes base64 and hex runs long enough to hide an
// instruction and returns the ones that decode to mostly printable text.
func encodedPayloads(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		if !isB64(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isB64(text[j]) && j-i < 8192 {
			j++
		}
		run := text[i:j]
		if len(run) >= 16 {
			if p, ok := decodePrintable(run); ok {
				out = append(out, p)
			}
		}
		i = j
		if len(out) >= 8 {
			break
		}
	}
	return out
}

func isB64(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

func decodePrintable(run string) (string, bool) {
	try := func(b []byte, err error) (string, bool) {
		if err != nil || len(b) < 8 {
			return "", false
		}
		printable, letters := 0, 0
		for _, c := range b {
			if (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' {
				printable++
			}
			if isAlpha(c) {
				letters++
			}
		}
		if printable*10 >= len(b)*9 && letters*2 >= len(b) && strings.Contains(string(b), " ") {
			return string(b), true
		}
		return "", false
	}
	if len(run)%2 == 0 && inCharset(strings.ToLower(run), csHex) {
		return try(hex.DecodeString(run))
	}
	r := strings.TrimRight(run, "=")
	if s, ok := try(base64.RawStdEncoding.DecodeString(r)); ok {
		return s, true
	}
	return try(base64.RawURLEncoding.DecodeString(r))
}

// typoKeywords are the words attackers misspell to slip past filters.
var typoKeywords = []string{"ignore", "disregard", "forget", "instructions", "previous", "prompt", "system",
	"everything", "vergiss", "ignoriere", "anweisungen"}

// nearKeyword maps a word within a small edit distance of a keyword (one
// edit for short keywords, two for keywords of six letters or more; same
// first letter) to that keyword.
func nearKeyword(w string) (string, bool) {
	if len(w) < 5 || len(w) > 14 {
		return "", false
	}
	for _, k := range typoKeywords {
		if w == k || w[0] != k[0] {
			continue
		}
		limit := 1
		if len(k) >= 6 {
			limit = 2
		}
		if d := len(w) - len(k); d > limit || -d > limit {
			continue
		}
		if editDistance(w, k, limit) <= limit {
			return k, true
		}
	}
	return "", false
}

// editDistance is the Levenshtein distance of two short ASCII-ish strings,
// or limit+1 once it must exceed limit.
func editDistance(a, b string, limit int) int {
	var prev, cur [16]int
	if len(a) > 15 || len(b) > 15 {
		return limit + 1
	}
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev = cur
	}
	return prev[len(b)]
}

// rot13Common are frequent words of ROT13-encoded English ("the" is
// "gur", "and" is "naq"...), for looksRot13.
var rot13Common = map[string]bool{"gur": true, "naq": true, "lbh": true, "lbhe": true, "gb": true, "bs": true,
	"vf": true, "nyy": true, "vtaber": true, "cerivbhf": true, "vafgehpgvbaf": true, "cebzcg": true, "flfgrz": true,
	"vg": true, "va": true, "sbe": true, "guvf": true, "gung": true, "jvgu": true, "zr": true, "fnl": true}

// looksRot13 reports whether at least two words are common words in ROT13.
func looksRot13(ws []string) bool {
	n := 0
	for _, w := range ws {
		if rot13Common[w] {
			n++
			if n >= 2 {
				return true
			}
		}
	}
	return false
}
