package main

import (
	"context"
	"flag"

	"github.com/sextant-ai/sextant/sqlite"
)

// defaultDataDir is where the store lives when neither --data nor
// SEXTANT_DATA names a directory.
const defaultDataDir = "./sextant-data"

// dataFlag registers --data on fs. Its default is $SEXTANT_DATA when set,
// else ./sextant-data; the flag wins over both.
func dataFlag(fs *flag.FlagSet, e *env) *string {
	def := e.getenv("SEXTANT_DATA")
	if def == "" {
		def = defaultDataDir
	}
	return fs.String("data", def, "data directory holding the store (env SEXTANT_DATA)")
}

// openStore opens (creating and migrating when needed) the store in dir.
func openStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	return sqlite.Open(ctx, dir, sqlite.Options{})
}
