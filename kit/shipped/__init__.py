"""Files copied to the hosts and run there, not imported by the kit on the controller.

Each file here runs on a host with nothing but the Python standard library (and uvloop for the
engine, from the load_client role's venv): a host has no copy of the kit. So nothing in this folder
imports `kit`, and tests/unit/test_shipped.py checks that rule for every file in it.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
#: The open-loop load engine, run on the client host with a cell's plan (kit.load.drive).
ENGINE = HERE / "engine.py"
#: The CPU/memory/GPU sampler, run on every host during a cell (kit.telemetry.remote_sampler).
SAMPLER = HERE / "sampler.py"
