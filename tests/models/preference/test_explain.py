"""Grad-CAM methods, overlays and the paper's Table 5 agreement metric."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.preference.explain import (agreement_table, agreement_with_clicks, click_matches, compute_heatmaps, overlay,
                            peak_in_mask, peak_xy, save_overlays)
from models.preference.cnn import PreferenceCNN, PreferenceCNNConfig, target_layers

torch.set_num_threads(1)


def _heat_with_peak(x: int, y: int, size: int = 30) -> np.ndarray:
    heat = np.zeros((size, size), dtype=np.float32)
    heat[y, x] = 1.0
    return heat


def test_agreement_equals_a_hand_computation():
    # 3x3 grid on 30x30 maps: cells are 10 px wide. Peaks and clicks chosen by hand:
    heats = [_heat_with_peak(5, 5), _heat_with_peak(25, 5), _heat_with_peak(15, 15),   # preferred
             _heat_with_peak(5, 25), _heat_with_peak(12, 12), _heat_with_peak(29, 29)]  # not preferred
    clicks = [(0.10, 0.20),   # peak cell (0,0), click cell (0,0)  -> match
              (0.10, 0.10),   # peak cell (2,0), click cell (0,0)  -> no
              (0.50, 0.45),   # peak cell (1,1), click cell (1,1)  -> match
              None,           # no click: counted apart
              (0.95, 0.95),   # peak cell (1,1), click cell (2,2)  -> no
              (0.99, 0.70)]   # peak cell (2,2), click cell (2,2)  -> match
    classes = [1, 1, 1, 0, 0, 0]
    rows = agreement_with_clicks(heats, clicks, classes)
    assert (rows["preferred"].matched, rows["preferred"].total, rows["preferred"].no_click) == (2, 3, 0)
    assert (rows["not_preferred"].matched, rows["not_preferred"].total, rows["not_preferred"].no_click) == (1, 2, 1)
    assert rows["preferred"].share == pytest.approx(2 / 3)
    assert rows["not_preferred"].share == pytest.approx(1 / 2)
    table = agreement_table(rows)
    assert [r["class"] for r in table] == ["not_preferred", "preferred"]
    with pytest.raises(ValueError, match="must match"):
        agreement_with_clicks(heats, clicks[:2], classes)


def test_top_fraction_rule_and_peak_helpers():
    heat = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (10, 1))  # hotter to the right
    assert click_matches(heat, (0.95, 0.5), rule="top", top_fraction=0.2)
    assert not click_matches(heat, (0.05, 0.5), rule="top", top_fraction=0.2)
    assert peak_xy(_heat_with_peak(3, 7, size=10)) == pytest.approx((0.35, 0.75))
    mask = np.zeros((10, 10), bool)
    mask[7, 3] = True
    assert peak_in_mask(_heat_with_peak(3, 7, size=10), mask)
    with pytest.raises(ValueError, match="rule"):
        click_matches(heat, (0.5, 0.5), rule="circle")


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "eigencam", "xgradcam", "layercam"])
def test_every_method_gives_unit_range_maps_at_input_size(method):
    torch.manual_seed(0)
    model = PreferenceCNN(PreferenceCNNConfig(image_size=32, in_channels=3, widths=(4, 8, 8), hidden=(8, 8)))
    heats = compute_heatmaps(model, target_layers(model), torch.rand(3, 3, 32, 32), method=method,
                             target_class=[1, 0, 1])
    assert heats.shape == (3, 32, 32) and heats.dtype == np.float32
    assert heats.min() >= 0.0 and heats.max() <= 1.0


def test_unknown_method_is_refused():
    model = PreferenceCNN(PreferenceCNNConfig(image_size=16, in_channels=1, widths=(4,), hidden=(4, 4)))
    with pytest.raises(ValueError, match="gradcam"):
        compute_heatmaps(model, target_layers(model), torch.rand(1, 1, 16, 16), method="magic")


def test_overlays_are_saved_as_images(tmp_path):
    from skimage.data import astronaut

    image = astronaut()[::4, ::4]  # a real photo, 128x128
    heat = np.zeros((32, 32), np.float32)
    heat[8:16, 8:16] = 1.0
    blended = overlay(image, heat)
    assert blended.shape == image.shape and blended.dtype == np.uint8
    paths = save_overlays([image, image[..., 0]], [heat, heat], tmp_path / "overlays", ["colour", "gray"])
    assert [p.name for p in paths] == ["colour.png", "gray.png"]
    assert Image.open(paths[1]).size == (128, 128)
