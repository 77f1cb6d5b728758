//go:build !unix

package main

// cpuSeconds is unavailable here; callers treat 0 as unknown.
func cpuSeconds() float64 { return 0 }
