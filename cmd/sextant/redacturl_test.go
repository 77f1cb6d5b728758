package main

import (
	"strings"
	"testing"
)

// TestRedactURLHidesSecrets: GET /v1/settings shows base and rerank URLs
// without a secret — not the password of a URL that does not parse (a
// rerank_url is not checked at start), nor a key in the query string.
func TestRedactURLHidesSecrets(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example.com/v1", "https://api.example.com/v1"},
		{"https://user:hunter2@api.example.com/v1", "https://api.example.com/v1"},
		{"https://user:hunter2%zz@api.example.com/v1", ""},
		{"https://user:hunter 2@api.example.com/v1", ""},
		{"https://fn.example.net/rerank?code=hunter2&x=1", "https://fn.example.net/rerank?code=redacted&x=redacted"},
		{"", ""},
	} {
		got := redactURL(tc.in)
		if strings.Contains(got, "hunter") {
			t.Errorf("redactURL(%q) = %q: the secret shows", tc.in, got)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
