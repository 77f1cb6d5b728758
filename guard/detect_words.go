package guard

import "strings"

// Word-level detectors: person names, postal addresses and dates of birth.
// They share one tokenization of the text (scan.words).

func (sc *scan) tokens() []word {
	if sc.wordsDone {
		return sc.words
	}
	sc.words = tokenize(sc.words[:0], sc.text)
	sc.wordsDone = true
	return sc.words
}

// lowerWord returns the ASCII-lower-cased bytes of w (same offsets as text).
func (sc *scan) lowerWord(w word) string { return string(sc.lower[w.start:w.end]) }

// endsWithCue reports whether window, with trailing blanks removed, ends
// with one of cues, the cue starting at a word boundary.
func endsWithCue(window []byte, cues []string) bool {
	e := len(window)
	for e > 0 && isBlank(window[e-1]) {
		e--
	}
	w := window[:e]
	for _, c := range cues {
		if len(c) <= len(w) && string(w[len(w)-len(c):]) == c {
			i := len(w) - len(c)
			if i == 0 || !isWordByte(w[i-1]) || !isWordByte(c[0]) {
				return true
			}
		}
	}
	return false
}

// ---- person names ------------------------------------------------------

var (
	strongNameCues = []string{"my name is", "name is", "name:", "name :", "name?", "named", "mr", "mr.", "mrs", "mrs.",
		"ms", "ms.", "miss", "dr", "dr.", "prof", "prof.", "herr", "frau", "mein name ist", "ich heiße",
		"ich heisse", "me llamo", "je m'appelle", "mi nombre es", "full name", "name", "surname", "first name",
		"last name", "maiden name is", "called me", "signed,", "signed", "from:", "patient:", "customer:", "employee:"}
	weakNameCues = []string{"i am", "i'm", "this is", "dear", "hi", "hello", "hey", "thanks", "thank you", "regards,",
		"sincerely,", "cheers,", "contact", "ask for", "speak to", "speak with", "talk to", "said", "told", "asked",
		"met", "patient", "customer", "client", "employee", "author", "directed by:", "written by", "starring",
		"under", "commenter", "founders:", "cc:", "to:", "attn:", "attention:", "married", "son", "daughter", "wife",
		"husband", "mother", "father", "brother", "sister", "friend", "colleague", "manager", "boss", "kid", "says",
		"calls me", "call me", "shouted at", "named him", "named her", "directed by",
		"produced by", "assistant to", "tribute to"}
	// orgWords after a capitalized sequence make it an organization.
	orgWords = map[string]bool{"inc": true, "ltd": true, "llc": true, "plc": true, "group": true, "associates": true,
		"solutions": true, "technologies": true, "technology": true, "orchestra": true, "investments": true, "corp": true,
		"corporation": true, "company": true, "co": true, "gmbh": true, "ag": true, "partners": true, "systems": true,
		"labs": true, "bank": true, "university": true, "foundation": true, "institute": true, "agency": true,
		"consulting": true, "services": true, "holdings": true, "media": true, "capital": true, "insurance": true,
		"industries": true, "international": true, "enterprises": true, "ventures": true, "incorporated": true,
		"tv": true, "weekly": true, "times": true, "news": true, "records": true, "band": true, "club": true,
		"pleasures": true, "republic": true, "day": true, "village": true, "city": true, "county": true,
		"study": true, "trial": true, "fund": true, "research": true, "program": true, "programme": true, "project": true,
		"center": true, "centre": true, "council": true, "society": true, "association": true, "network": true,
		"consortium": true, "cohort": true, "registry": true, "survey": true, "initiative": true, "committee": true}
	// eponymWords after a name make it part of the name of a thing: a
	// syndrome, a method, a test ("Treacher Collins syndrome", "Cox
	// regression", "Pearson correlation").
	eponymWords = map[string]bool{"syndrome": true, "disease": true, "disorder": true, "virus": true, "regression": true,
		"model": true, "models": true, "test": true, "tests": true, "equation": true, "effect": true, "law": true,
		"correlation": true, "coefficient": true, "distribution": true, "chain": true, "method": true, "criteria": true,
		"scale": true, "score": true, "index": true, "sign": true, "cell": true, "cells": true, "kinase": true,
		"analysis": true, "plot": true, "curve": true, "rats": true, "mice": true, "strain": true, "procedure": true,
		"operation": true, "classification": true, "staging": true, "algorithm": true, "transform": true}
	// lowerFunction are English words that are also in the name list;
	// lower-case, they never start a name ("per person", "will power").
	lowerFunction = map[string]bool{"per": true, "will": true, "may": true, "can": true, "mark": true, "bill": true,
		"grant": true, "rose": true, "case": true, "see": true, "long": true, "young": true, "said": true, "rich": true}
	nameParticles = map[string]bool{"van": true, "de": true, "von": true, "der": true, "da": true, "di": true, "del": true,
		"la": true, "le": true, "du": true, "dos": true, "das": true, "bin": true, "al": true, "ibn": true, "ter": true,
		"ten": true, "den": true, "y": true, "zu": true}
)

// notNames are capitalized words that start sentences or name things
// other than people; they never begin or extend a name.
var notNames = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`the a an i we you he she it they this that these those my your his her our their
		its is are was were be been do does did what who whom whose when where why how which please thanks thank hello
		hi hey dear yes no not and or but if in on at to for from with by of as so then than there here also all any
		some many much more most very just only can could would should will shall may might must have has had get got
		let make made new old good great best first last next other another each every both few such same own one two
		three four five six seven eight nine ten once after before while since until because although though however
		today tomorrow yesterday now monday tuesday wednesday thursday friday saturday sunday january february march
		april june july august september october november december mr mrs ms dr prof sir madam street road avenue
		lane drive apt suite unit box phone email fax mobile desk office address name date when where who user
		customer client company inc ltd llc gmbh corp co bank university college school hospital church city county
		state country north south east west central united kingdom states america europe asia africa american english
		german french spanish italian chinese russian der die das ich du sie wir ihr er es ein eine und oder aber wie
		was wer wo warum bitte danke ja nein nicht mit von zu auf für fur mein dein sein unser herr frau le la les un
		une et ou de des du el los las y o en con por para god lord jesus christ ok okay hmm note question answer
		context order system assistant human ai gpt chatgpt claude translate write tell show ignore forget stop act
		pretend imagine say print give find look looking help need want like love hate know think i'm i’m i'd i'll
		i've we're we've you're you've you'll he's she's it's that's there's what's who's let's don't can't won't
		abstract background methods results conclusions conclusion objective objectives introduction discussion design
		setting participants interventions measurements findings interpretation funding summary purpose aims`) {
		m[w] = true
	}
	return m
}()

func detectNames(sc *scan) {
	t := sc.text
	ws := sc.tokens()
	names := sc.s.names
	skipTo := -1 // words before this index belong to a firm name
	for k := 0; k < len(ws); k++ {
		w := ws[k]
		if w.kind != wLetters || k < skipTo {
			continue
		}
		// "Marshall, Hernandez and Simpson" names a firm, not three people.
		if e := firmList(sc, ws, k); e > k {
			skipTo = e
			continue
		}
		lw := sc.lowerWord(w)
		if notNames[lw] {
			continue
		}
		f0 := names.lookup(w.text(t))
		if !w.upper && f0&(nFirst|nLast) == 0 {
			continue // only capitalized words and known names can start a name
		}
		if f0&(nFirst|nLast) == 0 && (w.allUpper || camelCaps(w.text(t))) {
			continue // "BACKGROUND Little", "HUepi-LTB": headings and symbols
		}
		if !tokenStart(t, w.start) {
			continue // "APC(Min)", "H2A.Z", "Burrows–Wheeler"
		}
		if w.upper && f0&(nFirst|nLast) == 0 && sentenceStart(t, ws, k) && k+1 < len(ws) && ws[k+1].kind == wLetters &&
			ws[k+1].upper && ws[k+1].start-w.end == 1 && names.lookup(ws[k+1].text(t))&(nFirst|nAmbiguous) == nFirst {
			continue // "Contact Maria Gonzalez": the name starts at Maria
		}
		before := sc.before(w.start, 28)
		cue := 0
		switch {
		case endsWithCue(before, strongNameCues):
			cue = 2
		case endsWithCue(before, weakNameCues):
			cue = 1
		}
		if cue == 2 && endsWithCue(before, titleCues) && (!w.upper || f0&(nFirst|nLast) == 0 && titleAllUpper(t, w.start)) {
			// "200 ms per frame", "MS/MS. Lipid rafts", "MS Diagnosis": a
			// title is written as one before a capitalized name.
			cue = 0
		}
		lowerPair := false
		if !w.upper && f0&nFirst != 0 && f0&nAmbiguous == 0 && !lowerFunction[lw] && k+1 < len(ws) && ws[k+1].kind == wLetters &&
			names.lookup(ws[k+1].text(t))&nLast != 0 && !ws[k+1].upper {
			// "patricia desrosiers": lower-case text, both parts known.
			lowerPair = true
		}
		if !w.upper && !lowerPair && !sc.final && f0&nFirst != 0 && (k+1 == len(ws) || k+2 == len(ws) && ws[k+1].end == len(t)) {
			sc.pend(w.start) // "bo " or "bo o" may become "bo orr"
		}
		if !w.upper && !lowerPair && !(cue == 2 && f0&(nFirst|nLast) != 0) {
			continue
		}
		if cue == 0 && f0&(nFirst|nLast) != 0 && sentenceStart(t, ws, k) && k+1 < len(ws) && ws[k+1].kind == wPunct &&
			t[ws[k+1].start] == ':' && ws[k+1].start == w.end {
			cue = 1 // a speaker label: "Maria: ..."
		}
		// Extend over capitalized words, initials and particles.
		parts, j, end := 0, k, w.end
		var flags []uint8
		var fl [6]uint8
		flags = fl[:0]
		allUpper := true
		for j < len(ws) && parts < 5 {
			x := ws[j]
			if x.kind != wLetters {
				break
			}
			lx := sc.lowerWord(x)
			if j > k && lowerPair && j == k+1 {
				// accepted above
			} else if j > k {
				if nameParticles[lx] && !x.upper && j+1 < len(ws) && ws[j+1].kind == wLetters && ws[j+1].upper {
					j++
					continue
				}
				if !x.upper || notNames[lx] || x.start-ws[j-1].end > 2 || glued(ws, j) || camelCaps(x.text(t)) {
					break
				}
				if between := t[ws[j-1].end:x.start]; strings.ContainsAny(between, "\n,;") {
					break
				}
			}
			fx := names.lookup(x.text(t))
			flags = append(flags, fx)
			allUpper = allUpper && x.allUpper
			parts++
			end = x.end
			j++
			// An initial: one letter, optionally followed by '.'.
			if x.end-x.start == 1 && j < len(ws) && ws[j].kind == wPunct && t[ws[j].start] == '.' && ws[j].start == x.end {
				end = ws[j].end
				j++
			}
		}
		if !sc.final && (sc.open(w.start, end) || j < len(ws) && ws[j].kind == wLetters &&
			(ws[j].end == len(t) || j == len(ws)-1 && nameParticles[sc.lowerWord(ws[j])])) {
			// Still growing, or stopped by the last word of a stream
			// prefix, which may grow into one that extends the name ("Le"
			// ends it, "Lee" would not) or be a particle waiting for the
			// rest ("Gabriel y ").
			sc.pend(w.start)
			k = j - 1
			continue
		}
		// Drop a possessive ending.
		if strings.HasSuffix(t[w.start:end], "'s") || strings.HasSuffix(t[w.start:end], "’s") {
			end -= len("'s")
			if strings.HasSuffix(t[w.start:end+2], "’s") {
				end -= len("’s") - len("'s")
			}
		}
		conf := nameConfidence(cue, flags, allUpper, sentenceStart(t, ws, k))
		if lowerPair {
			conf = 0.75
		}
		if conf == 0 && cue == 0 && len(flags) >= 2 && len(flags) <= 3 && !allUpper && w.upper {
			// Two or three capitalized words none of the name lists know
			// are a person when only a person could do what follows
			// ("Pálmi Einarsson said", "Alex Vik will be talking") or
			// when they head an address block on a line of their own.
			if humanVerbs[wordAt(sc.after(end, 16, w.start))] || sc.nameLineBeforeAddress(ws, k, j) || middleInitial(t, ws, k, j, flags) {
				conf = 0.7
			}
		}
		if conf > 0 && !sc.personContext(ws, k, j, end, cue, flags) {
			conf = 0
		}
		// One word from the name list and nothing else ("Cox regression",
		// "Werner's syndrome", "Markov chain") is not enough: it needs a
		// person around it, or the same name confirmed earlier in the text.
		bare := cue == 0 && len(flags) == 1 && !lowerPair
		if conf > 0 && bare && !sc.bareNameContext(ws, k, end) && !sc.knownName(lw) {
			conf = 0
		}
		// A following organization or street word, or one inside the span,
		// means this is not a person.
		if j < len(ws) && ws[j].kind == wLetters && ws[j].upper && (orgWords[sc.lowerWord(ws[j])] || uspsSuffixes[sc.lowerWord(ws[j])]) {
			conf = 0
		}
		if j-1 > k && (orgWords[sc.lowerWord(ws[j-1])] || uspsSuffixes[sc.lowerWord(ws[j-1])]) {
			conf = 0
		}
		if k > 0 && ws[k-1].kind == wLetters && sc.lowerWord(ws[k-1]) == "the" && cue == 0 {
			conf = 0
		}
		if cue == 0 && j-k >= 2 && placeStarts[lw] {
			conf = 0
		}
		if conf > 0 {
			sc.add(Person, w.start, end, conf, "name")
			if !bare {
				// Only words of the name lists can make a lone name count.
				for x := k; x < j; x++ {
					if ws[x].kind == wLetters && ws[x].end-ws[x].start > 1 && names.lookup(ws[x].text(t))&(nFirst|nLast) != 0 {
						sc.confirmName(w.start, ws[x])
					}
				}
			}
			k = j - 1
		}
	}
}

// personVerbs after a lone name make it the subject of something only
// people do or are: "Anna is from Plotwatt", "says Becker".
var personVerbs = map[string]bool{"is": true, "was": true, "were": true, "had": true, "has": true, "lives": true,
	"lived": true, "says": true, "said": true, "told": true, "asked": true, "shouted": true, "spent": true, "just": true,
	"will": true, "would": true, "can": true, "could": true, "did": true, "does": true, "went": true, "wrote": true,
	"works": true, "worked": true, "thinks": true, "thought": true, "knows": true, "knew": true, "loves": true,
	"likes": true, "wants": true, "wanted": true, "got": true, "gave": true, "met": true, "married": true,
	"called": true, "became": true, "replied": true, "answered": true, "agreed": true, "smiled": true, "laughed": true}

// middleInitial reports a first name, a middle initial and a surname —
// "Faina D. Yefremova", "Ravil G Yefimov" —: ws[k:j] is three parts, the
// middle one capital letter, the outer ones words of three or more letters
// that are not shaped like English ("Hepatitis B. Patients", "Protein
// Kinase C Activation" are not names).
func middleInitial(t string, ws []word, k, j int, flags []uint8) bool {
	if len(flags) != 3 || ws[k+1].kind != wLetters || ws[k+1].end-ws[k+1].start != 1 {
		return false
	}
	first, last := ws[k], ws[j-1]
	if first.end-first.start < 3 || last.end-last.start < 3 || first.allUpper || last.allUpper {
		return false
	}
	lf, ll := strings.ToLower(first.text(t)), strings.ToLower(last.text(t))
	if eponymWords[ll] || orgWords[ll] || uspsSuffixes[ll] {
		return false // "Hepatitis C Virus", "Effector T Cells"
	}
	for _, suf := range []string{"itis", "osis", "ase", "emia", "oma", "ine"} {
		if len(lf) >= 6 && strings.HasSuffix(lf, suf) {
			return false // "Hepatitis", "Thrombosis", "Kinase", "Leukemia"...
		}
	}
	return !englishShaped(lf) && !englishShaped(ll)
}

// placeStarts open place names, never a person's: "St Paul, MN", "Lower
// Hunter region", "Fort Worth".
var placeStarts = map[string]bool{"st": true, "saint": true, "san": true, "santa": true, "são": true, "sao": true,
	"los": true, "las": true, "fort": true, "mount": true, "mt": true, "lake": true, "cape": true, "upper": true,
	"lower": true, "puerto": true, "buenos": true, "rio": true}

// humanVerbs after a capitalized sequence say that a person acted: unlike
// personVerbs they exclude verbs places, firms and methods take ("is",
// "was", "has", "can").
var humanVerbs = map[string]bool{"said": true, "says": true, "told": true, "asked": true, "shouted": true,
	"spent": true, "lives": true, "lived": true, "wrote": true, "replied": true, "smiled": true, "laughed": true,
	"married": true, "thinks": true, "thought": true, "wants": true, "wanted": true, "loves": true}

// nameLineBeforeAddress reports whether words ws[k:j] are a line of their
// own at the top of an address block: the text or a paragraph starts with
// them, and within the next three lines one starts with a house number and
// a capitalized word, and the line reads as a street ("Maureen
// Thibault\n\n41086 Kiannonkatu 98", "Ann Quigley\n12 Marlow Street").
func (sc *scan) nameLineBeforeAddress(ws []word, k, j int) bool {
	t := sc.text
	if k > 0 && ws[k-1].kind != wNewline && !(ws[k-1].kind == wPunct && t[ws[k-1].start] == '>') {
		return false
	}
	if j < len(ws) && ws[j].kind != wNewline {
		return false // more on the line
	}
	// undecided: the lines that decide run past the end of a stream
	// prefix, so the name waits for them.
	undecided := func() bool {
		sc.pend(ws[k].start)
		return false
	}
	lines := 0
	x := j
	for ; x < len(ws) && lines <= 3; x++ {
		if ws[x].kind != wNewline {
			continue
		}
		lines++
		y := x + 1
		for y < len(ws) && ws[y].kind == wPunct && t[ws[y].start] == '>' {
			y++ // a quoted block: "> 2224 Trenerys gate 232"
		}
		if y+2 >= len(ws) {
			return undecided()
		}
		if !(ws[y].kind == wDigits && ws[y+1].kind == wLetters && ws[y+1].upper &&
			ws[y+1].start-ws[y].end == 1 && !notNames[sc.lowerWord(ws[y+1])]) {
			continue
		}
		// The rest of the line must read as a street: a second number
		// ("Kiannonkatu 98") or a street word ("Marlow Street"), not
		// prose ("12 Patients were followed").
		for z := y + 2; z < len(ws) && z <= y+4 && ws[z].kind != wNewline; z++ {
			if ws[z].kind == wDigits {
				// "Kiannonkatu 98" ends the street: a line break, a
				// comma or a dot follows, not more prose ("aged 5 years").
				if z+1 == len(ws) {
					return undecided()
				}
				return ws[z+1].kind == wNewline || ws[z+1].kind == wPunct && strings.IndexByte(",.", t[ws[z+1].start]) >= 0
			}
			if ws[z].kind != wLetters {
				break
			}
			if z+1 == len(ws) {
				return undecided() // the word may still grow
			}
			if lz := sc.lowerWord(ws[z]); streetSuffixes[lz] || hasStreetEnding(lz) {
				return true
			}
		}
		if lz := sc.lowerWord(ws[y+1]); hasStreetEnding(lz) {
			return true
		}
	}
	if x >= len(ws) && lines <= 3 {
		return undecided()
	}
	return false
}

// bareNameContext reports whether the lone name ws[k] (ending at end) has
// a person around it: a verb only a person governs after it, a vocative
// ("Remember me, Maria?", "Leif, can I ..."), or a known first name beside
// it in a list ("Romi, Erik, Amy and Kristen", "Kadiev and Adams were").
//
// The words it reads may lie past personContext's 16-byte window ("Maria
// and Bartholomew said"): on a stream prefix, a word that reaches the end
// of the text may still grow into the one that decides, so the name pends.
func (sc *scan) bareNameContext(ws []word, k, end int) bool {
	t, lower := sc.text, sc.lower
	// The next word, past blanks, and whether it follows right away.
	i := end
	for i < len(t) && t[i] == ' ' {
		i++
	}
	nextWord := func(from int) string {
		e := from
		for e < len(t) && isAlpha(t[e]) {
			e++
		}
		if e == len(t) {
			sc.pend(ws[k].start)
		}
		return string(lower[from:e])
	}
	if i > end {
		w := nextWord(i)
		if personVerbs[w] {
			return true
		}
		// "Kadiev and Adams were": a pair that a person verb follows.
		if w == "and" {
			n := i + 3
			for n < len(t) && t[n] == ' ' {
				n++
			}
			if n == len(t) {
				sc.pend(ws[k].start)
			}
			if n < len(t) && isUpper(t[n]) {
				e := n
				for e < len(t) && isWordByte(t[e]) {
					e++
				}
				m := e
				for m < len(t) && t[m] == ' ' {
					m++
				}
				if m == len(t) {
					sc.pend(ws[k].start)
				}
				if m > e && personVerbs[nextWord(m)] {
					return true
				}
			}
		}
	}
	if end < len(t) {
		switch c := t[end]; {
		case (c == '?' || c == '!') && endsWithCue(sc.before(ws[k].start, 4), []string{","}):
			return true // "Remember me, Maria?"
		case c == ',' && sentenceStart(t, ws, k) && end+2 < len(t) && t[end+1] == ' ' && isLowerc(t[end+2]):
			return true // "Leif, can I please ..."
		}
	}
	// A list of people: a neighbour across ", " or " and " is a first name.
	firstName := func(x int) bool {
		if x < 0 || x >= len(ws) || ws[x].kind != wLetters || !ws[x].upper {
			return false
		}
		if ws[x].end == len(t) {
			sc.pend(ws[k].start)
		}
		f := sc.s.names.lookup(ws[x].text(t))
		return f&nFirst != 0 && f&nAmbiguous == 0
	}
	sep := func(x int) bool { // ws[x] separates list items
		return x >= 0 && x < len(ws) && (ws[x].kind == wPunct && t[ws[x].start] == ',' || ws[x].kind == wLetters && sc.lowerWord(ws[x]) == "and")
	}
	return sep(k-1) && firstName(k-2) || sep(k+1) && firstName(k+2)
}

// titleCues are the abbreviated titles among strongNameCues: they mark a
// capitalized name ("Ms Lee"), never a lower-case word ("200 ms per").
var titleCues = []string{"mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "dr", "dr.", "prof", "prof.", "herr", "frau"}

// camelCaps reports a word that starts with two capitals and is not all
// capitals — "HUepi", "ROSs", "MATa": a symbol, not a name ("McDonald"
// and "DeShawn" have one capital, then a lower-case letter).
func camelCaps(w string) bool {
	if len(w) < 3 || !isUpper(w[0]) || !isUpper(w[1]) {
		return false
	}
	for i := 2; i < len(w); i++ {
		if isLowerc(w[i]) {
			return true
		}
	}
	return false
}

// Context that makes a capitalized sequence something other than a
// person: a place or an organisation, an eponym, a designation.
var (
	// placePrefixes before a word make it part of a place name.
	placePrefixes = map[string]bool{"san": true, "santa": true, "santo": true, "são": true, "sao": true, "los": true,
		"las": true, "new": true, "saint": true, "st": true, "fort": true, "port": true, "mount": true, "mt": true,
		"lake": true, "cape": true, "north": true, "south": true, "east": true, "west": true, "upper": true, "lower": true,
		"great": true, "el": true, "le": true, "la": true, "rio": true, "puerto": true, "costa": true, "buenos": true}
	// placePrepositions before a lone capitalized word without a person
	// cue make it a place: "in Washington", "near Durham".
	placePrepositions = map[string]bool{"in": true, "near": true, "across": true, "throughout": true, "outside": true,
		"around": true, "within": true, "via": true, "nach": true, "aus": true, "en": true, "à": true}
	// degrees after "Smith, " keep a person a person ("Smith, MD"), where
	// a region code makes a place ("Durham, NC").
	degrees = map[string]bool{"md": true, "rn": true, "do": true, "np": true, "jd": true, "phd": true, "dds": true,
		"dvm": true, "mba": true, "msc": true, "bsc": true, "jr": true, "sr": true, "ii": true, "iii": true, "iv": true, "esq": true}
	// regions: US states and countries that follow a city ("Hamilton,
	// Ontario"); two capital letters ("DC", "NC") are matched by shape.
	regions = func() map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.Fields(`alabama alaska arizona arkansas california calif colorado connecticut delaware
			florida georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts mass
			michigan minnesota mississippi missouri montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee
			texas utah vermont virginia wisconsin wyoming ontario quebec alberta manitoba saskatchewan usa us uk england
			scotland wales ireland canada australia germany france spain italy portugal netherlands belgium switzerland
			austria sweden norway denmark finland poland china japan korea india brazil mexico argentina chile colombia
			peru russia turkey israel egypt nigeria kenya africa cuba kong zealand singapore taiwan vietnam thailand`) {
			m[w] = true
		}
		return m
	}()
)

// personContext reports whether the capitalized sequence ws[k:j] (the
// text up to end) may name a person: it is not the end of a longer proper
// noun ("Monte Carlo", "San Francisco", "Chinese Han"), not a place ("in
// Washington, DC"), not an eponym in a citation ("Smith et al."), not a
// designation ("Aurora B kinase", "Hepatitis B"), and not the piece of a
// symbol ("Cox10", "Li+", "FIP-2"). cue is the person cue before it (2
// strong, 1 weak). On a stream prefix, a sequence whose right context is
// not all there yet pends.
func (sc *scan) personContext(ws []word, k, j, end, cue int, flags []uint8) bool {
	t := sc.text
	after := sc.after(end, 16, ws[k].start)
	if !tokenEnd(t, end) || end < len(t) && (t[end] == '+' || t[end] == '(') {
		return false
	}
	// A bare capital letter at the end is a designation, not an initial:
	// "Aurora B", "Vitamin D" ("John F. Kennedy" has a dot, "John F
	// Kennedy" a surname after it).
	if last := ws[j-1]; j-1 > k && last.end-last.start == 1 && isUpper(t[last.start]) && last.end == end && cue < 2 {
		return false
	}
	if hasCue(after, []string{"et al"}) && len(after) > 0 && indexBytes(after, "et al") <= 1 {
		return false // a citation: "(Smith et al., 2010)"
	}
	if len(after) > 0 && after[0] == '&' || len(after) > 1 && after[0] == ' ' && after[1] == '&' {
		return false // a firm: "John Wiley & Sons", "Merck Sharp&Dohme"
	}
	if n := wordAt(after); n != "" && eponymWords[n] {
		return false // "Treacher Collins syndrome", "Cox regression"
	}
	if last := ws[j-1]; j-1 > k && regions[sc.lowerWord(last)] {
		return false // "Santiago de Cuba", "Victoria Australia"
	}
	if cue > 0 {
		return true
	}
	if k > 0 && ws[k-1].kind == wLetters && placePrepositions[sc.lowerWord(ws[k-1])] {
		return false // "in Washington", "in Hong Kong"
	}
	// "Using Cox", "Multivariate Cox": a capitalized word opening a
	// sentence, itself no name and shaped like an English verb or
	// adjective, before a lone surname.
	if j-k == 2 && len(flags) == 2 && flags[0]&(nFirst|nLast) == 0 && sentenceStart(t, ws, k) && englishShaped(sc.lowerWord(ws[k])) {
		return false
	}
	// The word before: a place prefix, or a capitalized word that did not
	// start a name itself, makes this the end of a longer proper noun.
	if k > 0 && ws[k-1].kind == wLetters && ws[k].start-ws[k-1].end <= 2 && !strings.ContainsAny(t[ws[k-1].end:ws[k].start], "\n,;") {
		p := ws[k-1]
		lp := sc.lowerWord(p)
		if placePrefixes[lp] && p.upper {
			return false
		}
		if p.upper && !sentenceStart(t, ws, k-1) && lp != "i" {
			return false
		}
		if k > 1 && ws[k-2].kind == wLetters && lp == "of" && (orgWords[sc.lowerWord(ws[k-2])] || sc.lowerWord(ws[k-2]) == "state") {
			return false // "University of Hong Kong"
		}
	}
	if len(flags) == 1 {
		// "Washington, DC", "Durham, NC", "Hamilton, Ontario".
		if len(after) >= 3 && after[0] == ',' && after[1] == ' ' {
			r := after[2:]
			n := 0
			for n < len(r) && isWordByte(r[n]) {
				n++
			}
			word := string(r[:n])
			code := n == 2 && isUpper(t[end+2]) && isUpper(t[end+3])
			if (code || regions[word]) && !degrees[word] && (n == len(r) || !isWordByte(r[n])) {
				return false
			}
		}
	}
	return true
}

// firmList matches "Cap, Cap and Cap" (three single capitalized words) at
// k and returns the index past it, or k.
//
// On a stream prefix that ends inside the pattern, the answer can still
// go either way ("Maria, Anna and Sofia" is a firm until ", who said"
// makes it three people), so the list pends.
func firmList(sc *scan, ws []word, k int) int {
	t := sc.text
	capWord := func(j int) bool { return j < len(ws) && ws[j].kind == wLetters && ws[j].upper }
	punct := func(j int, c byte) bool { return j < len(ws) && ws[j].kind == wPunct && t[ws[j].start] == c }
	and := func(j int) bool { return j < len(ws) && ws[j].kind == wLetters && sc.lowerWord(ws[j]) == "and" }
	// ws[j] is not all there yet: missing, or a word that may still grow,
	// also over an apostrophe or hyphen at the end ("Anna'" + "s", "Anna-"
	// + "Lena": up to three bytes).
	open := func(j int) bool { return !sc.final && (j >= len(ws) || len(t)-ws[j].end <= len("’")) }
	// Most capitalized words are no list: decide those at once, without
	// holding a stream back (a word after this one never turns into a
	// comma; a last word that could be a name pends as one).
	if !capWord(k) || !punct(k+1, ',') {
		return k
	}
	for j := k + 2; j <= k+5; j++ {
		if open(j) {
			sc.pend(ws[k].start)
			return k
		}
		switch j - k {
		case 2, 4:
			if !capWord(j) {
				return k
			}
		case 3:
			if !and(j) {
				return k
			}
		case 5:
			if punct(j, ',') {
				return k // "Maria, Anna and Sofia, who ...": people
			}
		}
	}
	return k + 5
}

// sentenceStart reports whether word k begins a sentence or line, where
// capitalization says nothing.
func sentenceStart(t string, ws []word, k int) bool {
	if k == 0 {
		return true
	}
	p := ws[k-1]
	if p.kind == wNewline {
		return true
	}
	if p.kind == wPunct {
		switch t[p.start] {
		case '.', '!', '?', ':', '"', '>', '(', '-', '*':
			return true
		}
	}
	return false
}

func nameConfidence(cue int, flags []uint8, allUpper, start bool) float64 {
	if len(flags) == 0 {
		return 0
	}
	first, amb := flags[0]&nFirst != 0, flags[0]&nAmbiguous != 0
	lastKnown := false
	for _, f := range flags[1:] {
		if f&nLast != 0 {
			lastKnown = true
		}
	}
	anyKnown := first || lastKnown || flags[0]&nLast != 0
	n := len(flags)
	var conf float64
	switch {
	case cue == 2:
		conf = 0.9
	case n >= 2 && first && !amb:
		conf = 0.88
		if lastKnown {
			conf = 0.92
		}
	case n >= 2 && first && lastKnown:
		conf = 0.8
	case n >= 2 && lastKnown && flags[n-1]&nLast != 0:
		conf = 0.75
	case cue == 1 && anyKnown && !amb:
		conf = 0.8
	case cue == 1 && n >= 2:
		conf = 0.65
	case n == 1 && first && !amb:
		conf = 0.65
		if start {
			conf = 0.55
		}
	case n == 1 && flags[0]&nLast != 0 && !amb && !start:
		conf = 0.55
	default:
		return 0
	}
	if allUpper && cue == 0 && !(first && lastKnown) {
		return 0
	}
	return conf
}

// ---- postal addresses --------------------------------------------------

var (
	streetSuffixes = map[string]bool{"street": true, "st": true, "avenue": true, "ave": true, "road": true, "rd": true,
		"boulevard": true, "blvd": true, "lane": true, "ln": true, "drive": true, "dr": true, "court": true, "ct": true,
		"way": true, "place": true, "pl": true, "square": true, "sq": true, "terrace": true, "parkway": true,
		"pkwy": true, "highway": true, "hwy": true, "circle": true, "cir": true, "trail": true, "crescent": true,
		"close": true, "row": true, "alley": true, "plaza": true, "loop": true, "pike": true, "walk": true,
		"grove": true, "gardens": true, "mews": true, "heights": true, "expressway": true, "freeway": true,
		"forges": true, "passage": true, "quay": true, "wharf": true}
	// Endings of one-word street names (German, Dutch, Nordic, Finnish...).
	streetEndings = []string{"straße", "strasse", "str.", "gasse", "weg", "allee", "platz", "ring", "damm", "ufer",
		"chaussee", "laan", "straat", "gracht", "plein", "steeg", "gade", "vej", "gatan", "vägen", "väg", "veien",
		"vei", "gata", "katu", "kuja", "polku", "tie", "tee", "utca", "körút", "braut", "vegur", "stræde", "torget", "torg"}
	// Words that start a street name (Romance and Slavic languages).
	streetPrefixes = map[string]bool{"rue": true, "via": true, "viale": true, "rua": true, "calle": true, "avenida": true,
		"avda": true, "piazza": true, "piazzetta": true, "vicolo": true, "corso": true, "largo": true, "strada": true,
		"paseo": true, "camino": true, "carrer": true, "rambla": true, "ul": true, "ulica": true, "aleja": true,
		"travessa": true, "praça": true, "praca": true, "boulevard": true, "chemin": true, "allée": true, "impasse": true,
		"quai": true, "plac": true, "ulitsa": true, "avenue": true, "route": true, "carretera": true}
	// Street types written as a word of their own after the name
	// (German, Dutch): "Berliner Straße 5", "Prinsen Gracht 3".
	streetTypeWords = map[string]bool{"straße": true, "strasse": true, "str": true, "weg": true, "allee": true,
		"platz": true, "gasse": true, "damm": true, "ufer": true, "chaussee": true, "laan": true, "straat": true,
		"gracht": true, "plein": true, "kade": true}
	unitWords = map[string]bool{"apt": true, "apartment": true, "suite": true, "ste": true, "unit": true, "flat": true,
		"floor": true, "fl": true, "room": true, "wohnung": true, "#": true, "no": true, "bldg": true, "building": true}
	addressCues = []string{"address", "addresses", "live at", "lives at", "lived at", "live on", "lives on", "live in",
		"lives in", "located at", "sent to", "send to", "ship to", "shipped to", "deliver to", "delivered to",
		"meet me at", "is at", "arrived at", "moved to", "adresse", "anschrift", "wohne in", "wohnt in", "wohnhaft",
		"billing address:", "mailing address:", "address:"}
)

func hasStreetEnding(lw string) bool {
	for _, e := range streetEndings {
		if len(lw) > len(e)+2 && strings.HasSuffix(lw, e) {
			return true
		}
	}
	return false
}

func detectAddresses(sc *scan) {
	t := sc.text
	ws := sc.tokens()
	for k := 0; k < len(ws); k++ {
		end, conf := sc.addressCore(ws, k)
		if end <= k {
			// Near the end of a stream prefix, a word that could begin an
			// address waits for the words that would complete it.
			if !sc.final && len(t)-ws[k].start < 96 && sc.addressStart(ws, k) {
				sc.pend(ws[k].start)
			}
			continue
		}
		j := sc.addressTail(ws, end)
		s, e := ws[k].start, ws[j-1].end
		if e < len(t) && t[e] == '.' && e-1 >= 0 && isAlpha(t[e-1]) && ws[j-1].end-ws[j-1].start <= 4 {
			e++ // abbreviation dot: "St."
		}
		if !tokenStart(t, s) || !tokenEnd(t, e) {
			continue // a piece of a longer symbol: "HNF1A/TCF1", "Igf2 DMR1"
		}
		if sc.open(s, e) {
			k = j - 1
			continue
		}
		if hasCue(sc.before(s, 40), addressCues) {
			conf += 0.1
		}
		sc.add(StreetAddress, s, e, conf, "address")
		k = j - 1
	}
}

// addressStart reports whether word k could begin an address core.
func (sc *scan) addressStart(ws []word, k int) bool {
	w := ws[k]
	if w.kind == wDigits {
		return w.end-w.start <= 6
	}
	if w.kind != wLetters {
		return false
	}
	lw := sc.lowerWord(w)
	switch lw {
	case "psc", "unit", "cmr", "usns", "uss", "usnv", "uscgc", "po", "p", "postfach":
		return true
	case "the": // "the corner of ..."
		return k+1 == len(ws) || (sc.lowerWord(ws[k+1]) == "corner" && (k+2 == len(ws) || sc.lowerWord(ws[k+2]) == "of"))
	}
	if w.upper && (k+1 == len(ws) || ws[k+1].kind == wLetters && ws[k+1].upper &&
		(streetTypeWords[sc.lowerWord(ws[k+1])] || ws[k+1].end == len(sc.text))) {
		return true // "Berliner" before "Straße 5", or "Berliner S" still growing
	}
	return w.upper && (streetPrefixes[lw] || hasStreetEnding(lw))
}

// addressCore matches the street part of an address starting at word k and
// returns the index one past its last word (k when there is none).
func (sc *scan) addressCore(ws []word, k int) (int, float64) {
	t := sc.text
	w := ws[k]
	lw := sc.lowerWord(w)
	next := func(j int) bool { return j < len(ws) && ws[j].kind != wNewline }
	switch {
	case w.kind == wDigits && w.end-w.start <= 6:
		// Number first: "221B Baker Street", "9448 175 Iroon Avenue",
		// "6750 Koskikatu 25", "90 Whitchurch Road".
		j := k + 1
		if next(j) && ws[j].kind == wLetters && ws[j].end-ws[j].start == 1 && ws[j].start == w.end {
			j++ // 221B
		}
		words, named, nums := 0, false, 0
		for j < len(ws) && words < 6 {
			x := ws[j]
			if glued(ws, j) {
				break // "3CR1", "1BP1": letters and digits of one symbol
			}
			if x.kind == wDigits && words == 0 && x.end-x.start <= 4 {
				if nums++; nums > 2 {
					break // a run of numbers is a table, not "9448 175 Iroon Avenue"
				}
				j++
				continue
			}
			if x.kind == wDigits && words > 0 && x.end-x.start <= 4 && x.start-ws[j-1].end <= 2 {
				// Words then a house number: "Koskikatu 25", "ul. Narewska 94".
				// A street is named by a word of three letters or more:
				// "24 X 9" (a mangled "24 ± 9") is not an address.
				if !named {
					break
				}
				if e := j + 1; e >= len(ws) || ws[e].kind != wLetters || ws[e].upper || unitWords[sc.lowerWord(ws[e])] {
					return e, 0.8
				}
				break
			}
			if x.kind == wLetters && months[sc.lowerWord(x)] > 0 && x.end-x.start >= 3 {
				break // a date: "1 December 2004", "1946 January Week 3"
			}
			if x.kind == wPunct && t[x.start] == '.' && j > k+1 && ws[j-1].kind == wLetters && ws[j-1].end-ws[j-1].start <= 3 {
				j++ // "ul.", "u.", "Str."
				continue
			}
			if x.kind == wPunct && t[x.start] == '/' && words == 0 {
				j++ // "C/ Mayor 5"
				continue
			}
			if x.kind != wLetters || x.start-ws[j-1].end > 2 {
				break
			}
			lx := sc.lowerWord(x)
			if words > 0 && x.upper && (streetSuffixes[lx] || uspsSuffixes[lx]) {
				return j + 1, 0.85
			}
			if !x.upper && !nameParticles[lx] && !streetPrefixes[lx] && !hasStreetEnding(lx) && lx != "u" && lx != "str" {
				break
			}
			if x.end-x.start >= 3 && !x.allUpper {
				named = true // "161 TYROSINE TOXICITY 162" is a table of contents
			}
			words++
			j++
		}
	case w.kind == wLetters && w.upper && (streetPrefixes[lw] || (lw == "avda" || lw == "ul")):
		// Street first: "Rua Diadema 1903", "Via Roma 131", "Rue de Virton 38".
		j := k + 1
		if next(j) && ws[j].kind == wPunct && t[ws[j].start] == '.' {
			j++
		}
		words := 0
		for j < len(ws) && words < 5 {
			x := ws[j]
			if glued(ws, j) {
				break
			}
			if x.kind == wDigits && words > 0 && x.end-x.start <= 5 {
				return j + 1, 0.8
			}
			if x.kind != wLetters || x.start-ws[j-1].end > 2 {
				break
			}
			words++
			j++
		}
	case w.kind == wLetters && w.upper && hasStreetEnding(lw):
		// "Hauptstraße 5", "Friedhofstrasse 33".
		j := k + 1
		if next(j) && ws[j].kind == wPunct && t[ws[j].start] == '.' {
			j++
		}
		if j < len(ws) && ws[j].kind == wDigits && ws[j].end-ws[j].start <= 4 && ws[j].start-ws[j-1].end <= 2 && !glued(ws, j) {
			j++
			if j < len(ws) && ws[j].kind == wLetters && ws[j].end-ws[j].start == 1 && ws[j].start == ws[j-1].end {
				j++ // 12a
			}
			return j, 0.8
		}
	case w.kind == wLetters && w.upper && k+2 < len(ws) && ws[k+1].kind == wLetters && ws[k+1].upper &&
		streetTypeWords[sc.lowerWord(ws[k+1])] && ws[k+1].start-w.end == 1:
		// A name and a street type as two words: "Berliner Straße 5",
		// "Villacher Strasse 89", "Berliner Str. 12", "Prinsen Gracht 3".
		j := k + 2
		if ws[j].kind == wPunct && t[ws[j].start] == '.' && ws[j].start == ws[j-1].end {
			j++
		}
		if j < len(ws) && ws[j].kind == wDigits && ws[j].end-ws[j].start <= 4 && ws[j].start-ws[j-1].end <= 2 && !glued(ws, j) {
			j++
			if j < len(ws) && ws[j].kind == wLetters && ws[j].end-ws[j].start == 1 && ws[j].start == ws[j-1].end {
				j++ // 12a
			}
			return j, 0.8
		}
	case w.kind == wLetters && (lw == "psc" || lw == "unit" || lw == "cmr"):
		// Military: "PSC 3294, Box 9168\nAPO AA 61487".
		j := k + 1
		if j+3 < len(ws) && ws[j].kind == wDigits && ws[j+1].kind == wPunct && t[ws[j+1].start] == ',' &&
			ws[j+2].kind == wLetters && sc.lowerWord(ws[j+2]) == "box" && ws[j+3].kind == wDigits {
			return sc.militaryPost(ws, j+4, w.start), 0.85
		}
		if j+2 < len(ws) && ws[j].kind == wDigits && ws[j+1].kind == wLetters && sc.lowerWord(ws[j+1]) == "box" && ws[j+2].kind == wDigits {
			return sc.militaryPost(ws, j+3, w.start), 0.85
		}
	case w.kind == wLetters && (lw == "usns" || lw == "uss" || lw == "usnv" || lw == "uscgc"):
		if k+1 < len(ws) && ws[k+1].kind == wLetters && ws[k+1].upper {
			if e := sc.militaryPost(ws, k+2, w.start); e > k+2 {
				return e, 0.85
			}
		}
	case w.kind == wLetters && (lw == "po" || lw == "p" || lw == "postfach"):
		// "P.O. Box 123", "PO Box 123", "Postfach 123".
		j := k
		if lw == "p" {
			if j+3 < len(ws) && t[ws[j+1].start] == '.' && sc.lowerWord(ws[j+2]) == "o" && t[ws[j+3].start] == '.' {
				j += 4
			} else {
				return k, 0
			}
		} else {
			j++
		}
		if lw != "postfach" {
			if j < len(ws) && sc.lowerWord(ws[j]) == "box" {
				j++
			} else {
				return k, 0
			}
		}
		if j < len(ws) && ws[j].kind == wDigits {
			return j + 1, 0.85
		}
	}
	// "the corner of X and Y"
	if w.kind == wLetters && lw == "the" && k+3 < len(ws) && sc.lowerWord(ws[k+1]) == "corner" && sc.lowerWord(ws[k+2]) == "of" {
		j, and := k+3, false
		for j < len(ws) && j-k < 16 && ws[j].kind != wNewline && !(ws[j].kind == wPunct && strings.IndexByte("?!,;:", t[ws[j].start]) >= 0) {
			if ws[j].kind == wLetters && sc.lowerWord(ws[j]) == "and" {
				and = true
			} else if and && ws[j].kind == wLetters && !ws[j].upper && !nameParticles[sc.lowerWord(ws[j])] {
				break
			}
			j++
		}
		for j > k+3 && ws[j-1].kind == wPunct {
			j--
		}
		if and && j > k+5 {
			return j, 0.75
		}
	}
	// With an address cue right before it, a number followed by a
	// capitalized word and another number is an address ("5049 Harjukuja 54").
	if w.kind == wDigits && k+2 < len(ws) && ws[k+1].kind == wLetters && ws[k+1].upper && !glued(ws, k+1) &&
		endsWithCue(sc.before(w.start, 24), addressCues) {
		if ws[k+2].kind == wDigits && !glued(ws, k+2) {
			return k + 3, 0.7
		}
		return k + 2, 0.65
	}
	return k, 0
}

// glued reports whether word j touches the word before it with letters
// against digits ("CX3CR1" is "CX", "3", "CR", "1" with no space between):
// parts of one symbol, never separate words of an address.
func glued(ws []word, j int) bool {
	if j == 0 || ws[j].start != ws[j-1].end {
		return false
	}
	a, b := ws[j-1].kind, ws[j].kind
	return (a == wLetters || a == wDigits) && (b == wLetters || b == wDigits)
}

// addressish reports whether word j starts address-like material: a unit
// word, a line break, or a comma.
func (sc *scan) addressish(ws []word, j int) bool {
	if j >= len(ws) {
		return false
	}
	x := ws[j]
	switch x.kind {
	case wNewline:
		return true
	case wPunct:
		return sc.text[x.start] == ','
	case wLetters:
		return unitWords[sc.lowerWord(x)]
	}
	return false
}

// militaryPost matches "\nAPO AA 61487" (APO/FPO/DPO, AA/AE/AP, ZIP).
// On a stream prefix that ends before the three words could all be
// there, the address starting at start pends.
func (sc *scan) militaryPost(ws []word, j, start int) int {
	k := j
	for k < len(ws) && (ws[k].kind == wNewline || (ws[k].kind == wPunct && sc.text[ws[k].start] == ',')) {
		k++
	}
	if k+3 > len(ws) {
		sc.pend(start)
	}
	if k+2 < len(ws) {
		a, b := sc.lowerWord(ws[k]), sc.lowerWord(ws[k+1])
		if (a == "apo" || a == "fpo" || a == "dpo") && (b == "aa" || b == "ae" || b == "ap") && ws[k+2].kind == wDigits {
			return k + 3
		}
	}
	return j
}

// addressTail extends an address core over a unit ("Apt. 5", "Suite 12")
// and up to four locality segments (city, region, postcode, country) on
// the following lines or after commas. It returns one past the last word.
func (sc *scan) addressTail(ws []word, j int) int {
	t := sc.text
	end := j
	// Unit.
	k := j
	if k < len(ws) && ws[k].kind == wPunct && (t[ws[k].start] == ',' || t[ws[k].start] == '.') {
		k++
	}
	for k < len(ws) && (ws[k].kind == wNewline || (ws[k].kind == wPunct && t[ws[k].start] == '>')) && k-j < 3 {
		k++
	}
	// On a stream prefix, a unit the text ends in or before may still
	// extend the address: a word growing into one ("Apar" into
	// "Apartment"), a unit whose number has not come, another unit after
	// a number ("Apt 4567 Suite 12"). The address waits for it.
	for k < len(ws) && (ws[k].kind == wLetters || (ws[k].kind == wPunct && t[ws[k].start] == '#')) {
		if ws[k].kind == wLetters && ws[k].end == len(t) && !sc.final {
			sc.pend(ws[end-1].start)
			break
		}
		if !unitWords[sc.lowerWord(ws[k])] {
			break
		}
		m := k + 1
		if m < len(ws) && ws[m].kind == wPunct && t[ws[m].start] == '.' {
			m++
		}
		if m >= len(ws) {
			sc.pend(ws[end-1].start)
			break
		}
		if ws[m].kind == wDigits {
			end = m + 1
			k = m + 1
			if k < len(ws) && ws[k].kind == wPunct && t[ws[k].start] == ',' {
				k++
			}
			if k < len(ws) && ws[k].kind == wNewline {
				k++
			}
			if k >= len(ws) {
				sc.pend(ws[end-1].start)
			}
			continue
		}
		break
	}
	// Locality segments.
	for seg := 0; seg < 4; seg++ {
		k = end
		breaks := 0
		for k < len(ws) && (ws[k].kind == wNewline || (ws[k].kind == wPunct && strings.IndexByte(",>", t[ws[k].start]) >= 0)) {
			if ws[k].kind == wNewline {
				breaks++
			}
			k++
		}
		if k >= len(ws) && k > end {
			sc.pend(ws[end-1].start) // "Street," ends a stream prefix: a city may follow
		}
		if k == end || breaks > 1 || k >= len(ws) {
			break
		}
		m, words := k, 0
		for m < len(ws) && words < 6 {
			x := ws[m]
			ok := false
			switch {
			case x.kind == wLetters && (x.upper || nameParticles[sc.lowerWord(x)]):
				ok = true
			case x.kind == wDigits && x.end-x.start >= 3 && x.end-x.start <= 6:
				ok = true
			case x.kind == wPunct && strings.IndexByte("()-'", t[x.start]) >= 0 && m > k:
				ok = true
			case x.kind == wPunct && t[x.start] == '.' && m > k:
				// An abbreviation's dot ("St. Louis", "rkp. 18") stays in
				// the segment; after a longer word it ends the sentence
				// ("OULU. Thanks, Bob").
				p := ws[m-1]
				ok = p.kind == wDigits || p.kind == wLetters && p.end-p.start <= 3
			}
			if !ok {
				break
			}
			if x.kind != wPunct {
				words++
			}
			m++
		}
		if m == len(ws) || m == len(ws)-1 && ws[m].end == len(t) {
			// The segment reaches the end of a stream prefix (or stops
			// at its last word, which may still grow): what follows
			// decides whether it is a locality or prose. Pending inside
			// the address holds the whole address back.
			sc.pend(ws[end-1].start)
		}
		if m == k || words == 0 {
			break
		}
		// A label ("Phone:") or an e-mail ends the address.
		if m < len(ws) && ws[m].kind == wPunct && (t[ws[m].start] == ':' || t[ws[m].start] == '@') {
			break
		}
		if m < len(ws) && ws[m].kind != wNewline && !(ws[m].kind == wPunct && strings.IndexByte(",.", t[ws[m].start]) >= 0) {
			break // the segment continues as ordinary prose
		}
		end = m
		for end > k && ws[end-1].kind == wPunct {
			end--
		}
	}
	return end
}

// ---- dates of birth ----------------------------------------------------

var months = map[string]int{"january": 1, "jan": 1, "januar": 1, "february": 2, "feb": 2, "februar": 2,
	"march": 3, "mar": 3, "märz": 3, "maerz": 3, "april": 4, "apr": 4, "may": 5, "mai": 5, "june": 6, "jun": 6,
	"juni": 6, "july": 7, "jul": 7, "juli": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
	"october": 10, "oct": 10, "oktober": 10, "okt": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
	"dezember": 12, "dez": 12}

func atoiWord(t string, w word) int {
	n := 0
	for i := w.start; i < w.end && i-w.start < 5; i++ {
		n = n*10 + int(t[i]-'0')
	}
	return n
}

// detectDOBs reports dates that the text says are birth dates: a numeric
// date (one separator used twice: "2/8/1935", "1985-03-12", "12.03.1985")
// or a written one ("12 March 1985", "12th of March 1985", "March 12th,
// 1985") with a birth cue in the 48 bytes before it. A number range such
// as "95% CI 1.09-1.21" mixes separators or sits inside a longer number,
// and is no date.
func detectDOBs(sc *scan) {
	t := sc.text
	ws := sc.tokens()
	isP := func(j int, seps string) bool {
		return j < len(ws) && ws[j].kind == wPunct && strings.IndexByte(seps, t[ws[j].start]) >= 0 && ws[j].start == ws[j-1].end
	}
	dig := func(j, lo, hi int) bool {
		return j < len(ws) && ws[j].kind == wDigits && ws[j].end-ws[j].start >= lo && ws[j].end-ws[j].start <= hi && ws[j].start == ws[j-1].end
	}
	sameSep := func(k int) bool { return t[ws[k+1].start] == t[ws[k+3].start] }
	// day returns the index past a day of the month at j ("12", "12.",
	// "12th", "3rd"), or -1.
	day := func(j int) int {
		if j >= len(ws) || ws[j].kind != wDigits || ws[j].end-ws[j].start > 2 {
			return -1
		}
		if d := atoiWord(t, ws[j]); d < 1 || d > 31 {
			return -1
		}
		if j+1 < len(ws) && ws[j+1].start == ws[j].end && ws[j+1].kind == wLetters {
			switch strings.ToLower(ws[j+1].text(t)) {
			case "st", "nd", "rd", "th":
				return j + 2
			}
			return -1
		}
		return j + 1
	}
	for k := 0; k < len(ws); k++ {
		w := ws[k]
		end := -1
		switch {
		case w.kind == wDigits && w.end-w.start == 4 && isP(k+1, "-/.") && dig(k+2, 1, 2) && isP(k+3, "-/.") && dig(k+4, 1, 2) && sameSep(k):
			if m, d := atoiWord(t, ws[k+2]), atoiWord(t, ws[k+4]); m >= 1 && m <= 12 && d >= 1 && d <= 31 {
				end = k + 5
			}
		case w.kind == wDigits && w.end-w.start <= 2 && isP(k+1, "-/.") && dig(k+2, 1, 2) && isP(k+3, "-/.") && dig(k+4, 2, 4) && sameSep(k):
			a, b := atoiWord(t, w), atoiWord(t, ws[k+2])
			if a >= 1 && b >= 1 && ((a <= 12 && b <= 31) || (b <= 12 && a <= 31)) {
				end = k + 5
			}
		case w.kind == wDigits && w.end-w.start <= 2:
			// "12 March 1985", "12. März 1985", "12th of March 1985"
			j := day(k)
			if j < 0 {
				break
			}
			if j < len(ws) && ws[j].kind == wPunct && t[ws[j].start] == '.' {
				j++
			} else if j < len(ws) && ws[j].kind == wLetters && sc.lowerWord(ws[j]) == "of" && j > k+1 {
				j++ // only after an ordinal: "12th of March"
			}
			if j+1 < len(ws) && ws[j].kind == wLetters && months[strings.ToLower(ws[j].text(t))] > 0 &&
				ws[j+1].kind == wDigits && ws[j+1].end-ws[j+1].start == 4 {
				end = j + 2
			}
		case w.kind == wLetters && months[sc.lowerWord(w)] > 0 && w.upper:
			// "March 12, 1985", "March 12th, 1985"
			j := day(k + 1)
			if j < 0 {
				break
			}
			if j < len(ws) && ws[j].kind == wPunct && t[ws[j].start] == ',' {
				j++
			}
			if j < len(ws) && ws[j].kind == wDigits && ws[j].end-ws[j].start == 4 {
				end = j + 1
			}
		}
		if end < 0 {
			// Near the end of a stream prefix after a birth cue, a number
			// or month may be the start of a date still arriving.
			if !sc.final && len(t)-w.start < 32 && (w.kind == wDigits || w.kind == wLetters && months[sc.lowerWord(w)] > 0) &&
				hasCue(sc.before(w.start, 48), dobCues) {
				sc.pend(w.start)
			}
			continue
		}
		s, e := w.start, ws[end-1].end
		if sc.open(s, e) || !tokenStart(t, s) || !tokenEnd(t, e) {
			continue
		}
		if hasCue(sc.before(s, 48), dobCues) {
			sc.add(DateOfBirth, s, e, 0.9, "dob")
		}
		k = end - 1
	}
}

// uspsSuffixes are street-type words (the USPS list, abridged): a
// capitalized sequence ending in one is a street, not a person.
var uspsSuffixes = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`alley anex arcade avenue ave bayou beach bend bluff bluffs bottom boulevard blvd
		branch bridge brook brooks burg burgs bypass camp canyon cape causeway center centers circle circles cliffs club
		common commons corner corners course court courts cove coves creek crescent crest crossing crossroad curve
		divide drive drives estate estates expressway extension extensions falls ferry field fields flat flats ford
		fords forest forge forges fork forks fort freeway garden gardens gateway glen glens greens grove groves harbor
		harbors haven heights highway hills hollow inlet island islands isle junction junctions keys knoll knolls
		lake lakes landing lane ln lights loaf lock locks lodge loop mall manor manors meadow meadows mews mill mills
		mission motorway mount mountain mountains neck orchard oval overpass parks parkway parkways pass passage
		path pike pines place plain plains plaza points port ports prairie radial ramp ranch rapid rapids ridge
		ridges river road roads route shoal shoals shore shores skyway spring springs spur spurs square squares
		station stravenue stream street streets st rd dr summit terrace throughway trace track trafficway trail
		trailer tunnel turnpike underpass union unions valley valleys viaduct views villages ville vista walks
		wall ways wells`) {
		m[w] = true
	}
	return m
}()

// wordAt returns the letters of the word that after starts with, past one
// blank: the word that follows a candidate.
func wordAt(after []byte) string {
	i := 0
	if i < len(after) && after[i] == ' ' {
		i++
	}
	e := i
	for e < len(after) && isAlpha(after[e]) {
		e++
	}
	return string(after[i:e])
}

// titleAllUpper reports whether the title before the name starting at i is
// written in capitals ("MS", "DR."): in running text that is an acronym —
// mass spectrometry, multiple sclerosis, dietary restriction.
func titleAllUpper(t string, i int) bool {
	e := i
	for e > 0 && (t[e-1] == ' ' || t[e-1] == '.') {
		e--
	}
	s := e
	for s > 0 && isAlpha(t[s-1]) {
		s--
	}
	if e-s < 2 {
		return false
	}
	for k := s; k < e; k++ {
		if !isUpper(t[k]) {
			return false
		}
	}
	return true
}

// englishShaped reports a word ending like an English adjective, verb
// form or abstract noun ("using", "multivariate", "bilateral",
// "hypothalamic"): not the shape of a given name.
func englishShaped(w string) bool {
	if len(w) < 5 {
		return false
	}
	for _, suf := range []string{"ing", "ive", "ate", "al", "ic", "ed", "ous", "ary", "ory", "ent", "ant", "ion", "ness", "ment", "ity", "ics", "ism"} {
		if strings.HasSuffix(w, suf) {
			return true
		}
	}
	return false
}
