"""Exact resume of a training run: what RUN/last.* holds and which settings may change.

RUN/last.safetensors holds the model's weights, AdamW's state (``extra.optim.*``) and the
CPU random state (``extra.rng_cpu``); RUN/last.json holds the run's TrainConfig
(``"train"``), its :class:`~minilocal.run_state.RunState` (``"state"``) and the optimizer's
param groups. Everything random in a step is a pure function of (seed, epoch, step)
(:func:`~minilocal.augment.step_generator`), so a run resumed from RUN/last.* ends with the
same weights as one that never stopped; :func:`check_run_dir` and
:func:`resume_differences` refuse a resume that would continue another experiment.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch
from torch import nn

from .checkpoint import checkpoint_paths, read_checkpoint, read_config, save_checkpoint

if TYPE_CHECKING:  # in annotations only
    from .recipe import TrainConfig

__all__ = ["RESUME_MAY_CHANGE", "holds_run", "resume_differences", "check_run_dir",
           "save_last", "load_last"]

# TrainConfig fields a resumed run may change: how long, where and how fast it runs, not what
# it learns from. epochs and the two budgets extend or shorten the run (the lr schedule
# follows the new length); device, compile and channels_last change where and how the same
# arithmetic runs; checkpoint_every and patience change when it saves and stops; init only
# gives the starting weights, which a resume replaces with RUN/last.*. Any other change
# (lr, lambdas, heads, masks, sizes, augmentation, seed, data...) would silently continue
# another experiment under the old run's name, so --resume refuses it.
RESUME_MAY_CHANGE = ("max_minutes", "max_cpu_minutes", "epochs", "device", "checkpoint_every",
                     "patience", "compile", "channels_last", "init")


def holds_run(run: Path) -> bool:
    """Whether ``run`` holds a run: either file of RUN/last.* (even one without the other)."""
    return any(p.exists() for p in checkpoint_paths(run / "last"))


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from a checkpoint's JSON (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


def resume_differences(saved: Mapping[str, Any], config: TrainConfig,
                       resolved: bool = True) -> list[str]:
    """The settings of ``config`` that differ from a saved run's train config.

    Args:
        saved: the ``"train"`` entry of RUN/last.json. A field missing there (a run saved
            before the field existed) counts as its TrainConfig default.
        config: the new run's config.
        resolved: False before the data is loaded, when a train_size or eval_size of None
            (chosen from the images) cannot be compared yet; those are then skipped.

    Returns:
        "name old -> new" for every differing field not in RESUME_MAY_CHANGE, in field
        order; empty when the run may resume.
    """
    new, default = _jsonable(asdict(config)), _jsonable(asdict(type(config)()))
    out = []
    for name, value in new.items():
        if name in RESUME_MAY_CHANGE or (not resolved and value is None
                                         and name in ("train_size", "eval_size")):
            continue
        old = saved.get(name, default[name])
        if old != value:
            out.append(f"{name} {json.dumps(old)} -> {json.dumps(value)}")
    return out


def _refuse_changes(run: Path, saved_cfg: Mapping[str, Any], config: TrainConfig,
                    resolved: bool, data: Sequence[str] | None = None) -> None:
    """ValueError naming every changed setting (and changed data) of a resumed run."""
    saved = saved_cfg.get("train")
    if not isinstance(saved, dict):
        raise ValueError(f"{run / 'last.json'} has no 'train' settings to resume from; "
                         "it was not written by minilocal train")
    differ = resume_differences(saved, config, resolved)
    if data is not None and isinstance(saved_cfg.get("data"), list):
        before = [str(Path(d).resolve()) for d in saved_cfg["data"]]
        after = [str(Path(d).resolve()) for d in data]
        if before != after:
            differ.append(f"data {saved_cfg['data']} -> {list(data)}")
    if differ:
        raise ValueError(f"--resume: {run} was trained with other settings: "
                         f"{'; '.join(differ)}. Resume with the old values (only "
                         f"{', '.join(RESUME_MAY_CHANGE)} may change) or train into a new "
                         "--out")


def check_run_dir(out: str | Path | None, resume: bool, config: TrainConfig | None = None,
                  data: Sequence[str] | None = None) -> None:
    """Check the run directory before any data is loaded; create and write nothing.

    ``out`` must be (or be creatable as) a writable folder. A folder holding a run
    (RUN/last.*) needs ``resume``, and then the run's saved settings must match
    ``config`` (see :func:`resume_differences`) and ``data``.

    Raises:
        ValueError: naming ``out``: a file, under a file, read-only, holding a run without
            resume, or holding a run with other settings.
    """
    from .cli import check_output_dir

    if out is None:
        return
    run = check_output_dir(out, "--out")
    if not holds_run(run):
        return
    if not resume:
        raise ValueError(f"--out {run} already holds a run (last.*); continue it with "
                         "--resume (resume=True) or choose another --out")
    if config is not None:
        _refuse_changes(run, read_config(run / "last"), config, resolved=False, data=data)


def save_last(run: Path, model: Any, config: Mapping[str, Any], state: Mapping[str, Any],
              opt: torch.optim.Optimizer) -> None:
    """Write RUN/last.*: the model, AdamW's state, the CPU random state and ``state``.

    Args:
        run: the run directory.
        model: what :func:`~minilocal.checkpoint.save_checkpoint` saves (state_dict, config).
        config: the run's checkpoint config ({"train": TrainConfig as a dict, ...}).
        state: the run's position, :class:`~minilocal.run_state.RunState` as a dict.
        opt: the optimizer.
    """
    tensors, groups = _optimizer_tensors(opt)
    tensors["rng_cpu"] = torch.get_rng_state()
    save_checkpoint(run / "last", model, {**config, "state": dict(state),
                    "optimizer_param_groups": groups}, extra_tensors=tensors)


def load_last(run: Path, model: nn.Module, opt: torch.optim.Optimizer,
              config: TrainConfig) -> tuple[dict[str, Any], str | None]:
    """Continue from RUN/last.*: load the weights, AdamW's state and the CPU random state.

    Args:
        run: the run directory (it holds last.*, see :func:`holds_run`).
        model: the bare model (not DDP or compiled), already on its device.
        opt: the optimizer over ``model``'s parameters.
        config: the new run's TrainConfig, train_size and eval_size filled in; refused
            when it differs from the saved one beyond RESUME_MAY_CHANGE.

    Returns:
        (the saved state, as :class:`~minilocal.run_state.RunState` fields; the saved run's
        ``init``, where its first weights came from).

    Raises:
        ValueError: on changed settings, or when the weights do not fit ``model``.
    """
    tensors, cfg = read_checkpoint(run / "last")  # one save, checked; never pickled
    _refuse_changes(run, cfg, config, resolved=True)
    try:
        model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("extra.")})
    except RuntimeError as err:
        raise ValueError(f"{run / 'last'} does not fit this model (other heads or "
                         f"widths?): {str(err).splitlines()[0]}") from None
    extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
    _load_optimizer(opt, extra, cfg["optimizer_param_groups"])
    torch.set_rng_state(extra["rng_cpu"])
    return cfg["state"], cfg["train"].get("init")


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    sd = opt.state_dict()
    tensors = {f"optim.{i}.{k}": (v if torch.is_tensor(v) else torch.tensor(v))
               for i, s in sd["state"].items() for k, v in s.items()}
    return tensors, sd["param_groups"]


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                    groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": groups})
