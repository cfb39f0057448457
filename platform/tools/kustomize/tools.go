//go:build tools

// Package tools pins kustomize v5 so `go build` from the Go module proxy gives every machine the same
// renderer that `kubectl apply -k` embeds. Build: go build -trimpath -o <bin> sigs.k8s.io/kustomize/kustomize/v5
package tools

import _ "sigs.k8s.io/kustomize/kustomize/v5"
