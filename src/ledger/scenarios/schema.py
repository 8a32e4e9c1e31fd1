"""The scenario file format (CONTRACT section 3): loading YAML exactly, and the file's
outer shape. Each event is validated on its own when it is applied, so that an
`expect_error: invalid` on a malformed event can be honoured and the run carry on."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.domain.base import PartyId
from ledger.errors import UsageError

MAX_FILE_BYTES = 64 * 1024 * 1024  # put a limit on everything (TIGER_STYLE)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ExactLoader(_Loader):  # type: ignore[misc, valid-type]
    """YAML with floats read as Decimal from their text: `12.10` stays 12.10, never a
    binary float that would later have to be guessed back."""


def _decimal(loader: yaml.Loader, node: yaml.Node) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    return Decimal(text)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PartyId
    name: str = Field(max_length=200)
    council: PartyId | None = None  # holders: whose budget it is
    # Extensions (see docs/scenarios.md): consent to show a holder's name to a pooling
    # group, the pseudonym used otherwise, and a statement format preference (AIS).
    show_name: bool = False
    pseudonym: str | None = Field(default=None, max_length=100)
    statement_format: Literal["standard", "easy_read", "large_print"] = "standard"


class Parties(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    councils: list[Party] = []
    providers: list[Party] = []
    holders: list[Party] = []


class ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1]
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    parties: Parties = Parties()
    events: list[dict] = []


def _refuse_aliases(text: str) -> None:
    """YAML aliases (*name) can expand a small file into billions of nodes; a scenario
    never needs them, so they are refused before anything is built."""
    for token in yaml.scan(text, Loader=_Loader):
        if isinstance(token, yaml.AliasToken):
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed in a scenario",
                                       problem_mark=token.start_mark)


def load_scenario(path: Path) -> ScenarioFile:
    """Read and check a file's outer shape; any problem is a UsageError (exit 2)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    try:
        _refuse_aliases(text)
        data = yaml.load(text, Loader=_ExactLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{path}: {where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a scenario must be a mapping with format, name, events")
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise UsageError(f"{path}: {where}: {first['msg']}") from None
    for i, event in enumerate(scenario.events):
        if not isinstance(event, dict):
            raise UsageError(f"{path}: events.{i}: an event must be a mapping")
    holders = {h.id for h in scenario.parties.holders}
    councils = {c.id for c in scenario.parties.councils}
    for h in scenario.parties.holders:
        if h.council is None:
            raise UsageError(f"{path}: parties.holders: {h.id} needs a council")
        if h.council not in councils:
            raise UsageError(f"{path}: parties.holders: {h.id}'s council {h.council} "
                             "is not declared")
    if len(holders) != len(scenario.parties.holders):
        raise UsageError(f"{path}: parties.holders: an id is declared twice")
    return scenario
