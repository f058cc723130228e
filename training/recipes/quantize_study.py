"""Would int8 (ONNX Runtime static quantization) make the default model faster on a CPU without losing
accuracy? Measures latency (batch 1, 2 threads, alternated), embedding cosine vs float32, and MAP@5 on the
recipe's synthetic test set.

    python -m training.recipes.quantize_study --fp32 WORK/whale-vgg16-fp32.onnx --work WORK

WORK is the default-model recipe's folder (its synth-test set is reused). Calibration uses 64 real
unlabelled photos from ../shared (not the test set). Prints figures; writes WORK/quantize.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from training.recipes.default_model import REAL


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fp32", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--calibration", type=int, default=64)
    args = p.parse_args(argv)

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from training.data import read_catalogue
    from training.evaluate import embed_paths, evaluate
    from training.recipes.input_size_study import latency_ms
    from whalegui.core.embedder import Embedder
    from whalegui.core.images import load_model_input
    from whalegui.core.model_card import ModelCard, card_path_for, file_sha256

    card = ModelCard.load(card_path_for(args.fp32))
    prep = card.preprocessing
    calib = sorted(REAL.glob("*.jpg"))[: args.calibration]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.items = iter([{"image": load_model_input(c, prep)[None]} for c in calib])

        def get_next(self) -> Any:
            return next(self.items, None)

    pre = args.work / "q-pre.onnx"
    out = args.work / "whale-vgg16-int8.onnx"
    quant_pre_process(str(args.fp32), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    from dataclasses import replace

    replace(card, sha256=file_sha256(out)).save(card_path_for(out))
    lat = latency_ms({"fp32": args.fp32, "int8": out}, reps=20)

    test = args.work / "synth-test"
    gal = read_catalogue(test / "train.csv", test / "train")
    qry = read_catalogue(test / "test_labels.csv", test / "test")
    q_paths, q_truth = qry.queries()
    res: dict[str, Any] = {"latency_ms": lat, "size_mb": {"fp32": args.fp32.stat().st_size / 1e6,
                                                          "int8": out.stat().st_size / 1e6}}
    embs = {}
    for kind, path in (("fp32", args.fp32), ("int8", out)):
        e = Embedder(path, device="cpu")
        ge, qe = embed_paths(e, gal.paths, label="gallery"), embed_paths(e, q_paths, label="queries")
        embs[kind] = qe
        s, _, _, _ = evaluate(qe, ge, q_truth, gal.ids, card.new_whale_threshold)
        res[kind] = {"map5": s["map5"], "top1_known": s["top1_known"], "roc_auc": s["distances"]["roc_auc"]}
    cos = np.sum(embs["fp32"] * embs["int8"], axis=1)
    res["cosine_int8_vs_fp32"] = {"min": float(cos.min()), "median": float(np.median(cos))}
    (args.work / "quantize.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    shutil.rmtree(args.work / "q-tmp", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
