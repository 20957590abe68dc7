"""Hooks: the base class and the built-in hooks, all registered in ``HOOKS``."""

from __future__ import annotations

from torchrig.hooks.checkpoint_hook import CheckpointHook
from torchrig.hooks.early_stopping_hook import EarlyStoppingHook
from torchrig.hooks.ema_hook import EMAHook
from torchrig.hooks.empty_cache_hook import EmptyCacheHook
from torchrig.hooks.hook import Hook, check_hook_stages
from torchrig.hooks.iter_timer_hook import IterTimerHook
from torchrig.hooks.logger_hook import LoggerHook
from torchrig.hooks.naive_visualization_hook import NaiveVisualizationHook
from torchrig.hooks.param_scheduler_hook import ParamSchedulerHook
from torchrig.hooks.profiler_hook import NPUProfilerHook, ProfilerHook
from torchrig.hooks.progress_bar_hook import ProgressBarHook
from torchrig.hooks.runtime_info_hook import RuntimeInfoHook
from torchrig.hooks.sampler_seed_hook import DistSamplerSeedHook
from torchrig.hooks.sync_buffer_hook import SyncBuffersHook
from torchrig.hooks.test_time_aug_hook import PrepareTTAHook
from torchrig.hooks.wandb_alert_hook import WandbAlertHook
from torchrig.hooks.wandb_table_hook import WandbTableHook

__all__ = [
    "CheckpointHook",
    "DistSamplerSeedHook",
    "EMAHook",
    "EarlyStoppingHook",
    "EmptyCacheHook",
    "Hook",
    "IterTimerHook",
    "LoggerHook",
    "NPUProfilerHook",
    "NaiveVisualizationHook",
    "ParamSchedulerHook",
    "PrepareTTAHook",
    "ProfilerHook",
    "ProgressBarHook",
    "RuntimeInfoHook",
    "SyncBuffersHook",
    "WandbAlertHook",
    "WandbTableHook",
    "check_hook_stages",
]
