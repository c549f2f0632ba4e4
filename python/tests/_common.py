"""Helpers shared by the Python scenario scripts (python/tests/scenarios.py,
python/tests/auth_scenarios.py, test/fsspec/short_circuit.py). A plain module, not a
package: the scripts here find it next to themselves, short_circuit.py adds this
directory to sys.path.
"""
import os

import fsspec

import alluxiofs  # noqa: F401  (registers the protocol)


def make_fs(**kw):
    """A fresh alluxiofs file system for WORKER_HOSTS (no instance cache), options in kw."""
    opts = dict(worker_hosts=os.environ.get("WORKER_HOSTS"), skip_instance_cache=True)
    opts.update(kw)
    return fsspec.filesystem("alluxiofs", **opts)


def expect(exc_types, fn, *args, **kw):
    """Call fn and return the exception of one of exc_types it raises; AssertionError when
    it raises another kind or nothing."""
    try:
        fn(*args, **kw)
    except exc_types as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{fn.__name__}{args} raised {type(e).__name__}: {e}, expected {exc_types}")
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc_types}")


def write_local(path, data):
    """Write bytes to a local file, creating its directory."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def run_scenario(script, scenarios):
    """Run the scenario named by argv[1] (one of the functions in `scenarios`), or exit with
    the usage line of `script`."""
    import sys

    table = {f.__name__: f for f in scenarios}
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in table:
        sys.exit(f"usage: {script} {{{','.join(table)}}}")
    table[name]()
