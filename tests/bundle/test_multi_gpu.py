"""Distributed data-parallel training with configs/multi_gpu_train.json: two CPU processes on gloo, via torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

from monai_cyclegan.data.phantom import ensure_phantom_dataset
from monai_cyclegan.files import load_checkpoint
from tests.bundle.faults import TRAIN

MULTI_GPU = TRAIN.parent / "multi_gpu_train.json"
NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")
# 4 phantom subjects, batch 1: each of the 2 processes takes 2 of them per epoch.
TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "num_workers": 0, "batch_size": 1, "epochs": 2}
# What each process holds at the end: its networks' weights, the handlers it runs, its data transforms' random
# states and its image pools' seeds.
REPORT = {
    "+finalize": [
        "$torch.save({'handlers': [type(h).__name__ for h in @train#handlers], "
        "'data_random': monai_cyclegan.engines.RandomStates(@train#dataset).state_dict()['data'], "
        "'pool_seeds': (@pool_a.generator.initial_seed(), @pool_b.generator.initial_seed()), "
        "**{n: m.module.state_dict() for n, m in (('g_ab', @g_ab), ('g_ba', @g_ba), ('d_a', @d_a), ('d_b', @d_b))}}, "
        "@output_dir + '/rank' + str(@rank) + '.pt')"
    ]
}


class TestMultiGpuTraining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        cls.out = root / "out"
        # Generated once beforehand: the processes would otherwise both generate the default phantom.
        phantom = ensure_phantom_dataset(root / "phantom", num_subjects=4, scale=0.125)
        report = root / "report.json"
        report.write_text(json.dumps(REPORT))
        configs = json.dumps([str(TRAIN), str(MULTI_GPU), str(report)])
        overrides = {
            **TINY,
            "dataset_dir": str(phantom),
            "output_dir": str(cls.out),
            "ckpt_dir": str(cls.out / "models"),
        }
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        cmd += ["-m", "monai.bundle", "run", "training", "--config_file", configs]
        cmd += [f"--{k}={v}" for k, v in overrides.items()]
        cls.result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr[-4000:])

    def test_both_processes_end_with_identical_weights(self):
        ranks = [torch.load(self.out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
        for name in NETWORKS:
            for key, tensor in ranks[0][name].items():
                self.assertTrue(torch.equal(tensor, ranks[1][name][key]), f"{name}.{key} differs between processes")

    def test_processes_draw_different_augmentations(self):
        """Each process seeds with seed + rank: identical draws on every process would waste the augmentation."""
        ranks = [torch.load(self.out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
        self.assertEqual(set(ranks[0]["data_random"]), set(ranks[1]["data_random"]))
        self.assertTrue(ranks[0]["data_random"])
        for path, state in ranks[0]["data_random"].items():
            self.assertFalse(torch.equal(state["keys"], ranks[1]["data_random"][path]["keys"]), path)
        self.assertEqual(len({*ranks[0]["pool_seeds"], *ranks[1]["pool_seeds"]}), 4)

    def test_each_process_takes_half_of_the_data(self):
        state = load_checkpoint(self.out / "checkpoints" / "cyclegan_checkpoint_epoch=2.pt")
        self.assertEqual((state["trainer"]["epoch_length"], state["trainer"]["iteration"]), (2, 4))

    def test_checkpoints_hold_no_module_prefix(self):
        state = load_checkpoint(self.out / "checkpoints" / "cyclegan_checkpoint_epoch=2.pt")
        deployed = load_checkpoint(self.out / "models" / "model.pt")
        rank0 = torch.load(self.out / "rank0.pt", weights_only=True)
        for name in NETWORKS:
            self.assertFalse([k for k in state[name] if k.startswith("module.")], name)
        self.assertEqual(set(deployed), set(rank0["g_ab"]))
        self.assertTrue(all(torch.equal(deployed[k], rank0["g_ab"][k]) for k in deployed))

    def test_only_the_first_process_logs_and_saves(self):
        handlers = [torch.load(self.out / f"rank{r}.pt", weights_only=True)["handlers"] for r in (0, 1)]
        # Schedules and the divergence guard change what every process computes, so every process runs them.
        self.assertEqual(handlers[1], ["LrScheduleHandler", "LrScheduleHandler", "LossWeightDecay", "DivergenceGuard"])
        # Every handler of train.json but validation, which has no validation pairs to score here.
        self.assertEqual(len(handlers[0]), len(json.loads(TRAIN.read_text())["train"]["handlers"]) - 1)
        self.assertEqual(len(list((self.out / "tensorboard").glob("events.out.tfevents.*"))), 1)
        self.assertTrue((self.out / "run_record.json").is_file())


if __name__ == "__main__":
    unittest.main()
