"""Images to model inputs and logits: the one conversion the store, mining, training's
evaluation and the logits cache share.

Images live on disk and in memory as uint8 (n, H, W, 3); models take [0, 1] floats
(n, 3, H, W) and normalise inside (models/networks.py). Attacked images are rounded back to
uint8 within their attack's budget by attacks/quantisation.py, so every stored or cached
example is one a real 8-bit image file could hold.
"""

from __future__ import annotations

import numpy as np
import torch


def to_float(images: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """uint8 (N, H, W, C) to contiguous [0, 1] floats (N, C, H, W) on `device`.

    Contiguous because some torchattacks attacks (PGDL2) `.view` their inputs.
    """
    tensor = torch.as_tensor(images).to(device)
    return tensor.permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def forward(
    model: torch.nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 1024
) -> np.ndarray:
    """Logits for uint8 (n, H, W, 3) images, batched."""
    with torch.no_grad():
        parts = [
            model(to_float(images[i : i + batch_size], device)).float().cpu().numpy()
            for i in range(0, len(images), batch_size)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
