package llm

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"

	"github.com/sextant-ai/sextant"
)

// Counter counts tokens offline with OpenAI's BPE vocabularies (embedded in
// github.com/tiktoken-go/tokenizer): o200k_base for the GPT-4o, GPT-4.1,
// GPT-5 and o-series families, cl100k_base for every other model. For
// non-OpenAI models the count is an estimate (their tokenizers differ by
// roughly ±15%), which is why usage counted here is marked Estimated.
//
// A Counter loads each vocabulary on first use and is safe for concurrent
// use. The zero value is ready.
type Counter struct {
	cl100k, o200k lazyCodec
}

type lazyCodec struct {
	once  sync.Once
	codec tokenizer.Codec
}

func (l *lazyCodec) get(enc tokenizer.Encoding) tokenizer.Codec {
	l.once.Do(func() {
		// Get fails only for an unknown encoding name; both names used
		// here are built in.
		l.codec, _ = tokenizer.Get(enc)
	})
	return l.codec
}

// Encoding returns the vocabulary Counter uses for model.
func Encoding(model string) string {
	if usesO200k(model) {
		return string(tokenizer.O200kBase)
	}
	return string(tokenizer.Cl100kBase)
}

func usesO200k(model string) bool {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:] // "openai/gpt-4o" on OpenRouter
	}
	model = strings.ToLower(model)
	for _, p := range []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "o1", "o3", "o4"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

func (c *Counter) codec(model string) tokenizer.Codec {
	if usesO200k(model) {
		return c.o200k.get(tokenizer.O200kBase)
	}
	return c.cl100k.get(tokenizer.Cl100kBase)
}

// Text returns the number of tokens of text for model.
func (c *Counter) Text(model, text string) int {
	if text == "" {
		return 0
	}
	n, err := c.codec(model).Count(text)
	if err != nil {
		// Count fails only on invalid UTF-8 in strict mode, which is not
		// set; fall back to a bytes-based estimate rather than zero.
		return (len(text) + 3) / 4
	}
	return n
}

// Per-message framing of the chat format, as OpenAI documents it: every
// message costs 3 tokens of markup (4 with a name) and the reply is primed
// with 3 more.
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	tokensPerReply   = 3
	tokensPerTool    = 8 // function wrapper markup, measured on gpt-4o
)

// Prompt returns the number of prompt tokens of a chat request: messages
// with their framing, tool calls and tool definitions.
func (c *Counter) Prompt(model string, msgs []sextant.Message, tools []sextant.Tool) int {
	n := tokensPerReply
	for _, m := range msgs {
		n += tokensPerMessage + c.Text(model, m.Role) + c.Text(model, m.Content)
		if m.Name != "" {
			n += tokensPerName + c.Text(model, m.Name)
		}
		for _, tc := range m.ToolCalls {
			n += tokensPerTool + c.Text(model, tc.Name) + c.Text(model, tc.Arguments)
		}
		if m.ToolCallID != "" {
			n += c.Text(model, m.ToolCallID)
		}
	}
	for _, t := range tools {
		n += tokensPerTool + c.Text(model, t.Name) + c.Text(model, t.Description) + c.Text(model, string(t.Parameters))
	}
	return n
}

// Completion returns the number of tokens of a generated answer: its text
// and the tool calls it made.
func (c *Counter) Completion(model, text string, calls []sextant.ToolCall) int {
	n := c.Text(model, text)
	for _, tc := range calls {
		n += tokensPerTool + c.Text(model, tc.Name) + c.Text(model, tc.Arguments)
	}
	return n
}
