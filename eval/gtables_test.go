package eval

import (
	"strings"
	"testing"

	"github.com/kljensen/snowball/english"
)

// Each stem belongs to one synonym group: a word listed twice would be
// silently moved to the later group.
func TestSynonymGroupsDisjoint(t *testing.T) {
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(synonymGroups), "\n") {
		for _, w := range strings.Fields(line) {
			s := english.Stem(foldWord(w), false)
			if prev, ok := seen[s]; ok && prev != line {
				t.Errorf("stem %q (%s) is in two groups:\n  %s\n  %s", s, w, prev, line)
			}
			seen[s] = line
		}
	}
}

// No word is both a synonym and an antonym of another.
func TestAntonymsAreNotSynonyms(t *testing.T) {
	tb := loadTables()
	for k, ants := range tb.antonyms {
		for _, a := range ants {
			if a == k {
				t.Errorf("%q is its own antonym", k)
			}
		}
	}
}
