package metrics

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// Instrument wraps next so that every request is counted and timed under
// its handler group, and the bodies of push and pull groups are counted
// as bytes pushed and pulled.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		group, dir := m.group(r)
		method := methodLabel(r.Method)
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		var body *countingReader
		if dir == Push && r.Body != nil && r.Body != http.NoBody {
			body = &countingReader{ReadCloser: r.Body}
			r.Body = body
		}
		next.ServeHTTP(cw, r)
		m.requests.WithLabelValues(group, method, strconv.Itoa(cw.status)).Inc()
		m.duration.WithLabelValues(group, method).Observe(time.Since(start).Seconds())
		switch {
		case dir == Push && body != nil:
			m.pushed.Add(float64(body.n))
		case dir == Pull && r.Method == http.MethodGet && cw.status < 300:
			m.pulled.Add(float64(cw.n))
		}
	})
}

// methodLabel keeps the method label to the methods berth serves.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

type countingReader struct {
	io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// countingWriter records the status and counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	n           int64
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wroteHeader && code >= 200 {
		c.status, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wroteHeader = true
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path for blob bodies.
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	c.wroteHeader = true
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{c.ResponseWriter}, r)
	}
	c.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines).
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
