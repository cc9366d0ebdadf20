"""What each SageMaker framework image our steps run in provides: its Python and its packages.

A step script runs on the `python3` of the image it is sent to, not on the Python of the
machine that tests it. The builders take their image versions from here, and
tests/test_image_contracts.py checks every step script and every example model's source
against the images it runs in: the minimum Python its syntax and standard-library use need,
and that it imports only the standard library and the image's packages (each step script is
shipped to the job as one file, so it cannot import a sibling module; a model's source
directory ships whole, so its files may import each other).

Sources (the images' Dockerfiles and requirements in AWS's container repositories; both
images put /miniconda3/bin first on PATH, so `python3` is conda's Python, not Ubuntu's):
- XGBoost 3.0-5: github.com/aws/sagemaker-xgboost-container at d4a0e90b89ab30f997df7aff82997d206e01d0c3
  docker/3.0-5/base/Dockerfile.cpu (`ARG PYTHON_VERSION=3.10`; `pip install -I xgboost==3.0.5
  numpy==2.1.0 pyarrow==22.0.0 pandas==2.2.3`) and requirements.txt (installed by
  docker/3.0-5/final/Dockerfile.cpu). Later commits of that repository move requirements.txt
  to Python 3.12 for a newer image; the 3.0-5 Dockerfiles still say 3.10.
- scikit-learn 1.2-1: github.com/aws/sagemaker-scikit-learn-container, branch 1.2-1 at
  b440c40d318284336acb57b2dd554f7fa1e39fe0, docker/1.2-1/base/Dockerfile.cpu
  (`ARG PYTHON_VERSION=3.9`, `ARG PYARROW_VERSION=14.0.1`, `pip install scikit-learn==1.2.1`)
  and requirements.txt (installed by docker/1.2-1/final/Dockerfile.cpu).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Package:
    distribution: str
    version: str  # the pin as the image's requirements write it
    module: str  # the name scripts import


@dataclass(frozen=True)
class ImageContract:
    framework: str  # the SageMaker SDK's framework key (image_uris.retrieve)
    version: str  # the image tag's framework version
    python: tuple[int, int]
    packages: tuple[Package, ...]
    source: str

    @property
    def python_label(self) -> str:
        return ".".join(str(part) for part in self.python)

    @property
    def modules(self) -> frozenset[str]:
        return frozenset(p.module for p in self.packages)


def _packages(*specs: str) -> tuple[Package, ...]:
    """Requirement lines as the image pins them, `:module` appended when the import name differs."""
    packages = []
    for spec in specs:
        requirement, _, module = spec.partition(":")
        distribution = re.split(r"[=<>]", requirement, maxsplit=1)[0]
        packages.append(Package(distribution, requirement[len(distribution) :], module or distribution))
    return tuple(packages)


XGBOOST = ImageContract(
    framework="xgboost",
    version="3.0-5",
    python=(3, 10),
    packages=_packages(
        "xgboost==3.0.5",
        "numpy==2.1.0",
        "pandas==2.2.3",
        "pyarrow==22.0.0",
        "scipy==1.15.0",
        "scikit-learn==1.5.2:sklearn",
        "boto3==1.17.52",
        "botocore==1.20.52",
        "python-dateutil==2.8.2:dateutil",
        "PyYAML==6.0.1:yaml",
        "requests==2.32.3",
        # Serving (sagemaker-containers' Flask worker) and its offline `pip install .` of code/.
        "Werkzeug==0.15.6:werkzeug",
        "setuptools<81",
        "wheel==0.45.1",
    ),
    source="github.com/aws/sagemaker-xgboost-container@d4a0e90 docker/3.0-5/base/Dockerfile.cpu, requirements.txt",
)

SKLEARN = ImageContract(
    framework="sklearn",
    version="1.2-1",
    python=(3, 9),
    packages=_packages(
        "scikit-learn==1.2.1:sklearn",
        "numpy==1.24.1",
        "pandas==1.1.3",
        "scipy==1.8.0",
        "pyarrow==14.0.1",
        "boto3==1.28.57",
        "botocore>=1.31.57,<1.32.0",
        "python-dateutil==2.8.1:dateutil",
        # Serving (sagemaker-containers' Flask worker) and its offline `pip install .` of code/.
        "Werkzeug==2.0.3:werkzeug",
        "setuptools",
        "wheel",
    ),
    source="github.com/aws/sagemaker-scikit-learn-container@1.2-1 docker/1.2-1/base/Dockerfile.cpu, requirements.txt",
)

# Which images each step script (pipeline_steps/<name>.py) runs in: the model-building steps in
# the processing image of the configured model (each example's framework image), the drift
# check in the scikit-learn image. A custom processing image must provide what they import.
STEP_IMAGES: Mapping[str, tuple[ImageContract, ...]] = MappingProxyType(
    {
        "preprocess": (XGBOOST, SKLEARN),
        "evaluate": (XGBOOST, SKLEARN),
        "baseline": (XGBOOST, SKLEARN),
        "drift_check": (SKLEARN,),
    }
)

# The image each example model's source directory (models/<name>/src) is trained and served in.
# models/wine and models/diabetes train models/sklearn's source on their own data contracts.
EXAMPLE_MODEL_IMAGES: Mapping[str, ImageContract] = MappingProxyType(
    {"xgboost": XGBOOST, "sklearn": SKLEARN, "wine": SKLEARN, "diabetes": SKLEARN}
)
