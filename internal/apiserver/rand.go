package apiserver

import "crypto/rand"

// randReader adapts crypto/rand for APIs that take an io.Reader.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return rand.Read(p) }
