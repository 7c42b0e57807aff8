"""`prefect deploy`'s files: prefect.yaml (a process work pool), prefect.docker.yaml (a docker one), and the
build steps they call (deployments.steps)."""
