// Package eval measures the quality of retrieval and of answers: golden
// datasets (JSON Lines and BEIR folders), retrieval metrics with trec_eval
// semantics, answer metrics (exact match, token F1, ROUGE, BLEU, answer
// relevance), claim splitting, the built-in groundedness scorer with its
// LLM judge, the aggregates built on them (hallucination rate,
// grounded-citation rate, citation coverage), and on top of those: suites
// that compare assistant variants on a dataset (Run), gates that fail a run
// against a baseline (CheckGates), reports (JSON, a text table, one
// self-contained HTML page), drafting a starter golden set from documents
// (Draft), and online evaluation of sampled live answers (Online).
//
// Metrics that have a reference implementation reproduce it exactly; each
// function's doc names the reference (the SQuAD v1.1 evaluation script,
// Google's rouge-score, sacreBLEU, trec_eval) and the golden tests check it
// to 1e-6. The package does no I/O of its own: it reads and writes through
// the readers, writers and fs.FS it is given, reaches models through
// CompleteFunc and answers through AnswerFunc, so the wiring (the answer
// pipeline, the model layer, the store) stays in cmd.
package eval
