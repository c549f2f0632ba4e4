# Installs offline with the system's setuptools (no pyproject.toml on purpose: pip would
# then build in an isolated environment and try to download setuptools).
#   python3 -m pip install ./python          (add --break-system-packages on Debian, or use a venv)
from setuptools import setup

setup(
    name="alluxiofs",
    version="0.1.0",
    description="fsspec filesystem for an Alluxio-style cluster, through the workers' REST API",
    packages=["alluxiofs"],
    python_requires=">=3.8",
    install_requires=["fsspec>=2021.4"],
    # Both names: URLs are alluxiofs:///p, names come back as alluxio:///p (see core.py).
    entry_points={"fsspec.specs": ["alluxiofs = alluxiofs:AlluxioFileSystem", "alluxio = alluxiofs:AlluxioFileSystem"]},
    license="Apache-2.0",
)
