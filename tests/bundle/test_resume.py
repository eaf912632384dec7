"""Crash and resume of the bundle's training: a run killed with SIGKILL mid-epoch and resumed ends where an
uninterrupted run of the same length ends, bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from tests.bundle.faults import TRAIN, fault_config

# A tiny model on a 2-subject phantom, batch 1: 2 iterations per epoch, so that iteration 5 lies inside epoch 3.
TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "num_workers": 0, "batch_size": 1, "phantom_subjects": 2}
TINY |= {"phantom_scale": 0.125, "epochs": 3, "decay_epochs": 2}
NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")


def _train(root: Path, out: Path, *extra: str, config_files: list[Path] | None = None) -> subprocess.CompletedProcess:
    """``python -m monai.bundle run training`` in a subprocess, on a phantom shared by all runs."""
    configs = [str(c) for c in (config_files or [TRAIN])]
    overrides = {**TINY, "phantom_dir": str(root / "phantom"), "output_dir": str(out), "ckpt_dir": str(out / "models")}
    cmd = [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", json.dumps(configs)]
    cmd += [f"--{k}={v}" for k, v in overrides.items()] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": "0"})


def _kill_at_iteration(root: Path, iteration: int) -> Path:
    """A config merged over train.json whose training SIGKILLs itself when ``iteration`` completes."""
    kill = (
        f"$@train#trainer.add_event_handler(ignite.engine.Events.ITERATION_COMPLETED(once={iteration}), "
        "lambda engine: os.kill(os.getpid(), signal.SIGKILL))"
    )
    return fault_config(root / "kill.json", kill)


def _final_state(out: Path) -> dict:
    return torch.load(out / "checkpoints" / f"cyclegan_checkpoint_epoch={TINY['epochs']}.pt", weights_only=True)


class TestResumeAfterSigkill(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        cls.whole, cls.crashed = root / "whole", root / "crashed"
        cls.uninterrupted = _train(root, cls.whole)
        cls.killed = _train(root, cls.crashed, config_files=[TRAIN, _kill_at_iteration(root, 5)])
        cls.checkpoints_after_kill = sorted(p.name for p in (cls.crashed / "checkpoints").glob("*.pt"))
        cls.models_after_kill = sorted(p.name for p in (cls.crashed / "models").glob("*.pt"))
        cls.resumed = _train(root, cls.crashed, "--resume=true")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_kill_happened_mid_epoch(self):
        self.assertEqual(self.uninterrupted.returncode, 0, self.uninterrupted.stderr[-3000:])
        self.assertEqual(self.killed.returncode, -signal.SIGKILL, self.killed.stderr[-3000:])
        self.assertEqual(
            self.checkpoints_after_kill, ["cyclegan_checkpoint_epoch=1.pt", "cyclegan_checkpoint_epoch=2.pt"]
        )
        self.assertEqual(self.models_after_kill, [])  # the killed run never finished

    def test_resumed_run_ends_bit_identical_to_the_uninterrupted_one(self):
        self.assertEqual(self.resumed.returncode, 0, self.resumed.stderr[-3000:])
        self.assertIn("Resumed from", self.resumed.stderr + self.resumed.stdout)
        whole, resumed = _final_state(self.whole), _final_state(self.crashed)
        self.assertEqual(whole["trainer"]["iteration"], resumed["trainer"]["iteration"])
        for name in NETWORKS:
            for key, tensor in whole[name].items():
                self.assertTrue(torch.equal(tensor, resumed[name][key]), f"{name}.{key} differs")
        for name in ("pool_a", "pool_b"):
            self.assertTrue(torch.equal(whole[name]["images"], resumed[name]["images"]), name)
        for key in ("g_ab", "g_ba"):  # the deployed generators too
            model = "model.pt" if key == "g_ab" else "model_t2_to_t1.pt"
            deployed_whole = torch.load(self.whole / "models" / model, weights_only=True)
            deployed_resumed = torch.load(self.crashed / "models" / model, weights_only=True)
            for name, tensor in deployed_whole.items():
                self.assertTrue(torch.equal(tensor, deployed_resumed[name]), f"{model}: {name} differs")

    def test_resumed_animation_covers_the_whole_training(self):
        """The GIF keeps the killed run's frames and samples: it equals the uninterrupted run's, frame for frame."""
        self.assertEqual(self.resumed.returncode, 0, self.resumed.stderr[-3000:])
        frames = {}
        for name, out in (("whole", self.whole), ("resumed", self.crashed)):
            with Image.open(out / "training_progress.gif") as gif:
                frames[name] = [np.asarray(frame.convert("L")) for frame in ImageSequence.Iterator(gif)]
        self.assertEqual(len(frames["resumed"]), TINY["epochs"])
        for epoch, (whole, resumed) in enumerate(zip(frames["whole"], frames["resumed"], strict=True), start=1):
            np.testing.assert_array_equal(resumed, whole, err_msg=f"frame of epoch {epoch}")


if __name__ == "__main__":
    unittest.main()
