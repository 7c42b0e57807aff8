"""Flow parameters that render as a good form in the Prefect UI.

Prefect builds a deployment's form from the flow signature: it keeps a default's description but
sets every title to the parameter's name, unless `json_schema_extra` gives one. Constraints
(ge, le, ...) go in the annotation: Prefect rebuilds the default's Field and would drop them there.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema


def form(title: str, description: str, default: Any = ...) -> Any:
    """The default of a flow parameter, carrying its form title and help text."""
    return Field(default, description=description, json_schema_extra={"title": title})


def database_url_form(description: str, default: str) -> Any:
    """The `database_url` parameter: a URL whose password, if any, is refused by the form and the server."""
    from flows.common import DATABASE_URL_PATTERN

    return Field(default, description=description + " No password in it: give it to the worker as PGPASSWORD "
                 "or in ~/.pgpass.", json_schema_extra={"title": "Database URL", "pattern": DATABASE_URL_PATTERN})


# Annotations for how a parameter is drawn, where Prefect's default drawing gets in the way (validation
# still uses the Python type):
# - `str | None` becomes a "str / None" switch that must be flipped before typing: a plain text box
#   instead. Give it the default "" (empty, meaning none): with None the form's own check refuses
#   the untouched box ("None is not of type 'string'").
OptionalText = Annotated[str | None, WithJsonSchema({"type": "string"})]
# - a list or dict of objects becomes one JSON editor per item (or a switch): one editor for the whole
#   value instead, where a list can be pasted at once.
JsonList = Annotated[list[dict[str, Any]] | None, WithJsonSchema({})]
JsonObject = Annotated[dict[str, Any] | None, WithJsonSchema({})]
