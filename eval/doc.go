// Package eval measures the quality of retrieval and of answers: datasets,
// retrieval metrics, answer metrics (exact match, token F1, ROUGE, BLEU,
// answer relevance), claim splitting with citation parsing, the built-in
// groundedness scorer with its LLM-judge hook, and the aggregates built on
// them (hallucination rate, grounded-citation rate, citation coverage).
//
// Metrics that have a reference implementation reproduce it exactly; each
// function's doc names the reference (the SQuAD v1.1 evaluation script,
// Google's rouge-score, sacreBLEU) and the golden tests check it to 1e-6.
// Everything here is a pure function of its inputs or a small type with
// documented zero defaults: no I/O, no global mutable state.
package eval
