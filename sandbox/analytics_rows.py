"""The rows of the sandbox's analytics tables, derived from its workspace: the contracts' own ids, types,
statuses, counterparties and dates, so an analytics query agrees with the contract list.

Values SpotDraft computes (stage times, negotiation rounds, workflows, entities) are drawn from an RNG of
their own per contract, seeded from the workspace's seed and the contract's id: the same every time, and
the workspace's own draws (seeding.py) are left as they were. Times are kept as GoogleSQL's JSON shows
them: ISO 8601 text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .seeding import ANCHOR, CONTRACT_TYPES
from .wire import iso

if TYPE_CHECKING:
    from .data import SandboxState
    from .records import Contract

STATUS = {"DRAFT": "Draft", "REDLINING": "Redlining", "SIGN": "Sign", "EXECUTED": "Executed",
          "ON_HOLD": "On Hold", "VOIDED": "Voided"}  # fmt: skip
KIND = {"T": "Template Contracts", "H": "Externally Executed Contracts"}
ENTITIES = ((1, "Sandbox Inc."), (2, "Sandbox GmbH"), (3, "Sandbox Pvt. Ltd."))
TEAMS = ("Legal", "Sales", "Procurement", "Finance")
WORKFLOW_BASE = 200  # workflow id of the first contract type; its frozen versions are id*10+1 and id*10+2
APPROVAL_STEPS = ("Legal review", "Finance approval")
SIGNATORY_SLOTS = (("COUNTER_PARTY", "Counterparty signatory"), ("CREATOR_PARTY", "Company signatory"))
Row = dict[str, Any]


def workflow_of(type_id: int) -> int:
    return WORKFLOW_BASE + [t for t, _ in CONTRACT_TYPES].index(type_id)


def _day(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment is not None else None


def _stamp(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def contract_row(c: Contract, workspace_id: int, seed: int) -> Row:
    """One row of `contracts` for a contract as it is now."""
    r = random.Random(seed * 1_000_003 + c.id)
    workflow = workflow_of(c.contract_type_id)
    started, last = c.created, max(c.last_updated_on, c.created)
    days = (last - started).total_seconds() / 86400
    shares = [r.random() + 0.05 for _ in range(3)]
    draft, redlining, sign = (days * s / sum(shares) for s in shares)
    reached = {"DRAFT": 0, "REDLINING": 1, "ON_HOLD": 1, "VOIDED": 1, "SIGN": 2, "EXECUTED": 3}[c.status]
    template = c.kind == "T"
    client_rounds, cp_rounds = r.randint(0, 4), r.randint(0, 4)
    term = r.choice((12, 24, 36))
    redlining_starts = started + timedelta(days=draft) if template and reached >= 1 else None
    sign_starts = redlining_starts + timedelta(days=redlining) if redlining_starts and reached >= 2 else None
    executed = last if c.status == "EXECUTED" else None
    signers_cp, signers_co = r.randint(1, 2), 1
    row: Row = {
        "contract_id": c.id, "workspace_id": workspace_id, "contract_kind": KIND[c.kind],
        "contract_status": STATUS[c.status], "contract_type_id": c.contract_type_id,
        "contract_type": c.contract_type_name, "created_date": _day(started), "execution_date": _day(executed),
        "expiry_date": _day(executed + timedelta(days=30 * term)) if executed else None,
        "term_length": f"{term} months", "counterparty_name": c.counter_party_name,
        "entity_name": r.choice(ENTITIES)[1], "redlining_starts": _stamp(redlining_starts),
        "sign_starts": _stamp(sign_starts),
        "sign_email_sent": _stamp(sign_starts + timedelta(minutes=r.randint(1, 90))) if sign_starts else None,
        "frozen_workflow_id": workflow * 10 + r.choice((1, 2)), "workflow_id": workflow,
        "workflow_title_at_creation": f"{c.contract_type_name} workflow",
        "current_workflow_title": f"{c.contract_type_name} workflow",
        "contract_ageing_days": int(days), "reviews_requested": r.randint(0, 3) if template else None,
        "sign_pending_with": "Executed" if executed else (
            r.choice(("Pending with Counterparty Signatory", "Pending with Company Signatory")) if sign_starts
            else None),
    }
    if template:
        row |= {"draft_time": round(draft, 3) if reached >= 1 else None,
                "redlining_time": round(redlining, 3) if reached >= 2 else None,
                "sign_time": round(sign, 3) if executed else None,
                "execution_time": round(days, 3) if executed else None,
                "client_rounds": client_rounds, "cp_rounds": cp_rounds, "turns": client_rounds + cp_rounds,
                "on_hold_rounds": int(c.status == "ON_HOLD"), "pending_reviews": 0}
        if row["redlining_time"] is not None:
            row["client_redlining_time"] = round(redlining * client_rounds / max(1, row["turns"]), 3)
            row["counterparty_redlining_time"] = round(row["redlining_time"] - row["client_redlining_time"], 3)
    if executed:
        row |= {"counterparties_signatory_signed": signers_cp, "company_signatory_signed": signers_co,
                "pending_counterparty_signatories": 0, "pending_company_signatories": 0,
                "total_time_to_sign_counterparty_hours": round(sign * 24 * 0.6, 3) if template else None,
                "total_time_to_sign_company_hours": round(sign * 24 * 0.4, 3) if template else None,
                "signature_collection": round(sign * 0.8, 3) if template else None}
    return row


def user_rows(state: SandboxState) -> Iterator[Row]:
    for number, user in enumerate(state.users, 1):
        yield {"id": number, "created": iso(ANCHOR - timedelta(days=400 - number)),
               "last_activity_date": iso(ANCHOR - timedelta(hours=number)), "invite_accepted": True,
               "first_login_date": iso(ANCHOR - timedelta(days=399 - number)), "is_active": True, "is_deleted": False,
               "designation": user.name.split()[0] + "'s role", "created_by_workspace_id": state.workspace_id,
               "teams": TEAMS[(number - 1) % len(TEAMS)], "seniority_level": "Senior" if number == 1 else "Mid",
               "department": TEAMS[(number - 1) % len(TEAMS)], "app_usage_purposes": "Contract management",
               "licensed_user": number <= 3}


def setup_rows(state: SandboxState) -> dict[str, list[Row]]:
    """The setup tables: workflows (two frozen versions per contract type), their approval steps and
    signatory slots, contract types, counterparties and entities."""
    ws, published = state.workspace_id, iso(ANCHOR - timedelta(days=365))
    rows: dict[str, list[Row]] = {name: [] for name in ("workflows_setup", "approvals_setup", "signatures_setups")}
    for type_id, type_name in CONTRACT_TYPES:
        workflow = workflow_of(type_id)
        for version in (1, 2):
            frozen = workflow * 10 + version
            rows["workflows_setup"].append({
                "workspace_id": ws, "frozen_workflow_id": frozen, "workflow_id": workflow,
                "title": f"{type_name} workflow", "status": "PUBLISHED" if version == 2 else "ARCHIVED",
                "created": published, "last_published": published, "unpublished_changes_present": False,
                "cp_contract_download_permission": "ENABLE_PDF_ONLY"})
            for order, step in enumerate(APPROVAL_STEPS, 1):
                rows["approvals_setup"].append({
                    "approval_id": f"ap-{frozen}-{order}", "approval_ver": f"v{version}", "id": frozen * 10 + order,
                    "approval_name": step, "approval_order": order, "frozen_workflow_id": frozen,
                    "workflow_id": workflow, "workflow_name": f"{type_name} workflow",
                    "status": "PUBLISHED" if version == 2 else "ARCHIVED", "type": "TEMPLATE_WORKFLOW",
                    "conditional_approval": order == 2, "workspace_id": ws, "role_id": order,
                    "skip_approval_restriction": False, "download_contract_restriction": False,
                    "send_to_cp_restriction": order == 1})
        for order, (party, label) in enumerate(SIGNATORY_SLOTS, 1):
            rows["signatures_setups"].append({
                "default_signature_id": workflow * 10 + order, "type": party, "name": label, "sign_order": order,
                "created": published, "workspace_id": ws, "workflow_id": workflow, "conditional_signatory": False,
                "conditional_routing": False})
    rows["contract_types_setup"] = [{"workspace_id": ws, "contract_type_id": t["id"], "contract_type": t["name"]}
                                    for t in state.contract_types]
    rows["counterparties_setup"] = [{"workspace_id": ws, "counterparty_name": cp.name, "status": cp.status}
                                    for _, cp in sorted(state.counterparties.items())]
    rows["entities_setup"] = [{"workspace_id": ws, "entity_name": name, "id": entity, "created": published,
                               "modified": published, "is_primary": entity == 1, "is_deleted": False,
                               "jurisdiction_id": entity, "organization_id": 1, "organization_type_id": 1}
                              for entity, name in ENTITIES]
    return rows
