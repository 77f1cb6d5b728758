package sextant

import "time"

// Answer is one answered question as the answer pipeline records it: what
// was asked, the answer with its [n] citation markers, the numbered sources
// it was written from, which sentences they support, and every input needed
// to replay it — the prompt template and the hash of its text, the model
// and sampling parameters, and the exact chunks (ids and text). The store
// keeps answers; audit, evaluation and cost accounting read them.
type Answer struct {
	ID        string // unique, sortable by creation time
	SessionID string // the conversation it belongs to; "" for a one-off question
	Turn      int    // 1-based position in its conversation
	Tenant    string // the asking principal's tenant
	Principal string // Principal.ID of who asked
	Assistant string // the assistant that answered

	Question string // the question as asked, normalised (NFC, whitespace)
	Query    string // the standalone retrieval query (differs from Question for follow-ups)
	Text     string // the answer as shown, with [n] markers

	// Sources are the numbered sources the model was given (N from 1, in
	// prompt order); Quote is set on each cited source to the span that
	// supports the first sentence citing it.
	Sources   []Source
	Sentences []AnswerSentence // the answer's sentences, in order

	FinishReason string // a Finish* value
	// Refusal is set when the answer was withheld: a guard blocked the
	// question or the answer ("input: ..." / "output: ..."), or nothing
	// relevant was found ("no sources").
	Refusal string

	Model        string   // the model name the assistant asked for
	Served       string   // provider:model that produced the text
	Template     string   // prompt template name
	TemplateHash string   // hex SHA-256 of the template text used
	Temperature  *float64 // as sent; nil = provider default
	Seed         *int64   // as sent; nil = none
	MaxTokens    int      // answer token limit sent; 0 = provider default

	// Conversation is the chat request's messages and tools, for an
	// answer to a message list or one that offered tools; nil for a plain
	// question (its conversation, if any, is its session's stored turns).
	Conversation *Conversation

	Usage Usage  // tokens of the generation (provider-reported, else counted)
	Cache string // "" when generated; "exact" or "semantic" when served from the response cache

	Timings   []StageTiming // duration of each pipeline stage, in order
	CreatedAt time.Time
}

// AnswerSentence is one sentence of an answer with its citations and how
// well the cited sources support it.
type AnswerSentence struct {
	Start, End int    // byte span in Answer.Text, trailing citation markers included
	Text       string // the sentence without markers
	Citations  []int  // source numbers cited (valid ones only), ascending
	// Supported reports that at least one cited source supports the
	// sentence. A sentence with no content to check (a heading, "Yes.")
	// counts as supported; one without citations is not.
	Supported bool
	Support   float64    // best support score among the cited sources, in [0, 1]
	Evidence  []Evidence // per cited source, best first
}

// Evidence is the span of one cited source that best supports a sentence.
type Evidence struct {
	N     int     // source number
	Score float64 // support in [0, 1]
	Start int     // byte offset of Quote in the document text
	End   int     // byte offset one past its end
	Quote string  // the supporting span
}

// StageTiming is how long one pipeline stage took.
type StageTiming struct {
	Stage    string
	Duration time.Duration
}
