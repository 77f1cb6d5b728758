package guard

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"
)

// Labelled-data scoring for the PII detectors and the injection scorer,
// used by `sextant bench guard` and the tests.

// Span is a labelled entity: byte offsets into its text and a type.
type Span struct {
	Type       Type
	Start, End int
}

// Example is a text with its labelled spans.
type Example struct {
	Text  string
	Spans []Span
}

// CharToByte converts character (rune) offsets into byte offsets of text,
// for datasets that count characters. Offsets past the end map to len(text).
func CharToByte(text string, charOffsets ...int) []int {
	out := make([]int, len(charOffsets))
	order := make([]int, len(charOffsets))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return charOffsets[order[a]] < charOffsets[order[b]] })
	char, b := 0, 0
	for _, i := range order {
		for char < charOffsets[i] && b < len(text) {
			_, n := utf8.DecodeRuneInString(text[b:])
			b += n
			char++
		}
		out[i] = b
	}
	return out
}

// PRF is precision, recall and F1 with the counts behind them.
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"` // labelled spans
	TP        int     `json:"-"`
	FP        int     `json:"-"`
	FN        int     `json:"-"`
}

func (p *PRF) finish() {
	p.Precision, p.Recall, p.F1 = 0, 0, 0
	if p.TP+p.FP > 0 {
		p.Precision = float64(p.TP) / float64(p.TP+p.FP)
	}
	if p.TP+p.FN > 0 {
		p.Recall = float64(p.TP) / float64(p.TP+p.FN)
	}
	if p.Precision+p.Recall > 0 {
		p.F1 = 2 * p.Precision * p.Recall / (p.Precision + p.Recall)
	}
}

// PIIScore is the result of ScorePII.
type PIIScore struct {
	Micro   PRF
	PerType map[Type]*PRF
}

// Matching rules for ScorePII.
const (
	MatchOverlap = "overlap" // same type and overlapping spans
	MatchExact   = "exact"   // same type and identical spans
)

// ScorePII compares the scanner's findings with labelled spans. Only types
// in types are scored (labelled spans and findings of other types are
// ignored). Each labelled span matches at most one finding and vice versa;
// a finding that matches nothing is a false positive, a labelled span that
// nothing matches a false negative. match is MatchOverlap or MatchExact.
func ScorePII(s *Scanner, examples []Example, types []Type, match string) PIIScore {
	res := PIIScore{PerType: map[Type]*PRF{}}
	for _, t := range types {
		res.PerType[t] = &PRF{}
	}
	var fs []Finding
	for _, ex := range examples {
		fs = s.AppendScan(fs[:0], ex.Text)
		used := make([]bool, len(fs))
		for _, g := range ex.Spans {
			p, ok := res.PerType[g.Type]
			if !ok {
				continue
			}
			p.Support++
			hit := -1
			for i, f := range fs {
				if used[i] || f.Type != g.Type {
					continue
				}
				if (match == MatchExact && f.Start == g.Start && f.End == g.End) ||
					(match != MatchExact && f.Start < g.End && g.Start < f.End) {
					hit = i
					break
				}
			}
			if hit >= 0 {
				used[hit] = true
				p.TP++
			} else {
				p.FN++
			}
		}
		for i, f := range fs {
			if p, ok := res.PerType[f.Type]; ok && !used[i] {
				// Under overlap matching, a second finding inside an
				// already-matched span of the same type (a labelled
				// address split in two) is not a false positive.
				if match != MatchExact && coveredBySameType(f, ex.Spans) {
					continue
				}
				p.FP++
			}
		}
	}
	for _, t := range types {
		p := res.PerType[t]
		p.finish()
		res.Micro.TP += p.TP
		res.Micro.FP += p.FP
		res.Micro.FN += p.FN
		res.Micro.Support += p.Support
	}
	res.Micro.finish()
	return res
}

// Coverage returns, per type in types, the share of labelled spans that
// some finding of the same type overlaps, with no one-to-one matching:
// what redaction hides. It differs from ScorePII's recall where one
// finding covers several labelled spans — the Presidio set labels an
// address's house number, street, unit and postcode as separate spans,
// and a finding over the whole address matches only one of them there.
func Coverage(s *Scanner, examples []Example, types []Type) map[Type]float64 {
	covered, total := map[Type]int{}, map[Type]int{}
	for _, t := range types {
		total[t] = 0
	}
	var fs []Finding
	for _, ex := range examples {
		fs = s.AppendScan(fs[:0], ex.Text)
		for _, g := range ex.Spans {
			if _, ok := total[g.Type]; !ok {
				continue
			}
			total[g.Type]++
			if slices.ContainsFunc(fs, func(f Finding) bool { return f.Type == g.Type && f.Start < g.End && g.Start < f.End }) {
				covered[g.Type]++
			}
		}
	}
	out := make(map[Type]float64, len(types))
	for t, n := range total {
		if n > 0 {
			out[t] = float64(covered[t]) / float64(n)
		}
	}
	return out
}

func coveredBySameType(f Finding, spans []Span) bool {
	return slices.ContainsFunc(spans, func(g Span) bool {
		return g.Type == f.Type && f.Start < g.End && g.Start < f.End
	})
}

// PresidioTypes maps the entity types of the Presidio research synthetic
// data set to ours. DATE_TIME there labels every date and time ("founded
// in 1977", "on Tuesday", a log timestamp); only a birth date is personal
// data here, so ParsePresidio maps DATE_TIME to DateOfBirth in the
// templates that state a birth date and to PresidioDateTime elsewhere.
func PresidioTypes() map[string]Type {
	return map[string]Type{
		"EMAIL_ADDRESS":  Email,
		"PHONE_NUMBER":   Phone,
		"CREDIT_CARD":    CreditCard,
		"IBAN_CODE":      IBAN,
		"US_SSN":         SSN,
		"IP_ADDRESS":     IPAddress,
		"PERSON":         Person,
		"STREET_ADDRESS": StreetAddress,
		"DATE_TIME":      DateOfBirth,
	}
}

// PresidioDateTime is the type ParsePresidio gives a labelled date that is
// not a birth date. No detector reports it, so ScorePII ignores it unless
// asked; AllDatesAsBirth turns it back into DateOfBirth for the figure
// against every labelled date.
const PresidioDateTime Type = "DATE_TIME"

// presidioBirthTemplates are the templates of the Presidio synthetic set
// whose DATE_TIME span is a birth date, chosen by reading all 15 templates
// with a DATE_TIME span (not by running the detector):
//
//	61: "Please tell me your date of birth. It's {{DATE_TIME}}"
//	76: "She was born on {{DATE_TIME}}. Her maiden name is {{PERSON}}"
//
// The other 13 are years of founding, films and laws, weekdays, meeting and
// log timestamps, and "It's like that since {{DATE_TIME}}".
var presidioBirthTemplates = map[int]bool{61: true, 76: true}

// AllDatesAsBirth returns a copy of examples in which every labelled
// date counts as a birth date: the scoring before birth dates were told
// apart, kept for comparison.
func AllDatesAsBirth(examples []Example) []Example {
	out := make([]Example, len(examples))
	for i, ex := range examples {
		out[i] = Example{Text: ex.Text, Spans: slices.Clone(ex.Spans)}
		for j := range out[i].Spans {
			if out[i].Spans[j].Type == PresidioDateTime {
				out[i].Spans[j].Type = DateOfBirth
			}
		}
	}
	return out
}

// ParsePresidio reads the Presidio synthetic data set (a JSON array of
// {"full_text", "spans": [{"entity_type", "start_position",
// "end_position"}]}) and converts its character offsets to byte offsets.
// Entity types without a counterpart here are dropped; DATE_TIME is
// DateOfBirth in the templates that state a birth date, PresidioDateTime
// elsewhere (see PresidioTypes).
func ParsePresidio(data []byte) ([]Example, error) {
	var raw []struct {
		FullText string `json:"full_text"`
		Template int    `json:"template_id"`
		Spans    []struct {
			Type  string `json:"entity_type"`
			Start int    `json:"start_position"`
			End   int    `json:"end_position"`
		} `json:"spans"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("presidio data: %w", err)
	}
	types := PresidioTypes()
	out := make([]Example, 0, len(raw))
	for i, r := range raw {
		ex := Example{Text: r.FullText}
		for _, sp := range r.Spans {
			ty, ok := types[sp.Type]
			if !ok {
				continue
			}
			if ty == DateOfBirth && !presidioBirthTemplates[r.Template] {
				ty = PresidioDateTime
			}
			if sp.Start < 0 || sp.End < sp.Start {
				return nil, fmt.Errorf("presidio data: sample %d: bad span [%d,%d)", i, sp.Start, sp.End)
			}
			b := CharToByte(r.FullText, sp.Start, sp.End)
			ex.Spans = append(ex.Spans, Span{Type: ty, Start: b[0], End: b[1]})
		}
		out = append(out, ex)
	}
	return out, nil
}
