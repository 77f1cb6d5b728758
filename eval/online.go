package eval

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-ai/sextant"
)

// OnlineOptions configures online evaluation. The zero value samples
// nothing.
type OnlineOptions struct {
	// Sample is the share of answers scored, in [0, 1].
	Sample float64
	// Queue bounds the answers waiting to be scored; an answer offered to
	// a full queue is dropped (and counted). 0 means 256.
	Queue int
	// Workers score answers in the background; 0 means 1.
	Workers int
	// Window is how many of the latest scored answers the hallucination
	// rate is taken over; 0 means 100.
	Window int
	// AlertRate is the answer hallucination rate (share of answers with an
	// unsupported claim) over the window above which an alert fires; 0
	// means no alerts. The rate is checked once the window holds at least
	// min(Window, 20) answers; an alert fires when the rate goes above the
	// threshold and again only after it has come back to it or below.
	AlertRate float64
	// Grounder scores answers; nil means the built-in scorer.
	Grounder *Grounder
	// Timeout bounds the scoring of one answer (a judge may be slow); 0
	// means 30 seconds.
	Timeout time.Duration

	// Scored receives every scored answer (metrics, the answer record).
	Scored func(ctx context.Context, s OnlineScore)
	// Alert receives hallucination alerts.
	Alert func(a HallucinationAlert)
	// Dropped is called for each sampled answer dropped on a full queue.
	Dropped func()
	// Failed is called when scoring an answer fails (a judge's error).
	Failed func(answerID string, err error)
	// JudgeSkipped is called when the Grounder's Judge refused a call
	// with an error wrapping ErrJudgeRefused (a spent budget): the answer
	// is then scored by the built-in scorer alone.
	JudgeSkipped func(answerID string, err error)

	Rand func() float64   // sampling draws in [0, 1); nil = math/rand/v2
	Now  func() time.Time // nil = time.Now
}

// OnlineScore is the evaluation of one live answer.
type OnlineScore struct {
	AnswerID  string
	Assistant string
	Model     string
	At        time.Time
	// Scores by metric name: groundedness, hallucination_rate,
	// answer_hallucination_rate (0 or 1), citation_coverage,
	// grounded_citation_rate, relevance.
	Scores      map[string]float64
	Claims      int // checkable claims
	Unsupported int
	Judge       string // the judge's prompt version, "" for the built-in scorer
	// WindowRate is the answer hallucination rate over the window after
	// this answer, and WindowSize the answers it is over.
	WindowRate float64
	WindowSize int
}

// HallucinationAlert reports that the answer hallucination rate over the
// window went above the threshold.
type HallucinationAlert struct {
	At        time.Time
	Rate      float64 // answers with an unsupported claim / answers, over the window
	Threshold float64
	Answers   int // answers in the window
	Flagged   int // of which with an unsupported claim
	AnswerID  string
	Assistant string
}

// OnlineStats are an Online's counters. JudgeSkipped counts the scored
// answers the judge refused to judge (see ErrJudgeRefused); they are also
// in Scored.
type OnlineStats struct {
	Offered, Sampled, Dropped, Scored, Failed, Alerts, JudgeSkipped int64
}

// ErrJudgeRefused is what a Judge's error wraps when a call was refused
// before it was made — its budget is spent — rather than failed: online
// evaluation then scores the answer without the judge (OnlineScore.Judge
// is "") instead of failing it. Verdicts the judge gave for the answer's
// earlier claims are not used, so an answer is judged wholly or not at
// all.
var ErrJudgeRefused = errors.New("judge call refused")

// queuedAnswer is a queued answer and the context it was offered in.
type queuedAnswer struct {
	ctx context.Context
	a   *sextant.Answer
}

// Online scores a sample of live answers in the background: Offer never
// blocks (a full queue drops the answer), a bounded pool of workers grounds
// the sampled answers, and the hallucination rate over a sliding window of
// scored answers raises alerts. It is safe for concurrent use.
type Online struct {
	o     OnlineOptions
	g     *Grounder
	plain *Grounder // g without its judge, for answers the judge refused
	queue chan queuedAnswer
	wg    sync.WaitGroup
	stop  context.CancelFunc
	ctx   context.Context

	sendMu sync.RWMutex // Offer sends under RLock; Close closes the queue under Lock
	closed bool
	randMu sync.Mutex

	mu      sync.Mutex // guards the window
	window  []bool     // ring of "had an unsupported claim"
	next    int
	filled  int
	flagged int
	alerted bool

	offered, sampled, dropped, scored, failed, alerts, judgeSkipped atomic.Int64
}

// NewOnline starts the workers of an online evaluator. Close stops them.
func NewOnline(o OnlineOptions) *Online {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Window <= 0 {
		o.Window = 100
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	g := o.Grounder
	if g == nil || g.Scorer == nil {
		ng := &Grounder{Scorer: NewScorer(ScorerOptions{})}
		if g != nil {
			ng.Judge = g.Judge
		}
		g = ng
	}
	plain := *g // everything of g but its judge
	plain.Judge = nil
	ctx, stop := context.WithCancel(context.Background())
	on := &Online{o: o, g: g, plain: &plain, queue: make(chan queuedAnswer, o.Queue), stop: stop, ctx: ctx,
		window: make([]bool, o.Window)}
	for range o.Workers {
		on.wg.Add(1)
		go on.work()
	}
	return on
}

// Offer samples a finished answer and queues it for scoring without
// blocking. It returns whether the answer was queued. Answers without
// text, refusals and answers served from the response cache are not
// sampled (they assert nothing new). a must not be modified afterwards.
func (on *Online) Offer(a *sextant.Answer) bool {
	return on.OfferContext(context.Background(), a)
}

// OfferContext is Offer for an answer scored with ctx's values: the
// Grounder's Judge is asked in a context carrying them (whom its calls
// are booked to, the request they belong to) but neither ctx's deadline
// nor its cancellation — the request is over by the time it is scored.
func (on *Online) OfferContext(ctx context.Context, a *sextant.Answer) bool {
	if on == nil || a == nil {
		return false
	}
	on.offered.Add(1)
	if a.Text == "" || a.Refusal != "" || a.Cache != "" || on.o.Sample <= 0 {
		return false
	}
	if on.o.Sample < 1 {
		on.randMu.Lock()
		x := on.o.Rand()
		on.randMu.Unlock()
		if x >= on.o.Sample {
			return false
		}
	}
	on.sendMu.RLock()
	defer on.sendMu.RUnlock()
	if on.closed {
		return false
	}
	on.sampled.Add(1)
	select {
	case on.queue <- queuedAnswer{ctx: context.WithoutCancel(ctx), a: a}:
		return true
	default:
		on.dropped.Add(1)
		if on.o.Dropped != nil {
			on.o.Dropped()
		}
		return false
	}
}

func (on *Online) work() {
	defer on.wg.Done()
	for q := range on.queue {
		on.score(q.ctx, q.a)
	}
}

func (on *Online) score(ctx context.Context, a *sextant.Answer) {
	ctx, cancel := context.WithTimeout(ctx, on.o.Timeout)
	defer cancel()
	defer context.AfterFunc(on.ctx, cancel)() // Close abandoning the queue ends the scoring
	g := on.g
	in := AnswerInput{Question: a.Question, Answer: a.Text, Sources: a.Sources}
	ag, err := g.Ground(ctx, in)
	if err != nil && g.Judge != nil && errors.Is(err, ErrJudgeRefused) && ctx.Err() == nil {
		on.judgeSkipped.Add(1)
		if on.o.JudgeSkipped != nil {
			on.o.JudgeSkipped(a.ID, err)
		}
		g = on.plain
		ag, err = g.Ground(ctx, in)
	}
	if err != nil {
		on.failed.Add(1)
		if on.o.Failed != nil {
			on.o.Failed(a.ID, err)
		}
		return
	}
	s := OnlineScore{AnswerID: a.ID, Assistant: a.Assistant, Model: a.Model, At: on.o.Now(), Claims: ag.Checkable, Unsupported: ag.Unsupported,
		Scores: map[string]float64{
			MetricGroundedness:            ag.Groundedness(),
			MetricHallucinationRate:       ag.HallucinationRate(),
			MetricAnswerHallucinationRate: 0,
			MetricCitationCoverage:        ag.CitationCoverage(),
			MetricGroundedCitationRate:    ag.GroundedCitationRate(),
			MetricRelevance:               g.Scorer.Relevance(a.Question, stripCitations(a.Text)),
		}}
	if ag.Unsupported > 0 {
		s.Scores[MetricAnswerHallucinationRate] = 1
	}
	if g.Judge != nil {
		s.Judge = g.Judge.PromptVersion()
	}
	alert := on.slide(ag.Unsupported > 0, &s)
	if on.o.Scored != nil {
		on.o.Scored(ctx, s)
	}
	if alert != nil {
		on.alerts.Add(1)
		if on.o.Alert != nil {
			on.o.Alert(*alert)
		}
	}
	// Counted last, so Stats().Scored == n means n answers were handled.
	on.scored.Add(1)
}

// slide adds one answer to the window and returns an alert when the rate
// crossed the threshold.
func (on *Online) slide(flagged bool, s *OnlineScore) *HallucinationAlert {
	on.mu.Lock()
	defer on.mu.Unlock()
	if on.filled == len(on.window) {
		if on.window[on.next] {
			on.flagged--
		}
	} else {
		on.filled++
	}
	on.window[on.next] = flagged
	if flagged {
		on.flagged++
	}
	on.next = (on.next + 1) % len(on.window)
	rate := float64(on.flagged) / float64(on.filled)
	s.WindowRate, s.WindowSize = rate, on.filled
	if on.o.AlertRate <= 0 || on.filled < min(len(on.window), 20) {
		return nil
	}
	if rate <= on.o.AlertRate {
		on.alerted = false
		return nil
	}
	if on.alerted {
		return nil
	}
	on.alerted = true
	return &HallucinationAlert{At: s.At, Rate: rate, Threshold: on.o.AlertRate, Answers: on.filled, Flagged: on.flagged,
		AnswerID: s.AnswerID, Assistant: s.Assistant}
}

// Stats returns the counters.
func (on *Online) Stats() OnlineStats {
	return OnlineStats{Offered: on.offered.Load(), Sampled: on.sampled.Load(), Dropped: on.dropped.Load(),
		Scored: on.scored.Load(), Failed: on.failed.Load(), Alerts: on.alerts.Load(), JudgeSkipped: on.judgeSkipped.Load()}
}

// Close stops taking answers, scores those already queued and waits for
// the workers; when ctx ends first it abandons the rest and returns
// ctx's error.
func (on *Online) Close(ctx context.Context) error {
	if on == nil {
		return nil
	}
	on.sendMu.Lock()
	if !on.closed {
		on.closed = true
		close(on.queue)
	}
	on.sendMu.Unlock()
	done := make(chan struct{})
	go func() {
		on.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		on.stop()
		return nil
	case <-ctx.Done():
		on.stop()
		return ctx.Err()
	}
}
