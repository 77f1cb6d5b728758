//go:build !linux

package main

// threadCPU is unavailable off Linux; callers fall back to wall time.
func threadCPU() (int64, bool) { return 0, false }
