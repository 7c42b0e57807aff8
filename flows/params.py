"""Flow parameters that render as a good form in the Prefect UI.

Prefect builds a deployment's form from the flow signature: it keeps a default's description but
sets every title to the parameter's name, unless `json_schema_extra` gives one. Constraints
(ge, le, ...) go in the annotation: Prefect rebuilds the default's Field and would drop them there.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def form(title: str, description: str, default: Any = ...) -> Any:
    """The default of a flow parameter, carrying its form title and help text."""
    return Field(default, description=description, json_schema_extra={"title": title})
