package churn

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLexiconSentiment(t *testing.T) {
	cases := []struct {
		text string
		sign int // -1, 0 or 1
	}{
		{"The support was great and very helpful", 1},
		{"Terrible service, the internet is down again", -1},
		{"not happy with the price", -1},
		{"this is not bad at all", 1},
		{"I want to change my address", 0},
		{"", 0},
		{"Fast install but the bill was wrong and I am furious", -1},
	}
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.text
	}
	got, err := LexiconSentiment(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		s := got[i]
		if s <= -1 || s >= 1 {
			t.Errorf("%q: %v outside (-1,1)", c.text, s)
		}
		if (c.sign > 0 && s <= 0.05) || (c.sign < 0 && s >= -0.05) || (c.sign == 0 && s != 0) {
			t.Errorf("%q: score %v, want sign %d", c.text, s, c.sign)
		}
	}
	very, plain := lexiconScore("very bad"), lexiconScore("bad")
	if !(very < plain) {
		t.Errorf("intensifier: very bad %v, bad %v", very, plain)
	}
}

func TestAssemble(t *testing.T) {
	customers := &Table{Name: "c.csv", Header: []string{"id", "plan"}, Rows: [][]string{{"a", "x"}, {"b", "y"}, {"c", "x"}}}
	usage := &Table{Name: "usage.csv", Header: []string{"customer", "day", "gb"}, Rows: [][]string{
		{"a", "2024-03-30", "2.5"}, // 2 days before as-of
		{"a", "2024-03-01", "1"},   // 31 days before
		{"a", "2024-01-15", "4"},   // 77 days
		{"b", "2024-02-20", "3"},   // 41 days
		{"b", "2024-04-05", "9"},   // after the as-of date: ignored
	}}
	tickets := &Table{Name: "tickets.csv", Header: []string{"customer", "opened", "text"}, Rows: [][]string{
		{"a", "2024-03-20", "terrible outage"},
		{"a", "2024-03-25", "thanks, great help"},
	}}
	fake := func(_ context.Context, texts []string) ([]float64, error) {
		out := make([]float64, len(texts))
		for i, s := range texts {
			out[i] = float64(len(s)) / 100
		}
		return out, nil
	}
	asOf := time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	got, asm, err := Assemble(context.Background(), customers, "id", []Source{
		{Name: "usage", Table: usage, ID: "customer"},
		{Name: "tickets", Table: tickets, ID: "customer", Text: "text"},
	}, AssembleOptions{Windows: []int{30, 90}, AsOf: asOf, Sentiment: fake})
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"id", "plan",
		"usage_count_30d", "usage_sum_gb_30d", "usage_count_90d", "usage_sum_gb_90d", "usage_days_since_last", "usage_count_trend", "usage_sum_gb_trend",
		"tickets_count_30d", "tickets_sentiment_30d", "tickets_count_90d", "tickets_sentiment_90d", "tickets_days_since_last", "tickets_count_trend"}
	if diff := cmp.Diff(wantHeader, got.Header); diff != "" {
		t.Fatalf("header (-want +got):\n%s", diff)
	}
	s1, s2 := 0.15, 0.18
	sent := strconv.FormatFloat((s1+s2)/2, 'g', -1, 64)
	want := [][]string{
		{"a", "x", "1", "2.5", "3", "7.5", "2", "0", "1.5", "2", sent, "2", sent, "7", "2"},
		{"b", "y", "0", "0", "1", "3", "41", "-1", "-3", "0", "", "0", "", "", "0"},
		{"c", "x", "0", "0", "0", "0", "", "0", "0", "0", "", "0", "", "", "0"},
	}
	if diff := cmp.Diff(want, got.Rows); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
	if asm.Sources[0].Time != "day" || !cmp.Equal(asm.Sources[0].Values, []string{"gb"}) {
		t.Fatalf("inferred source spec %+v", asm.Sources[0])
	}

	// Scoring re-applies the recorded assembly to new files.
	again, err := Reassemble(context.Background(), customers, asm, []Source{{Name: "tickets", Table: tickets}, {Name: "usage", Table: usage}}, asOf, fake)
	if err != nil || !cmp.Equal(again.Rows, got.Rows) {
		t.Fatalf("reassembled rows differ: %v", err)
	}
	if _, err := Reassemble(context.Background(), customers, asm, []Source{{Name: "usage", Table: usage}}, asOf, fake); err == nil {
		t.Fatal("a missing source was accepted")
	}
	bad := &Table{Name: "bad.csv", Header: []string{"customer", "day", "gb"}, Rows: [][]string{{"a", "yesterday", "1"}}}
	_, _, err = Assemble(context.Background(), customers, "id", []Source{{Name: "usage", Table: bad, ID: "customer", Time: "day"}}, AssembleOptions{})
	var fe FieldErrors
	if !errors.As(err, &fe) || fe[0].Row != 2 || fe[0].Field != "day" {
		t.Fatalf("bad timestamp: %v", err)
	}
}

func TestLLMSentiment(t *testing.T) {
	var prompts []string
	answers := map[string]string{"great": "0.8", "awful": "Sentiment: -0.9.", "meh": "neutral", "huge": "7"}
	f := LLMSentiment(func(_ context.Context, p string) (string, error) {
		prompts = append(prompts, p)
		for k, v := range answers {
			if strings.HasSuffix(p, k) {
				return v, nil
			}
		}
		return "", errors.New("unexpected prompt")
	})
	got, err := f(context.Background(), []string{"great", "", "awful", "huge"})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(got, []float64{0.8, 0, -0.9, 1}) || len(prompts) != 3 {
		t.Fatalf("scores %v after %d prompts", got, len(prompts))
	}
	if _, err := f(context.Background(), []string{"great", "meh"}); err == nil || !strings.Contains(err.Error(), "text 1") {
		t.Fatalf("non-numeric answer: %v", err)
	}
}

func FuzzFirstNumber(f *testing.F) {
	for _, s := range []string{"0.8", "Sentiment: -0.9.", "+.5", "-", "1e5", "..", "score 3.2.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := firstNumber(s)
		if ok && v != v {
			t.Fatalf("%q: NaN", s)
		}
	})
}
