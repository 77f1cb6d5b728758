package sextant

import "strings"

// StartsInCodeBlock reports whether text, a chunk cut out of a longer
// Markdown document, begins inside a fenced code block, and if so the
// fence that closes it (the run of ` or ~ of its first fence line).
//
// Fences alternate opening and closing, and only an opening fence carries
// an info string ("```json"): an info string on an even-numbered fence
// (first, third, ...) means the chunk starts outside code, on an
// odd-numbered one inside. When every fence is bare, the reading under
// which the fenced stretches look more like code than the others wins:
// lines of a shell transcript ("$ command"), commands with flags, JSON,
// YAML keys, braces.
func StartsInCodeBlock(text string) (fence string, inside bool) {
	var segs []string // the stretches between fences
	start, i := 0, 0
	for rest := text; rest != ""; {
		line, next, _ := strings.Cut(rest, "\n")
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~") {
			if fence == "" {
				n := 0
				for n < len(l) && l[n] == l[0] {
					n++
				}
				fence = l[:n]
			}
			if strings.TrimLeft(l, "`~ ") != "" {
				return fence, i%2 == 1
			}
			segs = append(segs, text[start:len(text)-len(rest)])
			start = len(text) - len(next)
			i++
		}
		rest = next
	}
	if len(segs) == 0 {
		return "", false
	}
	segs = append(segs, text[start:])
	var code, lines [2]int // by the parity of the stretch
	for k, seg := range segs {
		for line := range strings.Lines(seg) {
			l := strings.TrimSpace(line)
			if l == "" {
				continue
			}
			lines[k%2]++
			if codeLine(l) {
				code[k%2]++
			}
		}
	}
	share := func(k int) float64 {
		if lines[k] == 0 {
			return 0
		}
		return float64(code[k]) / float64(lines[k])
	}
	return fence, share(0) > share(1)
}

// codeLine reports a line that reads as code, data or a command
// transcript rather than prose.
func codeLine(l string) bool {
	if strings.HasPrefix(l, "$ ") || strings.Contains(l, " --") || strings.Contains(l, ":=") {
		return true
	}
	switch l[0] {
	case '{', '}', '[', ']', '"', '<':
		return true
	}
	switch l[len(l)-1] {
	case '{', '}', '[', ']', ',', ';', '(', '\\':
		return true
	}
	if strings.Contains(l, "\": ") {
		return true
	}
	// YAML: "key: value" or "- key: value" with a lower-case key.
	k := strings.TrimPrefix(l, "- ")
	if c := strings.Index(k, ": "); c > 0 && !strings.ContainsAny(k[:c], " `*") && strings.ToLower(k[:c]) == k[:c] {
		return true
	}
	return false
}
