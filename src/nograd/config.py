"""Run configs: one nested dict, resolved to every default before step 1 and saved as the run's config.yaml.

task:   {name: addition, train_size: 100, ...}     options of the task
model:  {name: mlp, hidden: [2, 2], ...}           options of the model
method: {name: hillclimb, sigma: 0.1, ...}         options of the optimizer
budget: {evaluations: 200000, steps: null, seconds: null}   stop at whichever comes first
seed, device, backend, chunk_size, log_every, checkpoint_every, out
backend: vectorized (default), serial, or ray with ray_address (a cluster; default RAY_ADDRESS, else a local
Ray instance) and workers (actors; default one per free CPU); chunk_size: candidates per batched pass (per actor call)
"""

from __future__ import annotations

import copy
import re
from typing import Any

from nograd._validation import Interval, check_unknown_keys, unknown_name_error, validate_params
from nograd.errors import ConfigError
from nograd.evaluate import BACKENDS, DISTRIBUTED
from nograd.models import model_options
from nograd.optim import METHODS, get_method
from nograd.tasks import get_task, task_options

__all__ = ["DEFAULTS", "resolve_config", "parse_budget", "deep_merge"]

DEFAULTS: dict[str, Any] = {
    "task": {"name": "addition"},
    "model": {},
    "method": {"name": "hillclimb"},
    "budget": {"evaluations": None, "steps": None, "seconds": None},
    "seed": 0,
    "device": "cpu",
    "backend": "vectorized",
    "chunk_size": None,
    "ray_address": None,
    "workers": None,
    "log_every": None,
    "checkpoint_every": None,
    "out": "runs",
}

#: The budget when none is given: enough for hill climbing to solve the addition demo well inside a minute.
DEFAULT_BUDGET = {"evaluations": 100_000, "steps": None, "seconds": None}
#: About this many metric rows per run when ``log_every`` is not set.
ROWS_PER_RUN = 200

_TOP_CONSTRAINTS = {
    "seed": Interval(int, 0, None),
    "chunk_size": Interval(int, 1, None, allow_none=True),
    "workers": Interval(int, 1, None, allow_none=True),
    "log_every": Interval(int, 1, None, allow_none=True),
    "checkpoint_every": Interval(int, 1, None, allow_none=True),
}
_BUDGET_CONSTRAINTS = {
    "evaluations": Interval(int, 1, None, allow_none=True),
    "steps": Interval(int, 1, None, allow_none=True),
    "seconds": Interval(float, 0, None, closed="neither", allow_none=True),
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_BUDGET_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*(evals?|evaluations|steps?|s|sec|seconds|min|h)?\s*$")


def parse_budget(text: str) -> dict[str, Any]:
    """``"200000"``, ``"200k"`` or ``"200k evals"`` → evaluations; ``"500 steps"``; ``"30s"``, ``"2min"``, ``"1h"``."""
    match = _BUDGET_RE.match(str(text))
    if not match:
        raise ConfigError(
            f"The budget must look like '200000' or '200k evals' (loss evaluations), '500 steps', '30s', '2min' "
            f"or '1h'. Got {text!r} instead."
        )
    number, suffix, unit = match.groups()
    value = float(number) * {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}[suffix]
    if unit in (None, "eval", "evals", "evaluations"):
        kind = "evaluations"
    elif unit in ("step", "steps"):
        kind = "steps"
    else:
        kind, value = "seconds", value * {"s": 1, "sec": 1, "seconds": 1, "min": 60, "h": 3600}[unit]
    if value <= 0:
        raise ConfigError(f"The budget must be positive. Got {text!r} instead.")
    budget: dict[str, Any] = {"evaluations": None, "steps": None, "seconds": None}
    budget[kind] = float(value) if kind == "seconds" else int(value)
    return budget


def resolve_config(user: dict[str, Any]) -> dict[str, Any]:
    """Fill every default and check every name and value; raise ConfigError naming the first problem."""
    check_unknown_keys("the run config", user, DEFAULTS)
    config = deep_merge(DEFAULTS, user)
    for section in ("task", "model", "method", "budget"):
        if not isinstance(config[section], dict):
            raise ConfigError(
                f"The '{section}' section of the config must be a mapping. Got {config[section]!r} instead."
            )

    spec = get_method(str(config["method"].get("name")))
    task_cls = get_task(str(config["task"].get("name")))
    valid_task = task_options(task_cls.name)
    check_unknown_keys(f"task '{task_cls.name}'", _without_name(config["task"]), valid_task)
    method_task_defaults = {k: v for k, v in spec.task_defaults if k in valid_task}
    config["task"] = {"name": task_cls.name, **valid_task, **method_task_defaults, **_without_name(config["task"])}

    chosen = config["model"].get("name")
    same_model = chosen in (None, task_cls.default_model["name"])
    model = {**task_cls.default_model, **config["model"]} if same_model else dict(config["model"])
    options = model_options(model["name"])
    check_unknown_keys(f"model '{model['name']}'", _without_name(model), options)
    config["model"] = {"name": model["name"], **options, **_without_name(model)}

    options = spec.default_options()
    check_unknown_keys(f"method '{spec.name}'", _without_name(config["method"]), options)
    user_method = _without_name(config["method"])
    if "reevaluate" in options and "reevaluate" not in user_method and config["task"].get("batch_size") is not None:
        # On minibatches the kept weights' old loss is from another batch: score them again with the candidates.
        user_method["reevaluate"] = True
    config["method"] = {"name": spec.name, **options, **user_method}

    check_unknown_keys("the budget", config["budget"], _BUDGET_CONSTRAINTS)
    if all(v is None for v in config["budget"].values()) and not spec.runs_to_completion:
        config["budget"] = dict(DEFAULT_BUDGET)
    validate_params("the budget", config["budget"], _BUDGET_CONSTRAINTS)
    validate_params("the run config", config, _TOP_CONSTRAINTS)
    if config["backend"] not in BACKENDS:
        raise unknown_name_error("backend", str(config["backend"]), BACKENDS)
    _check_device(config["device"])
    _check_distributed(config, spec)

    if spec.runs_to_completion:
        pass  # logged at cycle ends and checkpointed at layer ends, plus every log_every/checkpoint_every if set
    elif config["log_every"] is None:
        config["log_every"] = _auto_log_every(config)
    if config["checkpoint_every"] is None and not spec.runs_to_completion:
        config["checkpoint_every"] = config["log_every"]
    return config


def _without_name(section: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if k != "name"}


def _auto_log_every(config: dict[str, Any]) -> int:
    budget = config["budget"]
    per_step = int(config["method"].get("population", 1) or 1)
    if budget["steps"] is not None:
        steps = budget["steps"]
    elif budget["evaluations"] is not None:
        steps = budget["evaluations"] // per_step
    else:
        return 50
    return max(1, steps // ROWS_PER_RUN)


def _check_distributed(config: dict[str, Any], spec: Any) -> None:
    address = config["ray_address"]
    if address is not None and not (isinstance(address, str) and address):
        raise ConfigError(f"ray_address must be an address such as 'auto' or 'HOST:6379'. Got {address!r} instead.")
    if config["backend"] not in DISTRIBUTED:
        if address is not None or config["workers"] is not None:
            raise ConfigError(
                f"--ray-address and --workers set up the ray backend; the backend is {config['backend']!r}. "
                "Add --backend ray."
            )
        return
    if not spec.scores_populations:
        spreads = ", ".join(name for name, s in METHODS.items() if s.scores_populations)
        raise ConfigError(
            f"The ray backend spreads populations over workers; method {spec.name!r} scores one candidate at a "
            f"time in this process. Use it with {spreads}, or drop --backend ray."
        )
    if str(config["device"]) != "cpu":
        raise ConfigError(f"The ray backend scores on the workers' CPUs; drop --device {config['device']}.")


def _check_device(device: Any) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"The 'device' parameter must be a torch device such as 'cpu' or 'cuda'. Got {device!r} instead."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "The device 'cuda' was asked for, but this machine has no CUDA GPU (torch.cuda.is_available() is False)."
        )
