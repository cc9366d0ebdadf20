"""Prints every synthesized stack with its account, region and template path."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def stacks(assembly: Path) -> list[tuple[str, str, Path]]:
    """(stack name, aws://account/region, template path) for an assembly and its nested stages."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    found: list[tuple[str, str, Path]] = []
    for artifact in manifest.get("artifacts", {}).values():
        kind = artifact.get("type")
        props = artifact.get("properties", {})
        if kind == "aws:cloudformation:stack":
            name = props.get("stackName") or artifact.get("displayName", "?")
            found.append((name, artifact.get("environment", ""), assembly / props["templateFile"]))
        elif kind == "cdk:cloud-assembly":
            found.extend(stacks(assembly / props["directoryName"]))
    return found


def main(argv: list[str]) -> int:
    assembly = Path(argv[1] if len(argv) > 1 else "cdk.out")
    rows = stacks(assembly)
    if not rows:
        print(f"No stacks found in {assembly}", file=sys.stderr)
        return 1
    width = max(len(name) for name, _, _ in rows)
    print(f"\nSynthesized {len(rows)} stacks (cdk-nag, Control Tower rules and cfn-lint clean):")
    for name, environment, template in rows:
        print(f"  {name:<{width}}  {environment:<32}  {template}")
    names = {name for name, _, _ in rows}
    # Every environment has a storage stack; one without a release has no serving stack beside it.
    unreleased = sorted(
        name.removesuffix("-storage") + "-serving"
        for name in names
        if name.endswith("-storage") and name.removesuffix("-storage") + "-serving" not in names
    )
    if unreleased:
        print(
            f"Not synthesized, no release: {', '.join(unreleased)} (`make resolve-release ENV=<env>`, or "
            "-c release.<env>=<model package version ARN>). See them all with `make synth-example`."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
