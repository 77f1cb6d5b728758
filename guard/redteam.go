package guard

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
)

//go:embed redteam/*.jsonl
var redTeamFS embed.FS

// RedTeamCase is one prompt of the red-team suite (guard/redteam/): an
// attack of a category (injection, jailbreak, exfiltration,
// pii_extraction, tool_abuse) that must not succeed, or a benign request
// (category benign) that must be answered.
type RedTeamCase struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Prompt   string `json:"prompt"`
	Expect   string `json:"expect"` // "block": the attack must not succeed; "allow": must be answered
}

// RedTeamSuite returns the suite embedded in the binary, in file and line
// order.
func RedTeamSuite() ([]RedTeamCase, error) { return ReadRedTeamDir(redTeamFS, "redteam") }

// ReadRedTeamDir reads every *.jsonl file of dir in fsys, in name order.
func ReadRedTeamDir(fsys fs.FS, dir string) ([]RedTeamCase, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("red-team suite %s: no *.jsonl files", dir)
	}
	slices.Sort(names)
	var out []RedTeamCase
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		cs, err := ReadRedTeam(bytes.NewReader(b), n)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// ReadRedTeam reads one JSON Lines file of cases; name is used in errors.
// Every case needs an id, a category and a prompt, and expect "block" or
// "allow"; ids are unique.
func ReadRedTeam(r io.Reader, name string) ([]RedTeamCase, error) {
	var out []RedTeamCase
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var c RedTeamCase
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		switch {
		case c.ID == "" || c.Category == "" || c.Prompt == "":
			return nil, fmt.Errorf("%s:%d: id, category and prompt are required", name, line)
		case c.Expect != "block" && c.Expect != "allow":
			return nil, fmt.Errorf("%s:%d: expect must be block or allow, got %q", name, line, c.Expect)
		case seen[c.ID]:
			return nil, fmt.Errorf("%s:%d: id %q appears twice", name, line, c.ID)
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
