"""forbid: shortcuts raise while the block runs, whatever name they are called by; everything is restored."""

import sys

import pytest
import sklearn.metrics
import torch
import torch.nn.functional as F

from cvlab.grading import ForbiddenError, forbid


def test_builtin_is_refused_with_a_clear_message():
    with pytest.raises(ForbiddenError, match=r"^`torch.nn.functional.one_hot` is not allowed in this exercise -- "
                                             r"write it with basic tensor operations$"):
        with forbid("torch.nn.functional.one_hot"):
            F.one_hot(torch.tensor([0, 1]))


def test_aliases_and_captured_references_are_refused():
    from torch.nn.functional import one_hot as encode

    confusion = sklearn.metrics.confusion_matrix  # captured before the guard starts
    names = ("torch.nn.functional.one_hot", "sklearn.metrics.confusion_matrix")
    with pytest.raises(ForbiddenError, match="one_hot"), forbid(*names):
        assert int(torch.arange(3).sum()) == 3  # everything else still works
        encode(torch.tensor([1]))
    with pytest.raises(ForbiddenError, match="sklearn.metrics.confusion_matrix"), forbid(*names):
        confusion([0, 1], [0, 1])


def test_a_caught_refusal_or_a_switched_off_hook_is_remembered():
    def sly(x):
        try:
            return torch.nn.functional.one_hot(x)
        except ForbiddenError:
            return torch.bincount(x)  # unguarded now: CPython dropped the raising hook

    with forbid("torch.nn.functional.one_hot", "torch.bincount") as guard:
        sly(torch.tensor([0, 1]))
    assert guard.refused == "torch.nn.functional.one_hot" and "not allowed" in guard.message()
    with forbid("torch.bincount") as guard:
        sys.setprofile(None)
        torch.bincount(torch.tensor([0]))
    assert guard.switched_off and "sys.setprofile" in guard.message()


def test_a_module_forbids_all_of_its_code_private_helpers_included():
    import cvlab.metrics.panoptic as module
    from cvlab.panoptic import encode_ids

    keys = torch.tensor([3, 1, 3])
    with pytest.raises(ForbiddenError, match="^`cvlab.metrics.panoptic` is not allowed"), forbid(module.__name__):
        assert encode_ids(torch.zeros(2, 2, 2, dtype=torch.int64)).shape == (2, 2)  # another module: runs
        module._histogram(keys, 4)  # a private helper, reached by its module
    assert module._histogram(keys, 4)[0].tolist() == [1, 3]  # released on exit


def test_resolve_prefers_the_attribute_to_a_submodule_of_the_same_name():
    import torchvision.ops

    from cvlab.grading.forbid import resolve

    assert resolve("torchvision.ops.roi_align") is torchvision.ops.roi_align  # the function, not roi_align.py
    assert resolve("cvlab.ops.explain_rois").__name__ == "cvlab.ops.explain_rois"  # a submodule, imported
    assert resolve("cvlab.ops.no_such_thing") is None


def test_methods_are_refused_when_bound_too():
    x = torch.tensor([0, 1, 1])
    with pytest.raises(ForbiddenError, match="count with comparisons"):
        with forbid("torch.Tensor.bincount", advice="count with comparisons"):
            x.bincount()
    with pytest.raises(ForbiddenError), forbid("torch.Tensor.bincount"):
        torch.Tensor.bincount(x)
    assert x.bincount().tolist() == [1, 2]


def test_previous_profiler_is_restored_even_after_errors():
    calls = []

    def profiler(frame, event, arg):
        calls.append(event)

    sys.setprofile(profiler)
    try:
        with pytest.raises(ValueError), forbid("torch.bincount"):
            int("not a number")
        assert sys.getprofile() is profiler
        with forbid("torch.bincount"):
            torch.zeros(1)
        assert sys.getprofile() is profiler and calls  # chained while active, restored after
    finally:
        sys.setprofile(None)
    with pytest.raises(ForbiddenError), forbid("torch.bincount"):
        torch.bincount(torch.tensor([1]))
    assert sys.getprofile() is None


def test_decorator_and_nesting():
    @forbid("torch.bincount")
    def counted(x):
        return torch.bincount(x)

    with pytest.raises(ForbiddenError):
        counted(torch.tensor([0]))
    with pytest.raises(ForbiddenError, match="argmax"), forbid("torch.argmax"), forbid("torch.bincount"):
        torch.argmax(torch.tensor([1, 2]))
    assert sys.getprofile() is None


def test_missing_modules_are_skipped_and_bad_names_refused():
    with forbid("no_such_package.anything", "torch.no_such_function"):
        assert torch.ones(1).item() == 1
    with pytest.raises(TypeError, match="names: expected dotted names"):
        forbid("bincount")


def test_a_forbid_name_that_does_not_exist_is_refused_at_build_time():
    from cvlab.grading.build import function_test
    from cvlab.grading.forbid import unresolved

    assert unresolved(["torch.nn.functional.one_hot", "notinstalled_pkg.f", "torch.nn.functional.one_hott"]) == [
        "torch.nn.functional.one_hott"
    ]
    with pytest.raises(ValueError, match="forbid: .*torch.nn.functional.one_hott"):
        function_test(forbid=["torch.nn.functional.one_hott"])


# -- operator-level bans: however the operator is reached ----------------------------------------------------------

def _conv_transpose_routes():
    import functools

    x, w = torch.randn(1, 2, 4, 4), torch.randn(2, 3, 3, 3)
    stolen = F.conv_transpose2d.__call__
    xr = torch.randn(1, 3, 6, 6, requires_grad=True)
    return {
        "direct": lambda: F.conv_transpose2d(x, w),
        "partial": lambda: functools.partial(F.conv_transpose2d, weight=w)(x),
        "method wrapper": lambda: stolen(x, w),
        "module": lambda: torch.nn.ConvTranspose2d(2, 3, 3)(x),
        "aten operator": lambda: torch.ops.aten.convolution(x, w, None, [1, 1], [0, 0], [1, 1], True, [0, 0], 1),
        "autograd of conv2d": lambda: torch.autograd.grad(F.conv2d(xr, w).sum(), xr),
        "fold (col2im)": lambda: F.fold(torch.randn(1, 27, 16), (6, 6), 3),
    }


@pytest.mark.parametrize("route", list(_conv_transpose_routes()))
def test_a_banned_operator_is_refused_by_every_route(route):
    call = _conv_transpose_routes()[route]
    with pytest.raises(ForbiddenError, match=r"^`torch.nn.functional.conv_transpose2d` is not allowed in this "), \
            forbid("torch.nn.functional.conv_transpose2d") as guard:
        call()
    assert guard.refused == "torch.nn.functional.conv_transpose2d"


def test_operators_that_are_not_banned_still_run():
    with forbid("torch.nn.functional.conv_transpose2d", "torch.nn.functional.interpolate"):
        assert F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)).item() == 9
        torch.nn.functional.pad(torch.ones(1, 1, 2, 2), (1, 1, 1, 1))


def test_interpolation_by_grid_sample_is_refused_when_interpolate_is_banned():
    grid = torch.zeros(1, 2, 2, 2)
    with pytest.raises(ForbiddenError, match="aten::grid_sampler"), forbid("torch.nn.functional.interpolate"):
        F.grid_sample(torch.ones(1, 1, 2, 2), grid, align_corners=False)


def test_operator_names_may_be_banned_directly():
    with pytest.raises(ForbiddenError, match="aten::col2im"), forbid("aten::col2im"):
        F.fold(torch.randn(1, 4, 4), (3, 3), 2)


def test_threads_and_processes_are_refused_while_operators_are_banned():
    import subprocess
    import threading

    with pytest.raises(ForbiddenError, match="starting a thread"), forbid("torch.nn.functional.conv_transpose2d"):
        threading.Thread(target=lambda: None).start()
    with pytest.raises(ForbiddenError, match="starting a process"), forbid("torch.nn.functional.conv_transpose2d"):
        subprocess.run([sys.executable, "-c", "pass"])
    done = []
    thread = threading.Thread(target=lambda: done.append(1))  # allowed again after the block
    thread.start()
    thread.join()
    assert done == [1]


def test_leaving_the_dispatch_mode_from_inside_is_remembered():
    from torch.utils._python_dispatch import _pop_mode

    with forbid("torch.nn.functional.conv_transpose2d") as guard:
        _pop_mode()
    assert guard.switched_off and "switched off" in guard.message()
