"""register_webhook / unregister_webhook: point SpotDraft's deliveries at our receiver, and stop them.

Registering creates the subscription (`create_webhook`) and keeps SpotDraft's HMAC key in a Prefect
Secret block, from which the receiver loads it (`python -m webhooks --key-block NAME`). The key is
per workspace, not per subscription: every delivery of the workspace is signed with it.

A subscription cannot be looked up afterwards (the API has no list of webhooks), so a create whose
answer was lost is not repeated: the client never repeats a POST that is not safe to repeat, and
the run fails saying so, with a dead letter. The key is fetched and stored after the subscription
exists; storing it again is harmless, so a run that failed there can simply be run again once the
subscription is deleted, or the key stored by hand.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from prefect.blocks.system import Secret
from prefect.logging import get_run_logger
from pydantic import AfterValidator, Field

import tasks
from blocks import SpotDraftCredentials
from client import SpotDraftError
from client.errors import NotFoundError
from client.models import OnlyForActivitiesEnum
from client.regions import check_base_url
from flows.common import data_flow
from flows.params import OptionalText, form

DEFAULT_KEY_BLOCK = "spotdraft-webhook-key"
# What the receiver, the per-contract sync and the archive are for: a contract's life, from creation to
# execution, and its new document versions (archive-contract-on-execution archives an executed one's).
DEFAULT_ACTIVITIES = [
    "CONTRACT_CREATED", "CONTRACT_SENT_TO_COUNTERPARTY", "CONTRACT_SIGNATURE_REQUESTED", "CONTRACT_SIGNED",
    "CONTRACT_EXECUTED", "CONTRACT_PROCESS_METRIC_UPDATED", "CONTRACT_VERSION_UPLOADED",
]


def check_receiver_url(url: str) -> str:
    """The receiver's URL as SpotDraft will call it: https (http only to a loopback sandbox), no credentials."""
    parts = urlsplit(url.strip())
    if parts.fragment:
        raise ValueError("the receiver URL must not carry a fragment")
    try:
        check_base_url(f"{parts.scheme}://{parts.netloc}")
    except ValueError as error:
        raise ValueError(str(error).replace("base_url", "the receiver URL")) from None
    return url.strip()


ReceiverUrl = Annotated[str, AfterValidator(check_receiver_url)]
Activities = Annotated[list[OnlyForActivitiesEnum], Field(min_length=1)]


@data_flow("register-webhook", run_name="register-webhook")
def register_webhook(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block of the workspace whose deliveries to receive."
    ),
    url: ReceiverUrl = form(
        "Receiver URL", "Where SpotDraft posts deliveries: the receiver's public https address ending in "
        "/spotdraft/webhooks (see the README: the receiver behind a TLS proxy).",
    ),
    activities: Activities = form(
        "Activities", "The activity types to deliver (SpotDraft's names, e.g. CONTRACT_EXECUTED).",
        DEFAULT_ACTIVITIES,
    ),
    key_block: str = form(
        "Key block", "Name of the Prefect Secret block that receives SpotDraft's HMAC key (created or replaced).",
        DEFAULT_KEY_BLOCK,
    ),
    title: str = form("Title", "The subscription's title in SpotDraft's Developer settings.",
                      "Prefect: SpotDraft receiver"),
) -> dict[str, Any]:
    """Subscribe the receiver's URL to SpotDraft's deliveries and keep the signing key in a Secret block."""
    logger = get_run_logger()
    created = tasks.create_webhook(credentials, {"title": title, "url": url, "only_for_activities": activities})
    webhook_id = created.get("id") if isinstance(created, dict) else None
    logger.info("Registered webhook %s for %d activity types", webhook_id, len(activities))
    answer = tasks.get_webhook_hmac_key(credentials)
    key = answer.get("hmac_key") if isinstance(answer, dict) else None
    if key is None:
        raise SpotDraftError(f"webhook {webhook_id} was registered, but SpotDraft's answer held no hmac_key; "
                             f"store the key in the Secret block {key_block!r} by hand")
    Secret(value=key).save(key_block, overwrite=True)  # a SecretStr: the block keeps it as a secret
    logger.info("Stored the webhook signing key in the Secret block %r", key_block)
    return {"webhook_id": webhook_id, "url": url, "activities": list(activities), "key_block": key_block}


@data_flow("unregister-webhook", run_name="unregister-webhook {webhook_id}")
def unregister_webhook(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block of the workspace the subscription belongs to."
    ),
    webhook_id: Annotated[int, Field(ge=1)] = form("Webhook id", "The id register_webhook returned."),
    key_block: OptionalText = form(
        "Key block", "The Secret block holding the signing key, deleted too; leave it empty to keep it "
        "(the key signs every subscription of the workspace).", DEFAULT_KEY_BLOCK,
    ),
) -> dict[str, Any]:
    """Remove a subscription, and the Secret block that holds the signing key."""
    logger = get_run_logger()
    try:
        tasks.delete_webhook(credentials, webhook_id)
        outcome = "deleted"
    except NotFoundError:
        outcome = "already gone"
    logger.info("Webhook %s: %s", webhook_id, outcome)
    key_deleted = False
    if key_block:
        try:
            Secret.delete(key_block)
            key_deleted = True
        except ValueError:  # Prefect's answer for a block document that does not exist
            logger.info("No Secret block %r to delete", key_block)
    return {"webhook_id": webhook_id, "webhook": outcome, "key_block_deleted": key_deleted}
