package sextant_test

import (
	"testing"

	"github.com/sextant-ai/sextant"
)

func TestStartsInCodeBlock(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       bool
	}{
		{"no fence", "Plain prose. More prose.", false},
		{"opens with an info string", "Prose first.\n\n```json\n{\"a\": 1}\n```\nMore prose.", false},
		{"closes, then a block with an info string", "\"a\": 1}\n```\n\nProse between.\n\n```yaml\nk: v\n```\n", true},
		{"info string on the third fence", "code\n```\nprose\n```\ncode\n```sh\nls\n", false},
		{"info string on the second fence", "prose here.\n```\nx\n```go\nfunc f() {}\n", true},
		{"bare fences, a shell transcript before", "$ sextant budgets list\nBUDGET  LIMIT\n```\n\n`list` shows spend from the ledger.\n", true},
		{"bare fences, a command with flags, then a transcript", "sextant budgets delete (--key ID) --period daily\n```\n\nThe list shows spend.\n\n```\n$ sextant budgets list\n```\n", true},
		{"bare fences, YAML before", "  - id: budget\n    when: cost > 5.0\n    action: block\n```\n\nRules are tried in order and the first match decides.\n", true},
		{"bare fences, prose before, code inside", "Run it like this:\n\n```\n$ sextant serve\n```\n\nIt listens on port 8080.\n", false},
	} {
		if _, got := sextant.StartsInCodeBlock(tt.text); got != tt.want {
			t.Errorf("%s: StartsInCodeBlock = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The fence returned is the run that closes the block.
func TestStartsInCodeBlockFence(t *testing.T) {
	if f, in := sextant.StartsInCodeBlock("a\n~~~~\nprose\n~~~~python\nx\n"); !in || f != "~~~~" {
		t.Errorf("got %q, %v; want ~~~~ inside", f, in)
	}
}
