package eval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sextant-ai/sextant"
)

func onlineAnswer(id string, supported bool) *sextant.Answer {
	text := "The Golden Gate Bridge opened in 1937 [1]."
	if !supported {
		text = "The Golden Gate Bridge opened in 1950 [1]."
	}
	return &sextant.Answer{ID: id, Assistant: "a", Question: "When did the bridge open?", Text: text,
		Sources: []sextant.Source{source(1, "kb:bridge")}}
}

// seq returns the draws in order, then repeats the last.
func seq(xs ...float64) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		x := xs[min(i, len(xs)-1)]
		i++
		return x
	}
}

func TestOnlineSampling(t *testing.T) {
	var mu sync.Mutex
	var scored []OnlineScore
	on := NewOnline(OnlineOptions{Sample: 0.25, Rand: seq(0.1, 0.3, 0.24, 0.25, 0.9, 0.0),
		Scored: func(_ context.Context, s OnlineScore) { mu.Lock(); scored = append(scored, s); mu.Unlock() }})
	var queued []bool
	for i := range 6 {
		queued = append(queued, on.Offer(onlineAnswer(string(rune('a'+i)), true)))
	}
	// Not sampled, whatever the draw: refusals, cached answers, no text.
	on.Offer(&sextant.Answer{ID: "r", Text: "I don't know.", Refusal: "no sources"})
	on.Offer(&sextant.Answer{ID: "c", Text: "x", Cache: "exact"})
	on.Offer(&sextant.Answer{ID: "e"})
	if err := on.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []bool{true, false, true, false, false, true}
	for i := range want {
		if queued[i] != want[i] {
			t.Errorf("answer %d queued = %v, want %v (draws 0.1 0.3 0.24 0.25 0.9 0.0 against 0.25)", i, queued[i], want[i])
		}
	}
	st := on.Stats()
	if st.Offered != 9 || st.Sampled != 3 || st.Scored != 3 || st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
	if len(scored) != 3 || scored[0].Scores[MetricGroundedness] < 0.9 || scored[0].Scores[MetricCitationCoverage] != 1 {
		t.Errorf("scores = %+v", scored)
	}
	if on.Offer(onlineAnswer("late", true)) {
		t.Error("Offer after Close queued an answer")
	}
}

// blockingJudge holds every claim until released, to fill the queue.
type blockingJudge struct{ release chan struct{} }

func (j *blockingJudge) PromptVersion() string { return "block" }
func (j *blockingJudge) JudgeClaim(ctx context.Context, _ JudgeRequest) (Verdict, error) {
	select {
	case <-j.release:
		return Verdict{Label: VerdictSupported, Support: 1}, nil
	case <-ctx.Done():
		return Verdict{}, ctx.Err()
	}
}

// TestOnlineNeverBlocks fills the queue behind a stuck scorer: Offer
// returns at once and counts the drops.
func TestOnlineNeverBlocks(t *testing.T) {
	j := &blockingJudge{release: make(chan struct{})}
	dropped := 0
	on := NewOnline(OnlineOptions{Sample: 1, Queue: 2, Workers: 1, Grounder: &Grounder{Judge: j}, Dropped: func() { dropped++ }})
	start := time.Now()
	queued := 0
	for i := range 10 {
		if on.Offer(onlineAnswer(string(rune('a'+i)), true)) {
			queued++
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10 offers took %v", d)
	}
	// One answer is being scored, two wait: 3 or (if the worker had not
	// taken the first yet) 2 queued, the rest dropped.
	if queued < 2 || queued > 3 || dropped != 10-queued || on.Stats().Dropped != int64(dropped) {
		t.Errorf("queued %d, dropped %d (stats %+v)", queued, dropped, on.Stats())
	}
	close(j.release)
	if err := on.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := on.Stats(); st.Scored != int64(queued) {
		t.Errorf("scored %d, want %d", st.Scored, queued)
	}
}

func TestOnlineCloseTimesOut(t *testing.T) {
	j := &blockingJudge{release: make(chan struct{})}
	on := NewOnline(OnlineOptions{Sample: 1, Grounder: &Grounder{Judge: j}})
	on.Offer(onlineAnswer("a", true))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := on.Close(ctx); err == nil {
		t.Fatal("Close returned before the stuck answer was abandoned")
	}
}

// TestOnlineAlerts drives the sliding window with an injected clock: the
// alert fires once when the rate goes above the threshold, not again while
// it stays above, and again after it came back down.
func TestOnlineAlerts(t *testing.T) {
	var mu sync.Mutex
	var alerts []HallucinationAlert
	var last OnlineScore
	clock := time.Date(2026, 1, 27, 12, 0, 0, 0, time.UTC)
	on := NewOnline(OnlineOptions{Sample: 1, Window: 10, AlertRate: 0.2, Workers: 1, Queue: 100,
		Now:    func() time.Time { return clock },
		Scored: func(_ context.Context, s OnlineScore) { mu.Lock(); last = s; mu.Unlock() },
		Alert:  func(a HallucinationAlert) { mu.Lock(); alerts = append(alerts, a); mu.Unlock() }})
	offer := func(pattern string) {
		for i, c := range pattern {
			on.Offer(onlineAnswer(pattern+string(rune('0'+i)), c == '.'))
		}
	}
	wait := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for on.Stats().Scored < n {
			if time.Now().After(deadline) {
				t.Fatalf("scored %d of %d", on.Stats().Scored, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// 10 answers, 2 unsupported: rate 0.2, not above the threshold.
	snapshot := func() ([]HallucinationAlert, OnlineScore) {
		mu.Lock()
		defer mu.Unlock()
		return append([]HallucinationAlert(nil), alerts...), last
	}
	offer("..x.....x.")
	wait(10)
	if alerts, last := snapshot(); len(alerts) != 0 || last.WindowRate != 0.2 || last.WindowSize != 10 {
		t.Fatalf("at 0.2: alerts %v, window %v over %d", alerts, last.WindowRate, last.WindowSize)
	}
	// One more unsupported (the oldest, supported, leaves): 0.3 > 0.2.
	offer("x")
	wait(11)
	if alerts, _ := snapshot(); len(alerts) != 1 || alerts[0].Rate != 0.3 || alerts[0].Flagged != 3 || alerts[0].Answers != 10 || !alerts[0].At.Equal(clock) {
		t.Fatalf("after crossing: alerts %+v", alerts)
	}
	// Still above: no second alert.
	offer("x")
	wait(12)
	if alerts, _ := snapshot(); len(alerts) != 1 {
		t.Fatalf("while above: %d alerts", len(alerts))
	}
	// Back to 0.2 or below, then above again: a second alert.
	offer("........")
	wait(20)
	offer("xxx")
	wait(23)
	if err := on.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 || on.Stats().Alerts != 2 {
		t.Fatalf("after re-arming: %d alerts (%+v)", len(alerts), alerts)
	}
}

func TestOnlineNoAlertsOnSmallWindow(t *testing.T) {
	fired := 0
	on := NewOnline(OnlineOptions{Sample: 1, Window: 100, AlertRate: 0.1, Alert: func(HallucinationAlert) { fired++ }})
	for i := range 19 {
		on.Offer(onlineAnswer(string(rune('a'+i)), false))
	}
	on.Close(context.Background())
	if fired != 0 {
		t.Errorf("alert fired with 19 answers in the window (needs 20)")
	}
}

type payerKey struct{}

// payingJudge says every claim is unsupported, for the payer its context
// names; a payer without budget is refused with ErrJudgeRefused, and any
// other error fails the call.
type payingJudge struct {
	mu     sync.Mutex
	payers []string
}

func (j *payingJudge) PromptVersion() string { return "paying" }
func (j *payingJudge) JudgeClaim(ctx context.Context, _ JudgeRequest) (Verdict, error) {
	payer, _ := ctx.Value(payerKey{}).(string)
	j.mu.Lock()
	j.payers = append(j.payers, payer)
	j.mu.Unlock()
	switch payer {
	case "spent":
		return Verdict{}, fmt.Errorf("budget key:spent:daily: %w", ErrJudgeRefused)
	case "broken":
		return Verdict{}, errors.New("judge unavailable")
	}
	return Verdict{Label: VerdictUnsupported, Support: 0}, nil
}

// TestOnlineJudgeRefused: the judge is asked in the context the answer
// was offered in (its values, not its cancellation); a judge that refuses
// a call with ErrJudgeRefused leaves the answer scored by the built-in
// scorer, counted as a skip and not as a failure, while other judge
// errors still fail the answer.
func TestOnlineJudgeRefused(t *testing.T) {
	var mu sync.Mutex
	scored := map[string]OnlineScore{}
	var skipped, failed []string
	j := &payingJudge{}
	on := NewOnline(OnlineOptions{Sample: 1, Grounder: &Grounder{Judge: j},
		Scored:       func(_ context.Context, s OnlineScore) { mu.Lock(); scored[s.AnswerID] = s; mu.Unlock() },
		JudgeSkipped: func(id string, err error) { mu.Lock(); skipped = append(skipped, id); mu.Unlock() },
		Failed:       func(id string, err error) { mu.Lock(); failed = append(failed, id); mu.Unlock() }})
	for _, payer := range []string{"paid", "spent", "broken"} {
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), payerKey{}, payer))
		cancel() // the request is over before its answer is scored
		if !on.OfferContext(ctx, onlineAnswer(payer, true)) {
			t.Fatalf("answer %s not queued", payer)
		}
	}
	if err := on.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"paid", "spent", "broken"}; !slices.Equal(j.payers, want) {
		t.Errorf("the judge was asked for %q; want %q", j.payers, want)
	}
	paid, spent := scored["paid"], scored["spent"]
	if paid.Judge != "paying" || paid.Unsupported != 1 {
		t.Errorf("judged answer: %+v; want the judge's verdict (unsupported)", paid)
	}
	if spent.Judge != "" || spent.Unsupported != 0 || spent.Scores[MetricGroundedness] < 0.9 {
		t.Errorf("refused answer: %+v; want the built-in scorer's (supported)", spent)
	}
	if _, ok := scored["broken"]; ok || !slices.Equal(failed, []string{"broken"}) || !slices.Equal(skipped, []string{"spent"}) {
		t.Errorf("failed %q, skipped %q, scored %v; want broken failed, spent skipped", failed, skipped, scored)
	}
	if st := on.Stats(); st.Scored != 2 || st.Failed != 1 || st.JudgeSkipped != 1 {
		t.Errorf("stats %+v; want 2 scored (1 without the judge), 1 failed", st)
	}
}
