package web

import (
	"errors"
	"strings"
	"testing"

	"github.com/sextant-ai/sextant"
)

var messagesSeeds = []string{
	`{"model":"sextant","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":1,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}},{"type":"text","text":"b"}]}],"stream":true}`,
	`{"model":"m","max_tokens":1,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":"q"}],"metadata":{"user_id":"u1"},"service_tier":"auto"}`,
	`{"model":"m","max_tokens":5,"tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{"a":{"type":"string"}}}}],"tool_choice":{"type":"tool","name":"f"},"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"text","text":"t"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":"x"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"r"}],"is_error":true},{"type":"text","text":"more"}]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},{"role":"user","content":"no result"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":""}}]}]}`,
	`{"model":"m","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"q"}]}`,
	`{"model":"m","max_tokens":5,"temperature":0.3,"top_p":0.9,"top_k":3,"stop_sequences":["x",""],"messages":[{"role":"user","content":"q"}]}`,
	`{"model":"m","max_tokens":0,"messages":[]}`,
	`{"model":"","max_tokens":"5"}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"prefill"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"zz"}]}],"tool_choice":{"type":"any"}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{}]}],"extra":1}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}`,
	`[]`,
	`{"model":"m"`,
	"{\"model\":\"\xff\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"\xfe\"}]}",
}

// FuzzDecodeMessages checks that the Messages request decoder never
// panics, refuses only with EINVALID errors whose message starts with the
// field they name, and never accepts a request the model layer could not
// take (no messages, a turn that is neither system, user, assistant nor
// tool, max_tokens below 1).
func FuzzDecodeMessages(f *testing.F) {
	for _, s := range messagesSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, v2026 bool) {
		version := ""
		if v2026 {
			version = anthropicNoSamplingSince
		}
		c, err := decodeMessages(body, version)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || sextant.ErrorCode(err) != sextant.EINVALID || sextant.ErrorMessage(err) == "" {
				t.Fatalf("%q: error %v is not an EINVALID apiError", body, err)
			}
			if ae.param != "" && !strings.HasPrefix(sextant.ErrorMessage(err), ae.param+": ") {
				t.Fatalf("%q: message %q does not start with its field %q", body, sextant.ErrorMessage(err), ae.param)
			}
			return
		}
		if c.model == "" || c.maxTokens < 1 || len(c.messages) == 0 {
			t.Fatalf("%q: accepted %+v", body, c)
		}
		users := 0
		for _, m := range c.messages {
			switch m.Role {
			case sextant.RoleUser:
				users++
			case sextant.RoleSystem, sextant.RoleAssistant, sextant.RoleTool:
			default:
				t.Fatalf("%q: accepted role %q", body, m.Role)
			}
		}
		if users == 0 && c.messages[len(c.messages)-1].Role != sextant.RoleTool {
			t.Fatalf("%q: accepted a conversation without a user turn", body)
		}
		if v2026 && (c.temperature != nil || c.topP != nil) {
			t.Fatalf("%q: sampling parameters accepted under %s", body, version)
		}
	})
}

func TestDecodeMessagesMapping(t *testing.T) {
	c, err := decodeMessages([]byte(messagesSeeds[3]), "")
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range c.messages {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, ","); got != "user,assistant,tool,user" {
		t.Errorf("roles %s", got)
	}
	if m := c.messages[1]; m.Content != "t" || len(m.ToolCalls) != 1 || m.ToolCalls[0].Arguments != `{"a":"x"}` {
		t.Errorf("assistant turn %+v", m)
	}
	if m := c.messages[2]; m.ToolCallID != "toolu_1" || m.Content != "Error: r" {
		t.Errorf("tool turn %+v", m)
	}
	if c.toolChoice != "f" || len(c.tools) != 1 || string(c.tools[0].Parameters) == "" {
		t.Errorf("tools %+v choice %q", c.tools, c.toolChoice)
	}
	c, err = decodeMessages([]byte(messagesSeeds[2]), "")
	if err != nil || c.user != "u1" || c.messages[0].Role != sextant.RoleSystem || c.messages[0].Content != "s" {
		t.Errorf("system and metadata: %+v %v", c, err)
	}
}

var countTokensSeeds = []string{
	`{"model":"sextant","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","system":"s","tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"thinking":{"type":"enabled","budget_tokens":1024},"cache_control":{"type":"ephemeral"},"messages":[{"role":"user","content":"q"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"}]}`,
	`{"model":"m","thinking":7,"messages":[{"role":"user","content":"q"}]}`,
	`{"model":"m","thinking":{},"speed":"fast","messages":[{"role":"user","content":"q"}]}`,
	`{"model":"m","messages":[{"role":"assistant","content":"prefill"}]}`,
	`{"model":"m","messages":[]}`,
	`{"model":"m","stream":true}`,
	`null`,
}

// FuzzDecodeCountTokens checks the count_tokens decoder like the Messages
// one: no panic, refusals are EINVALID errors starting with the field
// they name, and an accepted request has a model and messages the model
// layer could take (max_tokens is not part of a count).
func FuzzDecodeCountTokens(f *testing.F) {
	for _, s := range append(countTokensSeeds, messagesSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeCountTokens(body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || sextant.ErrorCode(err) != sextant.EINVALID || sextant.ErrorMessage(err) == "" {
				t.Fatalf("%q: error %v is not an EINVALID apiError", body, err)
			}
			if ae.param != "" && !strings.HasPrefix(sextant.ErrorMessage(err), ae.param+": ") {
				t.Fatalf("%q: message %q does not start with its field %q", body, sextant.ErrorMessage(err), ae.param)
			}
			return
		}
		if c.model == "" || len(c.messages) == 0 || c.stream || c.temperature != nil || c.topP != nil || len(c.stop) > 0 {
			t.Fatalf("%q: accepted %+v", body, c)
		}
	})
}
