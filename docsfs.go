package sextant

import "embed"

// Docs holds the user manual (docs/*.md) compiled into the binary. It is
// the sample corpus `sextant serve` ingests on first start, so a new
// installation can answer questions about Sextant itself before any
// document of its own was added. Read-only.
//
//go:embed docs/*.md
var Docs embed.FS
