package web

import (
	"encoding/json"
	"testing"
)

// usageRef is decodeUsage's definition.
func usageRef(b []byte) (usageJSON, bool) {
	var u usageJSON
	if err := json.Unmarshal(b, &u); err != nil {
		return usageJSON{}, false
	}
	return u, true
}

var usageSeeds = []string{
	`{"prompt_tokens":19,"completion_tokens":8,"total_tokens":27,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`,
	`{"prompt_tokens":5,"completion_tokens":2}`,
	`{ "prompt_tokens" : -0 , "completion_tokens":null, "prompt_tokens_details":null }`,
	`{"prompt_tokens":1.0}`, `{"prompt_tokens":1e2}`, `{"prompt_tokens":"7"}`, `{"prompt_tokens":99999999999999999999}`,
	`{"prompt_tokens":01}`, `{"prompt_tokens":-}`, `{"prompt_tokens":[1]}`, `{"prompt_tokens":{}}`, `{"prompt_tokens":true}`,
	`{"Prompt_Tokens":4}`, `{"PROMPT_TOKENS":4,"prompt_tokens":5}`, `{"prompt_tokens":4,"prompt_tokens":null}`,
	`{"prompt_tokens_details":{"cached_tokens":2},"prompt_tokens_details":{"audio_tokens":1}}`,
	`{"prompt_tokens_details":[]}`, `{"prompt_tokens_details":"x"}`, `{"prompt_tokens_details":{"cached_tokens":2.5}}`,
	`{"x":"a\"b","prompt_tokens":3}`, `{"x":"\u00e9","prompt_tokens":3}`, "{\"x\":\"\x01\"}", "{\"x\":\"\xff\",\"prompt_tokens\":2}",
	`{"x":[1,2,{"y":[true,false,null]}],"completion_tokens":6}`, `{"x":[1,]}`, `{"x":1,}`, `{}`, `{`, `{"a"}`, `{"a":}`,
	`null`, `[]`, `  {"prompt_tokens":1}  `, `{"prompt_tokens":1} x`, `{"prompt_tokens":1}{}`, `{"x":nul}`, `{"x":truex}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"prompt_tokens":2}`,
	`{"K":1,"ſ":2,"prompt_toKens":3}`, `{"prompt_tokens":1E5}`, `{"prompt_tokens":-12,"completion_tokens":9223372036854775807}`,
}

// FuzzDecodeUsage checks the fast usage reader against json.Unmarshal,
// whose behaviour it must reproduce on every input.
func FuzzDecodeUsage(f *testing.F) {
	for _, s := range usageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gok := decodeUsage(b)
		want, wok := usageRef(b)
		if got != want || gok != wok {
			t.Fatalf("%q: decodeUsage = %+v %v, json.Unmarshal = %+v %v", b, got, gok, want, wok)
		}
	})
}

func BenchmarkDecodeUsage(b *testing.B) {
	u := []byte(usageSeeds[0])
	for _, c := range []struct {
		name string
		f    func([]byte) (usageJSON, bool)
	}{{"fast", decodeUsage}, {"unmarshal", usageRef}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.f(u)
			}
		})
	}
}
