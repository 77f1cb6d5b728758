package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sextant-ai/sextant"
	"github.com/sextant-ai/sextant/eval"
	"github.com/sextant-ai/sextant/llm"
	"github.com/sextant-ai/sextant/rag"
	"github.com/sextant-ai/sextant/sqlite"
	"github.com/sextant-ai/sextant/telemetry"
)

// evalOnlineConfig is the eval.online section: a sample of live answers is
// scored after the response is sent.
type evalOnlineConfig struct {
	Sample             float64 `yaml:"sample"`              // share of answers scored; 0 = off
	HallucinationAlert float64 `yaml:"hallucination_alert"` // alert above this answer hallucination rate; 0 = no alerts
	Window             int     `yaml:"window"`              // answers the rate is taken over; 0 = 100
	Queue              int     `yaml:"queue"`               // answers waiting to be scored; 0 = 256; a full queue drops
	Workers            int     `yaml:"workers"`             // background scorers; 0 = 1
	Judge              bool    `yaml:"judge"`               // also ask eval.judge (costs a model call per claim)
}

// onlineDeps are what online evaluation reports to.
type onlineDeps struct {
	metrics *telemetry.Metrics
	store   *sqlite.DB       // answer evaluations; nil = not stored
	model   *llm.Model       // for the judge
	log     *slog.Logger     // alerts and failures
	now     func() time.Time // nil = time.Now
	// spend is what the judge's calls are admitted and booked through,
	// read at each call (the server completes its usage chain after
	// online evaluation started); nil = the calls are not metered.
	spend func() *runSpending
}

// onlineTag is the usage ledger's user column of online evaluation's
// judge calls, beside eval:SUITE and redteam:ASSISTANT of the runs.
const onlineTag = "eval:online"

// newOnlineEval starts online evaluation as configured, or returns nil when
// the sample is 0. Scores go to the metrics (sextant_eval_score, the window
// rate) and to the answer's record (answer_evals); an alert is a metric, a
// warning log line (event eval.hallucination_alert) and the alert event.
func newOnlineEval(cfg *config, d onlineDeps) *eval.Online {
	oc := cfg.Eval.Online
	if oc.Sample <= 0 {
		return nil
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	g := &eval.Grounder{}
	if oc.Judge && cfg.Eval.Judge != "" && d.model != nil && d.store != nil {
		complete := modelComplete(d.model, cfg.Eval.Judge, judgeMaxTokens)
		if d.spend != nil {
			complete = onlineComplete(d.model, cfg.Eval.Judge, judgeMaxTokens, d.spend)
		}
		g.Judge = judgeWith(cfg.Eval.Judge, d.store, complete)
	}
	return eval.NewOnline(eval.OnlineOptions{
		Sample: oc.Sample, Queue: oc.Queue, Workers: oc.Workers, Window: oc.Window, AlertRate: oc.HallucinationAlert,
		Grounder: g, Now: d.now,
		Scored: func(ctx context.Context, s eval.OnlineScore) {
			for _, m := range []string{eval.MetricGroundedness, eval.MetricHallucinationRate, eval.MetricCitationCoverage,
				eval.MetricGroundedCitationRate, eval.MetricRelevance} {
				d.metrics.ObserveEval(s.Assistant, m, s.Scores[m])
			}
			d.metrics.SetHallucinationRate(s.WindowRate)
			if d.store == nil || s.AnswerID == "" {
				return
			}
			err := d.store.PutAnswerEval(ctx, &sqlite.AnswerEval{AnswerID: s.AnswerID, Assistant: s.Assistant,
				Groundedness: s.Scores[eval.MetricGroundedness], HallucinationRate: s.Scores[eval.MetricHallucinationRate],
				CitationCoverage: s.Scores[eval.MetricCitationCoverage], GroundedCitationRate: s.Scores[eval.MetricGroundedCitationRate],
				Relevance: s.Scores[eval.MetricRelevance], Claims: s.Claims, Unsupported: s.Unsupported, Judge: s.Judge, CreatedAt: s.At})
			if err != nil && sextant.ErrorCode(err) != sextant.ENOTFOUND {
				d.log.Warn("online evaluation: storing the score", "answer_id", s.AnswerID, "err", err)
			}
		},
		Alert: func(a eval.HallucinationAlert) {
			d.metrics.ObserveHallucinationAlert()
			d.log.Warn("hallucination rate above threshold", "event", "eval.hallucination_alert", "rate", a.Rate,
				"threshold", a.Threshold, "answers", a.Answers, "flagged", a.Flagged, "last_answer_id", a.AnswerID,
				"assistant", a.Assistant, "at", a.At)
		},
		Dropped: d.metrics.ObserveEvalDropped,
		Failed: func(id string, err error) {
			d.log.Warn("online evaluation failed", "answer_id", id, "err", err)
		},
		JudgeSkipped: func(id string, err error) {
			d.metrics.ObserveEvalJudgeSkipped()
			d.log.Info("online evaluation without the judge", "answer_id", id, "err", err)
		},
	})
}

// startOnline starts online evaluation when the configuration samples
// answers; the answers come from the pipeline s built.
func (o *operations) startOnline(cfg *config, s *askSetup) {
	m, _ := s.opts.Model.(*llm.Model)
	o.online = newOnlineEval(cfg, onlineDeps{metrics: o.metrics, store: s.eng.store, model: m, log: o.log, spend: o.onlineSpending})
}

// onlineSpending is the server's spending for online evaluation's judge
// calls: its whole usage chain once the server set it (o.record), else
// the usage hook alone; its budgets and prices.
func (o *operations) onlineSpending() *runSpending {
	book := o.record
	if book == nil {
		book = o.usage
	}
	return &runSpending{book: book, budgets: o.budgets, prices: o.prices}
}

// onlineComplete is the judge's model call in online evaluation, admitted
// and booked as a call of the principal whose answer is scored — its key,
// tenant and project, from ctx as the answer was offered — tagged
// eval:online (evalspend.go): the judge's cost lands on the bill of the
// traffic it watches, and that traffic's budgets bound it. A call a
// budget refuses is not made, and its error wraps eval.ErrJudgeRefused,
// so the answer is scored without the judge instead of failing.
func onlineComplete(m *llm.Model, name string, maxTokens int, spend func() *runSpending) eval.CompleteFunc {
	return func(ctx context.Context, system, user string) (string, error) {
		var p sextant.Principal
		if pp, ok := sextant.PrincipalFrom(ctx); ok {
			p = *pp
		}
		mctx, meter, err := spend().meter(ctx, p, onlineTag)
		if err != nil {
			return "", fmt.Errorf("%w: %w", eval.ErrJudgeRefused, err)
		}
		defer meter.done()
		text, err := meteredComplete(m, name, maxTokens, meter)(mctx, system, user)
		if err != nil && mctx.Err() != nil && ctx.Err() == nil {
			// Only a budget's refusal stops the meter's context.
			err = fmt.Errorf("%w: %w", eval.ErrJudgeRefused, err)
		}
		return text, err
	}
}

// offerOnline hands a finished answer to online evaluation. It never
// blocks: the answer is queued (or dropped and counted when the queue is
// full) and scored in the background, after the response went out. The
// answer is scored with ctx's values — its principal and request id, to
// which the judge's calls are booked — without the request's accounting,
// which the answer's own usage record settled.
func (o *operations) offerOnline(ctx context.Context, r *rag.Result) {
	if o.online == nil {
		return
	}
	a := r.Answer // a copy: the caller keeps the Result
	o.online.OfferContext(context.WithValue(ctx, accountingKey{}, (*accounting)(nil)), &a)
}

// onlineDrain bounds how long shutting down waits for queued answers to be
// scored.
const onlineDrain = 10 * time.Second

// closeOnline stops online evaluation, scoring what is queued for at most
// onlineDrain.
func (o *operations) closeOnline(ctx context.Context) error {
	if o.online == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, onlineDrain)
	defer cancel()
	if err := o.online.Close(ctx); err != nil {
		st := o.online.Stats()
		o.log.Warn("online evaluation: answers left unscored at shutdown", "sampled", st.Sampled, "scored", st.Scored, "err", err)
	}
	return nil
}
