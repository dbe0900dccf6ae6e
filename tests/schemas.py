"""The classic study's preset as tests use it: its column names and default features."""

from __future__ import annotations

from segmentation.schema import MALL_PRESET, preset

MALL = preset(MALL_PRESET)
# Every header the preset accepts (the study's own included) -> the preset's name for it.
CLASSIC_TO_SNAKE = MALL.name_of()
DEFAULT_FEATURES = tuple(MALL.names)
