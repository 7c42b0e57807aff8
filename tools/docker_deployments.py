"""Write deployments/prefect.docker.yaml: the deployments of deployments/prefect.yaml, on a docker work pool.

    .venv/bin/python -m tools.docker_deployments            # rewrite it after editing prefect.yaml
    .venv/bin/python -m tools.docker_deployments --check    # exit 1 if it is not what this would write

The two files differ only in their head comment and in the part between the lines `# >>>` and `# <<<`: where
the code comes from (the image, instead of a clone) and the work pool (image, volume). The deployments, their
schedules, triggers and parameters are copied, so they are written once; a test runs `--check`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEPLOYMENTS = Path(__file__).resolve().parents[1] / "deployments"
PROCESS_FILE = DEPLOYMENTS / "prefect.yaml"
DOCKER_FILE = DEPLOYMENTS / "prefect.docker.yaml"
BEGIN, END = "# >>> ", "# <<<"
FIRST_KEY = "name: prefect-spotdraft"

# The Dockerfile's, as tests/unit/test_deployment_files.py checks: where the project is, and the image user's home.
PROJECT_DIRECTORY = "/opt/prefect-spotdraft"
DATA_DIRECTORY = "/home/spotdraft/.local/share/spotdraft"

HEAD = """\
# The SpotDraft deployments of deployments/prefect.yaml, on a docker work pool: written by
# `python -m tools.docker_deployments` (edit prefect.yaml, then run it; a test checks this file is current).
#
#   docker build -t prefect-spotdraft .          (the Dockerfile: the project, installed, on a slim Python)
#   prefect work-pool create spotdraft-docker --type docker
#   prefect deploy --all --prefect-file deployments/prefect.docker.yaml
#   prefect worker start --pool spotdraft-docker (on a machine with Docker and `pip install prefect-docker`)
#
# Each flow run is a container of the image ($SPOTDRAFT_IMAGE when deploying, else prefect-spotdraft:latest),
# in the directory its code is in; nothing is cloned. Its default database is on the named volume
# spotdraft-data, which outlives the containers; set SPOTDRAFT_DATABASE_URL in the pool's or a deployment's
# `env` job variable for PostgreSQL instead. The credentials document "spotdraft" must exist before deploying.

"""

WHERE = f"""\
# >>> where the code comes from and where it runs (written by tools/docker_deployments.py)
  # The image the runs start from, decided now: $SPOTDRAFT_IMAGE, else prefect-spotdraft:latest.
  - deployments.steps.docker_image:
      id: image

pull:
  # The image holds the code, installed (the Dockerfile): each run starts in its directory.
  - prefect.deployments.steps.set_working_directory:
      directory: {PROJECT_DIRECTORY}

definitions:
  work_pool: &work_pool
    name: spotdraft-docker
    job_variables:
      image: "{{{{ image.name }}}}"
      # The default database (spotdraft.db in the data directory of the image's user) on a named volume.
      volumes:
        - spotdraft-data:{DATA_DIRECTORY}
# <<<
"""


def docker_variant(process_yaml: str) -> str:
    """The docker file's text, from the process file's: the head comment and the marked part replaced."""
    body = process_yaml[process_yaml.index(FIRST_KEY):]
    begin = body.index(BEGIN)
    end = body.index(END, begin)
    end = body.index("\n", end) + 1
    return HEAD + body[:begin] + WHERE + body[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docker_deployments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not current; write nothing")
    args = parser.parse_args(argv)
    wanted = docker_variant(PROCESS_FILE.read_text(encoding="utf-8"))
    current = DOCKER_FILE.read_text(encoding="utf-8") if DOCKER_FILE.exists() else None
    if args.check:
        if current != wanted:
            print(f"{DOCKER_FILE.name} is not current: run python -m tools.docker_deployments", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOCKER_FILE.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOCKER_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
