package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// BenchmarkCountTokens measures POST /v1/messages/count_tokens over
// loopback: a routed model with a prompt of about 3,000 tokens (the three
// test documents, repeated), whose count is what a routed stream computes
// for message_start, and an assistant with a short question (its template
// rendered and counted). It reports the count as tokens/op.
func BenchmarkCountTokens(b *testing.B) {
	s := newStack(b, stackOptions{})
	var doc strings.Builder
	for _, f := range []string{"espresso.md", "key-rotation.md", "tides.md"} {
		t, err := os.ReadFile("testdata/docs/" + f)
		if err != nil {
			b.Fatal(err)
		}
		doc.Write(t)
	}
	long := strings.Repeat(doc.String(), 1+12000/doc.Len())[:12000]
	for _, c := range []struct{ name, model, text string }{{"routed-12KB", "gpt-4o-mini", long}, {"assistant", "sextant", rotationQuestion}} {
		text, _ := json.Marshal(c.text)
		body := []byte(`{"model":"` + c.model + `","messages":[{"role":"user","content":` + string(text) + `}]}`)
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{}
			var n struct {
				InputTokens int `json:"input_tokens"`
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := client.Post(s.URL+"/v1/messages/count_tokens", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || json.Unmarshal(raw, &n) != nil {
					b.Fatalf("%d %s", res.StatusCode, raw)
				}
			}
			b.ReportMetric(float64(n.InputTokens), "tokens/op")
		})
	}
}
