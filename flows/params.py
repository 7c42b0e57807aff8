"""Flow parameters that render as a good form in the Prefect UI.

Prefect builds a deployment's form from the flow signature: it keeps a default's description but
sets every title to the parameter's name, unless `json_schema_extra` gives one. Constraints
(ge, le, ...) go in the annotation: Prefect rebuilds the default's Field and would drop them there.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from blocks.credentials import OptionalText

__all__ = ["SYNCED_DATABASE", "JsonList", "OptionalText", "database_url_form", "form"]

# The database_url help of the flows that copy SpotDraft into SQL.
SYNCED_DATABASE = ("SQLAlchemy URL of the database to write, e.g. postgresql+psycopg://user@host/db or "
                   "sqlite:////var/lib/spotdraft/spotdraft.db.")


def form(title: str, description: str, default: Any = ..., shown_default: Any = ...) -> Any:
    """The default of a flow parameter, carrying its form title and help text.

    `shown_default` is what the form starts with when it differs from the Python default: an
    optional text box (OptionalText) keeps None as its default for Python callers but starts the
    form empty, since the form's own check refuses an untouched box holding None ("None is not of
    type 'string'").
    """
    extra = {"title": title, **({} if shown_default is ... else {"default": shown_default})}
    return Field(default, description=description, json_schema_extra=extra)


def credentials_form(action: str = "read from") -> Any:
    """The credentials Block parameter, picked from a drop-down of saved documents in the run form."""
    return form("SpotDraft credentials", f"The credentials Block of the workspace to {action}.")


def database_url_form(description: str) -> Any:
    """The `database_url` parameter (an OptionalText): a URL whose password, if any, is refused by the form and
    the server. Left empty (None), the flow writes the worker's default database (database_url_or_default), so
    a deployment that names none runs wherever its worker runs: the default is read there, not when deploying."""
    from flows.common import DATABASE_URL_PATTERN

    return Field(None, description=description + " Empty: the worker's $SPOTDRAFT_DATABASE_URL, else spotdraft.db "
                 "in its user's data directory (~/.local/share/spotdraft). No password in it: give it to the worker "
                 "as PGPASSWORD or in ~/.pgpass.",
                 json_schema_extra={"title": "Database URL", "pattern": DATABASE_URL_PATTERN, "default": ""})


# Annotations for how a parameter is drawn, where Prefect's default drawing gets in the way (validation
# still uses the Python type):
# - `str | None` becomes a "str / None" switch that must be flipped before typing: OptionalText (the
#   Block's, imported above) is a plain text box instead; with `form(..., None, shown_default="")`
#   it starts empty, and empty means None. (A deployment run asked for
#   through the API must then leave the parameter out rather than send null: the server checks
#   against the schema, and refuses null, before the run exists.)
# - a list of objects becomes one JSON editor per item (or a switch): one editor for the whole value
#   instead, where a list can be pasted at once.
JsonList = Annotated[list[dict[str, Any]] | None, WithJsonSchema({})]
