"""The app's playhead: tracer.chain.scene (the classroom page draws the same), by its old name."""

from __future__ import annotations

from tracer.chain.scene import (
    BOX_LAYERS,
    LAYER_BOX,
    BoxState,
    Scene,
    StepState,
    event_steps,
    scene_at,
)

__all__ = ["BOX_LAYERS", "LAYER_BOX", "BoxState", "Scene", "StepState", "event_steps", "scene_at"]
