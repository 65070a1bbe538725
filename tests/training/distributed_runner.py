"""Run by the distribution tests in a fresh interpreter (a strategy must be chosen before TensorFlow starts).

Usage: python distributed_runner.py MODE SETTINGS.json OUT.npz [WORK_DIR]

- ``logical``: makes two logical CPU devices, trains once on one device and once with MirroredStrategy over both,
  and saves both runs' weights and probabilities (keys ``single/…`` and ``mirrored/…``).
- ``worker``: one worker of a MultiWorkerMirroredStrategy cluster described by TF_CONFIG; saves its weights
  (``multi_worker/…``).
"""

import json
import sys

import numpy as np
import tensorflow as tf


def run(config, distribution, work_dir, probe):
    from training.train import train

    result = train(
        config.__class__(**{**config.to_dict(), "distribution": distribution}), None, work_dir=work_dir, verbose=0
    )
    weights = result.embedder.model.get_weights()
    return {"probabilities": result.embedder.predict_proba(probe), **{f"w{i}": w for i, w in enumerate(weights)}}


def main() -> None:
    mode, settings_path, out_path = sys.argv[1:4]
    work_dir = sys.argv[4] if len(sys.argv) > 4 else out_path + ".run"
    if mode == "logical":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from training.config import TrainConfig

    settings = json.loads(open(settings_path, encoding="utf-8").read())
    config = TrainConfig.from_dict(settings["config"])
    probe = settings["probe"]
    results = {}
    if mode == "logical":
        for name, distribution in (("single", "none"), ("mirrored", "mirrored")):
            for key, value in run(config, distribution, f"{work_dir}-{name}", probe).items():
                results[f"{name}/{key}"] = value
        results["replicas"] = np.array(len(tf.config.list_logical_devices("CPU")))
    else:
        for key, value in run(config, "multi_worker", work_dir, probe).items():
            results[f"multi_worker/{key}"] = value
    np.savez(out_path, **results)


if __name__ == "__main__":
    main()
