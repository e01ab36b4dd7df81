"""The report's cost section: what the figures are per (request, inference), what priced them, and
when a price is an estimate, in the words a reader needs before quoting any of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.report.document import Block, Para
from kit.results import estimate
from kit.results.price_table import PriceTable

FORMULA = (
    "USD per 1M requests = USD per hour of the server host / (sustainable rate × 3600) × 10^6, and "
    "USD per 1M inferences = USD per 1M requests / instances per request (a medium or large payload "
    "carries several instances, each one inference; the counts are the ones the run's payloads were "
    "built with, from its manifest). The client host is not priced. The sustainable rate is the SLO "
    "sweep's best rate when a sweep ran, else the highest rate whose every repetition counted with at "
    "most 1 % errors (a lower bound: the server was not pushed to its limit)."
)


def blocks(prices: PriceTable, man: Mapping[str, Any] | None) -> list[Block]:
    """The paragraphs above the cost table."""
    source = Para(f"Prices: {prices.label}. {FORMULA}")
    if man is None:
        return [source, Para("No readable manifest: the server hosts, and so their prices, are unknown.")]
    out: list[Block] = [source]
    if man.get("provider") != "aws":
        rate = estimate.family_rate(prices)
        out.append(
            Para(
                f"This run's servers are {man.get('provider')} hosts, not cloud instances: every price "
                "below is an **estimate**, the on-demand cost of the same vCPUs and memory in "
                f"{rate.method}. It says what this capacity would cost to rent, not what the run cost; "
                "each figure priced so is marked (estimate)."
                if isinstance(rate, estimate.FamilyRate)
                else f"This run's servers are {man.get('provider')} hosts, not cloud instances, and they "
                f"have no estimate either: {rate.removeprefix('no price: ')}."
            )
        )
    if not man.get("payload_instances"):
        out.append(
            Para(
                "This run's manifest does not record the instances per request (it was written before "
                "they were recorded): they are taken from today's scenario registry, and each row says so."
            )
        )
    recorded = man.get("price_table")
    if isinstance(recorded, dict) and recorded.get("sha256") != prices.sha256:
        out.append(
            Para(
                f"The run was benched when the newest price table was {recorded.get('file')} (of "
                f"{recorded.get('as_of')}); these figures use {prices.path.name}, the newest now."
            )
        )
    return out


def prices_json(prices: PriceTable, man: Mapping[str, Any] | None) -> dict[str, Any]:
    """`kit report --json`'s `prices`: the table, the estimate's method when one priced the run, and
    the table the manifest recorded at bench."""
    out: dict[str, Any] = {
        "source": prices.source,
        "as_of": prices.as_of,
        "file": str(prices.path),
        "sha256": prices.sha256,
        "recorded_in_manifest": (man or {}).get("price_table"),
    }
    if man is not None and man.get("provider") != "aws":
        rate = estimate.family_rate(prices)
        out["estimate"] = (
            {"method": rate.method, "family": rate.family, "region": rate.region}
            if isinstance(rate, estimate.FamilyRate)
            else {"method": None, "why_not": rate}
        )
    return out
