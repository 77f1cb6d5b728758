package guard

import (
	"os"
	"strings"
	"testing"
)

func benchPrompt(b *testing.B) string {
	in, err := os.ReadFile("testdata/redact/input.txt")
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	for sb.Len() < 2048 {
		sb.Write(in)
		sb.WriteString("Please summarize the attached quarterly report and list the three biggest risks. ")
	}
	return sb.String()[:2048]
}

func BenchmarkScan2KB(b *testing.B) {
	p := benchPrompt(b)
	s := New(Options{})
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		s.Scan(p)
	}
}

func BenchmarkInjection2KB(b *testing.B) {
	p := benchPrompt(b)
	inj := DefaultInjection()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		inj.Score(p)
	}
}
