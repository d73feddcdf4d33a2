// Package kubernetes is the Kubernetes recipe of echobench (server.yaml,
// load-job.yaml, run.sh, Dockerfile; docs/distributed.md walks through a
// run). It holds no code, only the recipe's tests, which need no cluster:
// `make k8s-test` checks the manifests against testdata/apischema.json, a
// schema of the API types' JSON; `make k8s-test-full` (build tag apitypes)
// decodes them strictly into the API types from k8s.io/api and checks that
// the schema is theirs. It is a module of its own so that the main module
// does not depend on those types.
package kubernetes
