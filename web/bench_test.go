package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/sextant-ai/sextant/rag"
)

// BenchmarkAsk compares answering in process with answering over HTTP
// (POST /v1/ask on loopback, the answer JSON read whole): the difference
// is what the HTTP layer adds to a RAG answer.
func BenchmarkAsk(b *testing.B) {
	s := newStack(b, stackOptions{})
	body := []byte(`{"question": "` + rotationQuestion + `", "no_cache": true}`)
	b.Run("http", func(b *testing.B) {
		client := &http.Client{}
		b.ReportAllocs()
		for b.Loop() {
			res, err := client.Post(s.URL+"/v1/ask", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatal(res.Status)
			}
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		p := s.pipeline
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Ask(context.Background(), &rag.Request{Question: rotationQuestion, NoCache: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGateway measures one proxied chat completion against the fake
// upstream, and the same call made to the upstream directly.
func BenchmarkGateway(b *testing.B) {
	s := newStack(b, stackOptions{})
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	for _, c := range []struct{ name, url string }{{"direct", s.up.URL + "/chat/completions"}, {"gateway", s.URL + "/v1/chat/completions"}} {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{}
			b.ReportAllocs()
			for b.Loop() {
				res, err := client.Post(c.url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
}
