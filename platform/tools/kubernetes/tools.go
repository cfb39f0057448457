//go:build tools

// Package tools pins the Kubernetes control plane `make test-deploy` runs on loopback (platform/k3s/apiserver):
// etcd, kube-apiserver, kube-controller-manager and kubectl at the Kubernetes minor of the pinned k3s, built once
// per machine from the Go module proxy. k8s.io/kubernetes is not meant to be a dependency: each of its staging
// modules (k8s.io/api, k8s.io/apiserver, …) is required as v0.0.0 and needs a replace to its published version.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
