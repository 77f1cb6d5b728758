package churn

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// SentimentFunc scores texts from -1 (very negative) to 1 (very positive),
// one score per text. The lexicon scorer is the default; an LLM-backed
// function can replace it.
type SentimentFunc func(ctx context.Context, texts []string) ([]float64, error)

// LexiconSentiment scores support-ticket text with a small embedded
// lexicon: each known word has a valence from -3 to 3; "not", "never",
// "no" and words ending in n't flip the valence of the next three words;
// intensifiers scale the next word; words after "but" count 1.5 times and
// those before it half. The sum s is normalised to s/sqrt(s²+15), as VADER
// does, so scores lie in (-1, 1).
func LexiconSentiment(_ context.Context, texts []string) ([]float64, error) {
	out := make([]float64, len(texts))
	for i, t := range texts {
		out[i] = lexiconScore(t)
	}
	return out, nil
}

// lexicon holds valences for words common in customer-support text.
var lexicon = func() map[string]float64 {
	m := map[string]float64{}
	for _, group := range []struct {
		v     float64
		words string
	}{
		{3, "excellent amazing fantastic love loved perfect outstanding wonderful superb"},
		{2, "great happy pleased glad thanks thank helpful resolved fixed recommend appreciate appreciated impressed fast reliable easy"},
		{1, "good fine ok okay nice satisfied quick works working better improved friendly polite solved stable"},
		{-1, "slow issue issues problem problems confusing confused delay delayed wait waiting waited expensive pricey complicated drop dropped glitch bug bugs"},
		{-2, "bad poor unhappy annoyed annoying disappointed disappointing frustrated frustrating broken fail failed failing failure error errors outage outages down overcharged overcharge unreliable rude useless wrong worse unacceptable cancel cancelling canceling cancellation leave leaving switch switching refund complaint complain"},
		{-3, "terrible horrible awful worst hate hated furious ridiculous scam disgusting pathetic nightmare"},
	} {
		for _, w := range strings.Fields(group.words) {
			m[w] = group.v
		}
	}
	return m
}()

var intensifiers = map[string]float64{
	"very": 1.5, "really": 1.5, "extremely": 1.8, "so": 1.3, "totally": 1.5, "completely": 1.5,
	"absolutely": 1.6, "incredibly": 1.7, "super": 1.4, "slightly": 0.5, "somewhat": 0.6, "barely": 0.4,
}

func isNegation(w string) bool {
	switch w {
	case "not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without", "hardly", "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "wont", "aint":
		return true
	}
	return strings.HasSuffix(w, "n't")
}

func lexiconScore(text string) float64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	var before, after float64
	seenBut := false
	negate, scale := 0, 1.0
	for _, w := range words {
		w = strings.Trim(w, "'")
		switch {
		case w == "but" || w == "however":
			seenBut = true
			negate = 0
			continue
		case isNegation(w):
			negate = 3
			continue
		}
		if f, ok := intensifiers[w]; ok {
			scale = f
			continue
		}
		v := lexicon[w] * scale
		scale = 1
		if negate > 0 {
			v = -0.74 * v // negated praise is weaker than blame, as in VADER
			negate--
		}
		if seenBut {
			after += v
		} else {
			before += v
		}
	}
	s := before + after
	if seenBut {
		s = 0.5*before + 1.5*after
	}
	return s / math.Sqrt(s*s+15)
}

// CompleteFunc sends one prompt to a language model and returns its text
// answer.
type CompleteFunc func(ctx context.Context, prompt string) (string, error)

// LLMSentiment returns a SentimentFunc that asks a language model to rate
// each text from -1 to 1. Empty texts score 0 without a call. An answer
// without a number is an error naming the text's index.
func LLMSentiment(complete CompleteFunc) SentimentFunc {
	return func(ctx context.Context, texts []string) ([]float64, error) {
		out := make([]float64, len(texts))
		for i, t := range texts {
			if strings.TrimSpace(t) == "" {
				continue
			}
			ans, err := complete(ctx, sentimentPrompt+t)
			if err != nil {
				return nil, fmt.Errorf("sentiment of text %d: %w", i, err)
			}
			v, ok := firstNumber(ans)
			if !ok {
				return nil, fmt.Errorf("sentiment of text %d: the model answered %q, not a number", i, clip(ans))
			}
			out[i] = min(max(v, -1), 1)
		}
		return out, nil
	}
}

const sentimentPrompt = "Rate the sentiment of this customer support message from -1 (very negative) " +
	"to 1 (very positive). Answer with the number only.\n\nMessage:\n"

// firstNumber returns the first decimal number in s.
func firstNumber(s string) (float64, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')) {
			continue
		}
		j, dot := i+1, c == '.'
		for j < len(s) && ((s[j] == '.' && !dot) || (s[j] >= '0' && s[j] <= '9')) {
			dot = dot || s[j] == '.'
			j++
		}
		num := strings.TrimSuffix(s[i:j], ".")
		if v, err := strconv.ParseFloat(num, 64); err == nil && !math.IsNaN(v) {
			return v, true
		}
	}
	return 0, false
}
