"""alluxiofs: fsspec access to an Alluxio-style cluster through its workers' REST API.

    import fsspec
    from alluxiofs import AlluxioFileSystem
    fsspec.register_implementation("alluxiofs", AlluxioFileSystem, clobber=True)
    fs = fsspec.filesystem("alluxiofs", worker_hosts="10.0.0.5,10.0.0.6", target_protocol="s3")
    df = pd.read_csv(fs.open("s3://my-bucket/data/train.csv"))

Importing the package also registers the "alluxiofs" protocol with fsspec.
"""
from .core import AlluxioFile, AlluxioFileSystem, _register
from .errors import AlluxioInvalidPathError, UfsUnavailableError, UfsVersionMismatchError, WorkersUnavailableError
from .placement import placement_order, placement_score

__version__ = "0.1.0"
__all__ = [
    "AlluxioFileSystem",
    "AlluxioFile",
    "AlluxioInvalidPathError",
    "UfsVersionMismatchError",
    "UfsUnavailableError",
    "WorkersUnavailableError",
    "placement_order",
    "placement_score",
]

_register()
