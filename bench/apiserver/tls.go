package main

import "crypto/tls"

// insecureTLS is for polling /readyz before the bench has read the cluster CA.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // readiness probe only
