// Package sextant holds the domain vocabulary of Sextant, a self-hosted
// retrieval-augmented assistant platform in one binary: documents and their
// chunks, queries and filters, search hits, chat messages and usage, and the
// small set of error codes every other package speaks.
//
// This package imports only the standard library. Every other package in the
// module depends on it, never the other way round (see deps_test.go).
package sextant
