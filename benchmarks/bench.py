"""Measure the kit's speed and memory against stated targets.

Run with ``make bench``. It times three things on this machine and checks
each against its target, exiting 1 when one is missed:

- parsing a private key once (``SigningKey.load``),
- signing a client assertion with an already parsed key, per alg,
- a full token exchange (sign, POST, parse) against a local tenant started
  for the run in a temporary workspace and stopped afterwards,

and the process's peak resident memory. Results are printed as a table and
written to ``build/bench.json``. Timings on a shared 2-core machine vary from
run to run, so targets leave a wide margin over typical figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from qlik_tutorial.assertion import build_client_assertion
from qlik_tutorial.keys import SUPPORTED_ALGS, SigningKey
from qlik_tutorial.local_tenant import (
    ensure_local_tenant,
    register_client,
    stop_local_tenant,
)
from qlik_tutorial.token_endpoint import fetch_access_token

# Targets, in milliseconds (median) and MiB.
KEY_LOAD_TARGET_MS = 100.0
ASSERTION_TARGET_MS = 2.0
EXCHANGE_TARGET_MS = 50.0
PEAK_MEMORY_TARGET_MIB = 200.0


@dataclass
class Measurement:
    name: str
    samples: int
    median_ms: float
    p95_ms: float
    target_ms: float

    @property
    def passed(self) -> bool:
        return self.median_ms <= self.target_ms


def measure(
    name: str, action: Callable[[], object], samples: int, target: float
) -> Measurement:
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        action()
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return Measurement(
        name=name,
        samples=samples,
        median_ms=statistics.median(durations),
        p95_ms=durations[int(len(durations) * 0.95) - 1],
        target_ms=target,
    )


def run(samples: int, exchanges: int) -> list[Measurement]:
    results = []
    keys = {alg: SigningKey.generate(alg) for alg in SUPPORTED_ALGS}
    for alg, key in keys.items():
        pem = key.private_pem()
        results.append(
            measure(
                f"load {alg} key from PEM",
                lambda pem=pem, alg=alg: SigningKey.load(pem, alg=alg),
                max(samples // 20, 10),
                KEY_LOAD_TARGET_MS,
            )
        )
        results.append(
            measure(
                f"sign {alg} client assertion",
                lambda key=key: build_client_assertion(
                    key, "bench-client", "acme.eu.qlikcloud.com"
                ),
                samples,
                ASSERTION_TARGET_MS,
            )
        )

    with tempfile.TemporaryDirectory(prefix="qlik-bench-") as folder:
        workspace = Path(folder)
        try:
            tenant = ensure_local_tenant(workspace)
            key = keys["RS256"]
            client_id = register_client(workspace, key.public_jwk, name="bench")
            with requests.Session() as session:
                results.append(
                    measure(
                        "token exchange RS256 (sign, POST, parse)",
                        lambda: fetch_access_token(
                            key, client_id, tenant, session=session
                        ),
                        exchanges,
                        EXCHANGE_TARGET_MS,
                    )
                )
        finally:
            stop_local_tenant(workspace)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=500, help="signatures per alg (default 500)"
    )
    parser.add_argument(
        "--exchanges",
        type=int,
        default=90,
        help="token exchanges; the local tenant allows 100 a minute (default 90)",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("build/bench.json"), help="JSON results"
    )
    options = parser.parse_args(argv)

    results = run(options.samples, options.exchanges)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memory_passed = peak_mib <= PEAK_MEMORY_TARGET_MIB

    print(
        f"{'measurement':44} {'n':>5} {'median ms':>10} {'p95 ms':>9} {'target':>8}"
        "  (the target applies to the median)"
    )
    for result in results:
        verdict = "ok" if result.passed else "MISSED"
        print(
            f"{result.name:44} {result.samples:5d} {result.median_ms:10.3f} "
            f"{result.p95_ms:9.3f} {result.target_ms:8.1f} {verdict}"
        )
    print(
        f"{'peak resident memory (MiB)':44} {'':5} {peak_mib:10.1f} {'':9} "
        f"{PEAK_MEMORY_TARGET_MIB:8.1f} {'ok' if memory_passed else 'MISSED'}"
    )

    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(
        json.dumps(
            {
                "measurements": [asdict(result) for result in results],
                "peak_memory_mib": peak_mib,
                "python": sys.version.split()[0],
            },
            indent=2,
        )
        + "\n"
    )
    passed = memory_passed and all(result.passed for result in results)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
