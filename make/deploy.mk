# Container and Kubernetes deployment targets (included by the top Makefile; see deploy/README.md).

.PHONY: check-deploy smoke-container smoke-image

## Lint and validate the Dockerfile and deploy/ (hadolint, yamllint, kustomize render,
## kubernetes-validate, consistency with the option table of the release build). Tools go to a venv (.venv-deploy/).
check-deploy: release
	bash scripts/deploy/check.sh

## Build with `make release` and run the binary as the image would, in a chroot holding only
## the runtime stage's libraries; probe, POST a golden case, SIGTERM. Needs root.
smoke-container:
	bash scripts/deploy/smoke.sh

## The real image: podman builds the Dockerfile's runtime stage from the release binary (the base
## made locally with mmdebstrap, cached) and runs it with the production options and as the
## sidecar overlay's container spec; probes, limits, golden cases, socket, SIGTERM. Needs root.
smoke-image: release huge-pages
	bash scripts/deploy/smoke-image.sh $(BIN)
