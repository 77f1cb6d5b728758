package web

import (
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	var l failureLimiter
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recorded := 0
	for i := range AuthFailuresPerSecond + 10 {
		if s, ok := l.allow(t0.Add(time.Duration(i) * time.Millisecond)); ok {
			if s != 0 {
				t.Fatalf("suppressed %d inside the first window", s)
			}
			recorded++
		}
	}
	if recorded != AuthFailuresPerSecond {
		t.Fatalf("recorded %d in one second; want %d", recorded, AuthFailuresPerSecond)
	}
	s, ok := l.allow(t0.Add(1500 * time.Millisecond))
	if !ok || s != 10 {
		t.Fatalf("next window: allowed %v, suppressed %d; want true, 10", ok, s)
	}
	if s, ok := l.allow(t0.Add(1600 * time.Millisecond)); !ok || s != 0 {
		t.Fatalf("suppressed count not reset: %d", s)
	}
}
