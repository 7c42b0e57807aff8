"""The credentials Block is the previous release's: same schema and block type, and it loads a document
that release saved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.blocks import block_description
from tests.support.paths import ROOT

# The release's class, imported under its own module name in a process of its own (imported here, it would
# replace ours in Prefect's registry of Block types for the rest of the session).
BLOCK_OF_RELEASE = textwrap.dedent("""
    import importlib.util, json, sys
    from tests.support.blocks import block_description
    spec = importlib.util.spec_from_file_location("released_credentials", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    block = module.SpotDraftCredentials
    block(client_id="released", client_secret="s3cret-released", region="EU",
          user_email="ops@example.com").save(sys.argv[2], overwrite=True)
    print(json.dumps(block_description(block)))
""")


@pytest.mark.usefixtures("prefect_api")
def test_the_block_is_the_previous_releases_and_loads_a_document_it_saved(tmp_path):
    """57fd4b1 made SpotDraftCredentials a CredentialsBlock: its parent is the release before it."""
    import prefect.settings

    from blocks import SpotDraftCredentials

    released = tmp_path / "released_credentials.py"
    released.write_text(subprocess.run(["git", "show", "57fd4b1^:blocks/credentials.py"], cwd=ROOT, check=True,
                                       capture_output=True, text=True).stdout)
    env = {**os.environ, "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()), "PYTHONPATH": str(ROOT)}
    env.pop("SPOTDRAFT_BLOCK_LOGO_URL", None)
    old = subprocess.run([sys.executable, "-W", "ignore", "-c", BLOCK_OF_RELEASE, str(released), "saved-by-release"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert old.returncode == 0, old.stderr
    assert block_description(SpotDraftCredentials) == json.loads(old.stdout.splitlines()[-1])

    loaded = SpotDraftCredentials.load("saved-by-release")
    assert type(loaded) is SpotDraftCredentials
    assert (loaded.client_id, loaded.client_secret.get_secret_value(), loaded.region.value, loaded.user_email) == (
        "released", "s3cret-released", "EU", "ops@example.com")
