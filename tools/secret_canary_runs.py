"""The in-process half of the secret canary (tests/e2e/test_secret_canary.py): `python -m tools.secret_canary_runs`.

Runs, as a user composing the flows in their own process would, against the Prefect server that
PREFECT_API_URL names (so every run, log, result and event lands on that server):
1. `sync_contracts` into the PostgreSQL database of CANARY_DATABASE_URL (password from PGPASSWORD);
2. a workspace file up and down through the signed storage URLs, with httpx's INFO logging turned
   on and sent to Prefect (PREFECT_LOGGING_EXTRA_LOGGERS=httpx), as a user debugging requests would,
   and with credentials built in code (an unsaved Block as a flow run parameter);
3. each flow called with a database URL that carries its password (CANARY_BAD_URLS, a JSON list):
   each call must be refused with an error that does not repeat the password.

The credentials come from the saved `spotdraft` Block document (`python -m tools.secret_canary_runs
setup` registers the type, saves it and creates the work pool, as an operator would). Configuration comes from the
environment only (nothing secret on a command line); one JSON object per step is printed on stdout,
which the test reads (and scans, like every other output).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from prefect import flow

from blocks import SpotDraftCredentials
from flows import create_contracts, review_failed_operations, sync_contracts
from tasks.transfers import download_workspace_file, upload_workspace_file
from tools.prefect_server import flush_prefect_workers


@flow(name="canary-workspace-file-round-trip")
def round_trip(credentials: SpotDraftCredentials, source: str, destination: str) -> dict[str, Any]:
    """A workspace file up to the signed store and back down again."""
    uploaded = upload_workspace_file(credentials, source)
    downloaded = download_workspace_file(credentials, uploaded["file_id"], destination)
    return {"uploaded": uploaded, "downloaded": downloaded}


def _say(**fields: Any) -> None:
    print("CANARY-STEP " + json.dumps(fields, default=str), flush=True)


def setup() -> int:
    """What an operator does once per server, in one process (each CLI call would start its own):
    the Block type registered, the `spotdraft` credentials document saved (from CANARY_CLIENT_ID,
    CANARY_CLIENT_SECRET, CANARY_BASE_URL) and the `spotdraft` process work pool created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    SpotDraftCredentials.register_type_and_schema()
    SpotDraftCredentials(client_id=os.environ["CANARY_CLIENT_ID"], client_secret=os.environ["CANARY_CLIENT_SECRET"],
                         base_url=os.environ["CANARY_BASE_URL"]).save("spotdraft", overwrite=True)
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="spotdraft", type="process",
                                               base_job_template=ProcessWorker.get_default_base_job_template()),
                                overwrite=True)
    return 0


def main() -> int:
    logging.getLogger("httpx").setLevel(logging.INFO)  # the user turns on httpx's request log
    database_url = os.environ["CANARY_DATABASE_URL"]
    bad_urls: list[dict[str, str]] = json.loads(os.environ["CANARY_BAD_URLS"])
    template_id = int(os.environ["CANARY_TEMPLATE_ID"])
    workdir = Path(os.environ["CANARY_WORKDIR"])
    credentials = SpotDraftCredentials.load("spotdraft")

    state = sync_contracts(credentials, database_url=database_url, page_size=10, concurrency=4, return_state=True)
    _say(step="sync", state=state.type.value, message=state.message)

    source = workdir / "canary terms.pdf"
    source.write_bytes(b"%PDF-1.4\n" + os.urandom(64 * 1024))
    (workdir / "back").mkdir(exist_ok=True)
    # Built in code rather than loaded, as a user composing tasks often does: an unsaved Block
    # (its secret inside) becomes a flow run parameter.
    inline = SpotDraftCredentials(client_id=credentials.client_id, client_secret=credentials.client_secret,
                                  base_url=credentials.base_url)
    state = round_trip(inline, str(source), str(workdir / "back"), return_state=True)
    result = state.result(raise_on_failure=False) if state.is_completed() else None
    back = Path(result["downloaded"]["path"]) if isinstance(result, dict) else None
    _say(step="files", state=state.type.value, message=state.message,
         same_bytes=bool(back and back.read_bytes() == source.read_bytes()))

    record = {
        "external_id": "canary-refusal", "contract_data": {"customer_name": "Acme"},
        "counter_party_details": [{"is_individual": False, "organization_name": "Acme",
                                   "poc_details": {"first_name": "A", "email": "a@acme.example"}}],
    }
    calls = {
        "sync_contracts": lambda url: sync_contracts(credentials, database_url=url, page_size=50,
                                                     reference_data=False),
        "create_contracts": lambda url: create_contracts(credentials, template_id, records=[record],
                                                         database_url=url),
        "review_failed_operations": lambda url: review_failed_operations(credentials, database_url=url,
                                                                         timeout_minutes=0.05, poll_seconds=1),
    }
    for name, call in calls.items():
        for bad in bad_urls:
            try:
                call(bad["url"])
            except Exception as error:  # any refusal counts; its text is what is checked
                _say(step="refusal", flow=name, kind=bad["kind"], refused=True, error_type=type(error).__name__,
                     message=str(error), traceback="".join(traceback.format_exception(error)))
            else:
                _say(step="refusal", flow=name, kind=bad["kind"], refused=False)
    flush_prefect_workers()
    return 0


if __name__ == "__main__":
    sys.exit(setup() if sys.argv[1:] == ["setup"] else main())
