"""Let a CUDA-built torchvision wheel import on a CPU-only PyTorch.

PyPI ships torchvision 0.28.0 only as a CUDA build.  On the CPU build of torch
2.13.0 its compiled extension (``torchvision/_C.so``) fails to load, and then
``import torchvision`` dies in ``_meta_registrations.py`` with
``RuntimeError: operator torchvision::nms does not exist``, because that file
registers fake kernels for two operators whose schemas the extension would have
defined.

``make setup`` copies this file into the virtual environment's site-packages
and adds ``torchvision_cpu_shim.pth``, so the hook below runs at interpreter
start.  It is lazy: it only watches for ``import torchvision`` (torch is not
imported until then).  At that moment it tries to load the real extension; only
if that fails does it define the two missing schemas, so that torchvision's
pure-Python parts (transforms, datasets, utils; everything torch-fidelity needs)
import.  The compiled detection ops (nms, roi_align, ...) stay unavailable on
such a machine, exactly as torchvision reports when its extension is missing.
Where the extension loads (a matching CUDA torch), the hook does nothing.
"""
import importlib.abc
import sys

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)


def _define_missing_schemas():
    import importlib.util
    import os

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return
    lib = os.path.join(os.path.dirname(spec.origin), "_C.so")
    try:
        torch.ops.load_library(lib)
        return  # the real extension works: nothing to do
    except (OSError, ImportError, RuntimeError):
        pass
    global _LIBRARY  # keep the Library object alive, or its definitions vanish
    _LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SCHEMAS:
        name = schema.split("(", 1)[0]
        if not torch._C._dispatch_has_kernel(f"torchvision::{name}") and not hasattr(
            torch.ops.torchvision, name
        ):
            _LIBRARY.define(schema)


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            _define_missing_schemas()
        return None


def install():
    if not any(isinstance(f, _Hook) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
