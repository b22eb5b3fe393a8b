# Container and Kubernetes deployment targets (included by the top Makefile; see deploy/README.md).

.PHONY: check-deploy smoke-container

## Lint and validate the Dockerfile and deploy/ (hadolint, yamllint, kustomize render,
## kubernetes-validate, consistency with the server). Tools go to a venv (.venv-deploy/).
check-deploy:
	bash scripts/deploy/check.sh

## Build with `make release` and run the binary as the image would, in a chroot holding only
## the runtime stage's libraries; probe, POST a golden case, SIGTERM. Needs root.
smoke-container:
	bash scripts/deploy/smoke.sh
