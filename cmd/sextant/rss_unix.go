//go:build unix

package main

import (
	"runtime"
	"syscall"
)

// maxRSSBytes returns the peak resident set size of the process.
func maxRSSBytes() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss // bytes on macOS
	}
	return ru.Maxrss * 1024 // KiB elsewhere
}
