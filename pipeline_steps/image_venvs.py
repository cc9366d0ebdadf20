"""Builds one virtual environment per container image: the image's Python, the image's pinned packages.

The slow tier (tests/test_image_runs.py) runs every step script and every example model's code
in these, so a script that needs a newer Python or package than its image fails here, not in a
SageMaker job. pipeline_steps/images.py holds the pins; this installs, with pyenv's Python of the
image's minor version, the pins of the packages that the code run in that image imports (other
pins of the image constrain what pip adds for them). Each venv keeps a stamp of what it was built
from and is rebuilt when that changes; `make image-venvs` (a prerequisite of `make test-slow`)
runs this. Without pyenv's Python for an image it says so and builds nothing: the tests then skip.
pyenv's interpreters are found under $PYENV_ROOT (default ~/.pyenv), where the development machine
has 3.9 and 3.10 and the pipeline's CodeBuild image (Amazon Linux 2023 standard 5.0) installs
3.9 to 3.14 (aws-codebuild-docker-images, al/x86_64/standard/5.0/Dockerfile: pyenv in /root/.pyenv).

    python -m pipeline_steps.image_venvs

Every pin the code needs has a wheel for this platform (manylinux x86_64, cp39 and cp310), so pip
compiles nothing; xgboost 3.0.5's wheel brings NVIDIA's NCCL (about 470 MB), as it does in the image.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import config
from pipeline_steps import checked_in
from pipeline_steps.images import EXAMPLE_MODEL_IMAGES, STEP_IMAGES, ImageContract

ROOT = checked_in.STEPS_DIR.parent
VENVS_DIR = ROOT / ".venv-images"
STAMP = ".pins"
MODELS_DIR = ROOT / "models"


def pyenv_python(image: ImageContract) -> Path | None:
    """pyenv's newest interpreter of the image's Python minor version, or None when it has none."""
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = [
        path / "bin" / "python"
        for path in versions.glob(f"{image.python_label}.*")
        if path.name.split(".")[2].isdigit() and (path / "bin" / "python").exists()
    ]
    return max(found, key=lambda p: int(p.parent.parent.name.split(".")[2]), default=None)


def venv_dir(image: ImageContract) -> Path:
    return VENVS_DIR / f"{image.framework}-{image.version}"


def venv_python(image: ImageContract) -> Path:
    return venv_dir(image) / "bin" / "python"


def files_run_in(image: ImageContract) -> list[Path]:
    """The step scripts and example models' source files that run in `image`."""
    scripts = [checked_in.step_script(name) for name, images in STEP_IMAGES.items() if image in images]
    sources = {config.load_model(str(MODELS_DIR / m)).source_dir for m, i in EXAMPLE_MODEL_IMAGES.items() if i == image}
    return sorted(scripts) + sorted(path for source in sources for path in source.glob("*.py"))


def _top_level_imports(paths: Iterable[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def requirements(image: ImageContract) -> list[str]:
    """The pins of the image's packages that its code imports, as requirement lines."""
    imported = _top_level_imports(files_run_in(image))
    return [f"{p.distribution}{p.version}" for p in image.packages if p.module in imported]


def constraints(image: ImageContract) -> list[str]:
    """Every versioned pin of the image: what pip adds for the requirements takes the image's version."""
    return [f"{p.distribution}{p.version}" for p in image.packages if p.version]


def stamp(image: ImageContract, python: Path) -> str:
    """What a venv is built from: the interpreter and the pins."""
    version = subprocess.run(  # noqa: S603 - pyenv's interpreter
        [str(python), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    text = "\n".join([version, *requirements(image), "--", *constraints(image)])
    return hashlib.sha256(text.encode()).hexdigest()


def is_current(image: ImageContract, python: Path) -> bool:
    marker = venv_dir(image) / STAMP
    return marker.is_file() and marker.read_text().strip() == stamp(image, python)


def build(image: ImageContract, python: Path) -> None:
    target = venv_dir(image)
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([str(python), "-m", "venv", str(target)], check=True)  # noqa: S603 - pyenv's interpreter
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write("\n".join(constraints(image)) + "\n")
    try:
        install = [str(venv_python(image)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*install, "-c", pins.name, *requirements(image)], check=True)  # noqa: S603 - our own pins
    finally:
        Path(pins.name).unlink()
    # Written last: a build that failed halfway is built again next time.
    (target / STAMP).write_text(stamp(image, python) + "\n")


def images() -> list[ImageContract]:
    found = {*EXAMPLE_MODEL_IMAGES.values(), *(i for images in STEP_IMAGES.values() for i in images)}
    return sorted(found, key=lambda image: image.framework)


def main() -> None:
    for image in images():
        python = pyenv_python(image)
        label = f"{image.framework} {image.version} (Python {image.python_label})"
        if python is None:
            print(f"image-venvs: no pyenv Python {image.python_label}: {label} not built; its tests skip")
        elif is_current(image, python):
            print(f"image-venvs: {label} current in {venv_dir(image).relative_to(ROOT)}")
        else:
            print(
                f"image-venvs: building {label} in {venv_dir(image).relative_to(ROOT)}: {' '.join(requirements(image))}"
            )
            build(image, python)


if __name__ == "__main__":
    main()
