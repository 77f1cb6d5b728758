package rag

import (
	"slices"
	"strings"

	"github.com/sextant-ai/sextant"
)

// ReplayDiff is what changed between a recorded answer and its replay
// (Pipeline.Replay), and which of the recorded sources no longer read the
// same in the store.
type ReplayDiff struct {
	// Identical reports that the replay gave the recorded answer: the same
	// text, citations, sentence support, finish reason, refusal and tool
	// calls.
	Identical bool
	// Text is a sentence-level diff of the answer text (markers included),
	// recorded to replayed; nil when the text is the same.
	Text []DiffLine
	// CitedAdded and CitedRemoved are source numbers only the replay
	// cites, and only the record cites.
	CitedAdded, CitedRemoved []int
	// Support lists sentences of both answers whose support changed.
	Support []SupportChange
	// Finish and Refusal hold the recorded and replayed values when they
	// differ.
	Finish, Refusal *[2]string
	// ToolCalls holds the recorded and replayed tool calls (of the
	// answers' Conversation) when their names or arguments differ; call
	// ids are the provider's own and are not compared.
	ToolCalls *[2][]sextant.ToolCall
	// Changed lists recorded sources whose chunk reads differently in the
	// store now (re-ingested, edited or deleted documents): the replay
	// used the recorded text, a new question would not. Nil when the store
	// was not consulted.
	Changed []SourceChange
}

// DiffLine is one line of a diff: Op is '=' (in both), '-' (recorded
// only) or '+' (replayed only).
type DiffLine struct {
	Op   byte
	Text string
}

// SupportChange is a sentence whose support by its citations changed:
// one present in both answers, or one the replay wrote in place of a
// recorded one (Was).
type SupportChange struct {
	Sentence                      string
	Was                           string // the recorded sentence it replaced; "" when the same
	Before, After                 float64
	SupportedBefore, SupportedNow bool
}

// SourceChange is a recorded source whose chunk changed since the answer.
type SourceChange struct {
	N          int
	ChunkID    string
	DocumentID string
	URI        string
	// Gone reports that the chunk no longer exists (its document was
	// deleted or re-chunked); otherwise its text differs.
	Gone bool
}

// CompareReplay compares the recorded answer with its replay. current
// maps chunk ids to their text in the store now (absent = the chunk is
// gone); nil skips that check.
func CompareReplay(recorded, replayed *sextant.Answer, current map[string]string) *ReplayDiff {
	d := &ReplayDiff{}
	if recorded.Text != replayed.Text {
		ru, rs := answerUnits(recorded)
		pu, ps := answerUnits(replayed)
		d.Text = diffLines(ru, pu)
		d.Support = replacedSupport(d.Text, rs, ps)
	}
	was, now := citedSources(recorded), citedSources(replayed)
	for _, n := range now {
		if !slices.Contains(was, n) {
			d.CitedAdded = append(d.CitedAdded, n)
		}
	}
	for _, n := range was {
		if !slices.Contains(now, n) {
			d.CitedRemoved = append(d.CitedRemoved, n)
		}
	}
	before := map[string]sextant.AnswerSentence{}
	for _, s := range recorded.Sentences {
		if _, ok := before[s.Text]; !ok {
			before[s.Text] = s
		}
	}
	for _, s := range replayed.Sentences {
		b, ok := before[s.Text]
		if !ok {
			continue
		}
		delete(before, s.Text) // a repeated sentence pairs with its first occurrence only
		if b.Supported != s.Supported || b.Support != s.Support || !slices.Equal(b.Citations, s.Citations) {
			d.Support = append(d.Support, SupportChange{Sentence: s.Text, Before: b.Support, After: s.Support,
				SupportedBefore: b.Supported, SupportedNow: s.Supported})
		}
	}
	if recorded.FinishReason != replayed.FinishReason {
		d.Finish = &[2]string{recorded.FinishReason, replayed.FinishReason}
	}
	if recorded.Refusal != replayed.Refusal {
		d.Refusal = &[2]string{recorded.Refusal, replayed.Refusal}
	}
	if was, now := answerCalls(recorded), answerCalls(replayed); !slices.EqualFunc(was, now, func(a, b sextant.ToolCall) bool {
		return a.Name == b.Name && a.Arguments == b.Arguments
	}) {
		d.ToolCalls = &[2][]sextant.ToolCall{was, now}
	}
	d.Identical = d.Text == nil && d.CitedAdded == nil && d.CitedRemoved == nil && d.Support == nil &&
		d.Finish == nil && d.Refusal == nil && d.ToolCalls == nil
	if current != nil {
		d.Changed = []SourceChange{}
		for _, s := range recorded.Sources {
			text, ok := current[s.ChunkID]
			if !ok || text != s.Text {
				d.Changed = append(d.Changed, SourceChange{N: s.N, ChunkID: s.ChunkID, DocumentID: s.DocumentID, URI: s.URI, Gone: !ok})
			}
		}
	}
	return d
}

func answerCalls(a *sextant.Answer) []sextant.ToolCall {
	if a.Conversation == nil {
		return nil
	}
	return a.Conversation.ToolCalls
}

// citedSources returns the source numbers an answer's sentences cite,
// ascending.
func citedSources(a *sextant.Answer) []int {
	var out []int
	for _, s := range a.Sentences {
		for _, n := range s.Citations {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// answerUnits splits an answer's text into the units a diff shows: its
// sentences (markers included) and, between them, lines; and maps each
// sentence unit to its sentence.
func answerUnits(a *sextant.Answer) ([]string, map[string]*sextant.AnswerSentence) {
	var out []string
	sents := map[string]*sextant.AnswerSentence{}
	prev := 0
	for i := range a.Sentences {
		s := &a.Sentences[i]
		if s.Start < prev || s.End > len(a.Text) || s.Start > s.End {
			return appendLines(nil, a.Text), nil // spans that do not index the text
		}
		out = appendLines(out, a.Text[prev:s.Start])
		if t := strings.TrimSpace(a.Text[s.Start:s.End]); t != "" {
			out = append(out, t)
			if _, ok := sents[t]; !ok {
				sents[t] = s
			}
		}
		prev = s.End
	}
	return appendLines(out, a.Text[prev:]), sents
}

// replacedSupport pairs, in each hunk of the diff, the recorded sentences
// removed with the replayed ones added in their place (in order), and
// reports those whose support differs.
func replacedSupport(diff []DiffLine, recorded, replayed map[string]*sextant.AnswerSentence) []SupportChange {
	var out []SupportChange
	for i := 0; i < len(diff); {
		if diff[i].Op == '=' {
			i++
			continue
		}
		var del, add []string
		for ; i < len(diff) && diff[i].Op != '='; i++ {
			if diff[i].Op == '-' {
				del = append(del, diff[i].Text)
			} else {
				add = append(add, diff[i].Text)
			}
		}
		for j := 0; j < len(del) && j < len(add); j++ {
			was, now := recorded[del[j]], replayed[add[j]]
			if was == nil || now == nil || was.Supported == now.Supported && was.Support == now.Support {
				continue
			}
			out = append(out, SupportChange{Sentence: now.Text, Was: was.Text, Before: was.Support, After: now.Support,
				SupportedBefore: was.Supported, SupportedNow: now.Supported})
		}
	}
	return out
}

func appendLines(out []string, s string) []string {
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// diffLines is a longest-common-subsequence diff of two line lists.
// Answers are a few dozen sentences, so the quadratic table is small.
func diffLines(a, b []string) []DiffLine {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := []DiffLine{}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, DiffLine{'=', a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, DiffLine{'-', a[i]})
			i++
		default:
			out = append(out, DiffLine{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, DiffLine{'-', a[i]})
	}
	for ; j < m; j++ {
		out = append(out, DiffLine{'+', b[j]})
	}
	return out
}
