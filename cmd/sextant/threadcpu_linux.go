//go:build linux

package main

import (
	"syscall"
	"unsafe"
)

// threadCPU returns the CPU time consumed by the calling OS thread, in
// nanoseconds (CLOCK_THREAD_CPUTIME_ID). Callers lock their goroutine to
// the thread. ok is false when the clock is unavailable.
func threadCPU() (ns int64, ok bool) {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return ts.Nano(), true
}
