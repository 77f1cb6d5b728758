package web

import (
	"encoding/json"
	"net/http"
)

// sse writes Server-Sent Events, flushing after each one, so a client
// sees every piece as soon as it exists.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	err     error // the first write error: the client went away
}

func newSSE(w http.ResponseWriter) *sse {
	return &sse{w: w, rc: http.NewResponseController(w)}
}

// start sends the response headers of an event stream.
func (s *sse) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	s.w.WriteHeader(http.StatusOK)
}

// data sends "data: <json of v>\n\n"; event, when set, precedes it as
// "event: <event>\n".
func (s *sse) data(event string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return false
	}
	return s.raw(event, b)
}

// raw sends one event whose data is b (one line).
func (s *sse) raw(event string, b []byte) bool {
	if s.err != nil {
		return false
	}
	s.start()
	buf := make([]byte, 0, len(b)+len(event)+16)
	if event != "" {
		buf = append(append(append(buf, "event: "...), event...), '\n')
	}
	buf = append(append(append(buf, "data: "...), b...), '\n', '\n')
	if _, err := s.w.Write(buf); err != nil {
		s.err = err
		return false
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
		return false
	}
	return true
}
