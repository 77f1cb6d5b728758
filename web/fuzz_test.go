package web

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

var decoderSeeds = []string{
	`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"model":"sextant","stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"mod\u0065l","model":"x"}`,
	`{"mod\u0065l":"escaped key"}`,
	`{"model":null}`,
	`{"model":5}`,
	`{}`,
	` { "model" : "a\"b" , "x" : [1, {"model": "inner"}, "]"] } `,
	`{"model":"a"} trailing`,
	`{"model":"a"`,
	`[]`,
	`"model"`,
	`{"model":"sextant","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"model":"sextant","messages":[{"role":"user","content":"q"}],"filters":{"metadata":{"a":"b","c":["d"]},"stale":"exclude","updated_after":"2024-01-02"}}`,
	`{"model":"sextant","messages":[{"role":"user","content":"q","extra":1}]}`,
	`{"model":"sextant","messages":[{"role":"user","content":"q"}],"temperature":1e400}`,
	`{"a":-1.5e+3,"b":true,"c":false,"d":null,"model":"m"}`,
	"{\"model\":\"\xff\"}",
	`{"model":"claude-x","messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"},"strict":true}},"stop":["a"],"top_p":0.5}`,
}

// FuzzPeekModel checks the gateway's routing scan against encoding/json:
// for every body encoding/json reads as an object, peekModel finds the
// same top-level "model" string (or none), and it never panics.
func FuzzPeekModel(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		model, found, err := peekModel(body)
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return // peekModel may accept some invalid JSON; the upstream validates
		}
		if err != nil {
			t.Fatalf("peekModel refused a JSON object %q: %v", body, err)
		}
		raw, ok := obj["model"]
		var want string
		wantFound := ok && json.Unmarshal(raw, &want) == nil && len(raw) > 0 && raw[0] == '"'
		if found != wantFound || (found && model != want) {
			t.Fatalf("%q: got (%q, %v), encoding/json says (%q, %v)", body, model, found, want, wantFound)
		}
	})
}

// FuzzDecodeChat checks that the assistant request decoder never panics
// and refuses bad input only with EINVALID errors that say what is wrong.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := decodeModelChat(body); err != nil && sextant.ErrorCode(err) != sextant.EINVALID {
			t.Fatalf("%q: model decoder error %v is not EINVALID", body, err)
		}
		c, err := decodeChat(body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || sextant.ErrorCode(err) != sextant.EINVALID || sextant.ErrorMessage(err) == "" {
				t.Fatalf("%q: error %v is not an EINVALID apiError", body, err)
			}
			if ae.param != "" && !strings.HasPrefix(sextant.ErrorMessage(err), ae.param+": ") {
				t.Fatalf("%q: message %q does not start with its param %q", body, sextant.ErrorMessage(err), ae.param)
			}
			return
		}
		if len(c.messages) == 0 {
			t.Fatalf("%q: accepted without messages", body)
		}
		for _, m := range c.messages {
			switch m.Role {
			case sextant.RoleSystem, sextant.RoleUser, sextant.RoleAssistant, sextant.RoleTool:
			default:
				t.Fatalf("%q: accepted role %q", body, m.Role)
			}
		}
	})
}

// FuzzDecodeAsk checks the /v1/ask body decoder and its filter object.
func FuzzDecodeAsk(f *testing.F) {
	for _, s := range []string{
		`{"question":"q"}`,
		`{"question":"q","assistant":"a","session_id":"s","stream":true,"k":3,"max_tokens":9,"temperature":0.2,"seed":1,"no_cache":true}`,
		`{"question":"q","filters":{"collections":["a"],"document_ids":["d"],"metadata":{"k":"v","l":["x","y"]},"updated_before":"2025-01-01T00:00:00Z","stale":"only"}}`,
		`{"question":"q","filters":{"metadata":{"k":[]}}}`,
		`{"question":"q","filters":{"collections":[""]}}`,
		`{"question":"q","bogus":1}`,
		`{"question":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in AskRequest
		err := decodeStrict(body, &in)
		if err == nil {
			_, err = in.Filters.filter("filters")
		}
		if err != nil && sextant.ErrorCode(err) != sextant.EINVALID {
			t.Fatalf("%q: error %v is not EINVALID", body, err)
		}
	})
}

// The gateway reads usage from the last bytes of a relayed body, written
// in pieces of any size.
func TestTailUsage(t *testing.T) {
	body := `{"id":"x","choices":[{"message":{"content":"` + strings.Repeat("long text ", 800) + `"}}],"usage":{"prompt_tokens":19,"completion_tokens":8,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":3}},"system_fingerprint":"fp"}`
	stream := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\": {\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"
	for _, c := range []struct {
		body string
		want sextant.Usage
	}{{body, sextant.Usage{InputTokens: 19, OutputTokens: 8, CachedInputTokens: 3}}, {stream, sextant.Usage{InputTokens: 5, OutputTokens: 2}}} {
		for _, piece := range []int{1, 7, 4096, 5000} {
			var tl tail
			for i := 0; i < len(c.body); i += piece {
				tl.write([]byte(c.body[i:min(len(c.body), i+piece)]))
			}
			if got, ok := tl.usage(); !ok || got != c.want {
				t.Errorf("piece %d: usage %+v %v, want %+v", piece, got, ok, c.want)
			}
		}
	}
	var tl tail
	tl.write([]byte(`{"usage":null}`))
	if _, ok := tl.usage(); ok {
		t.Error("usage found in a body without one")
	}
}
