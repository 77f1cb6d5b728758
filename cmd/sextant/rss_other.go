//go:build !unix

package main

// maxRSSBytes is unavailable here; 0 means unknown.
func maxRSSBytes() int64 { return 0 }
