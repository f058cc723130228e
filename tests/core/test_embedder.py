"""The ONNX embedder on real tiny models run by a real ONNX Runtime: outputs, batching, devices, bad files."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder, l2_normalise
from whalegui.core.errors import ModelError
from whalegui.core.images import load_model_input, load_photo, to_model_input
from whalegui.core.model_card import ModelCard, Preprocessing, card_path_for, file_sha256

NOISE = ("Failed to load", "CUDA", "cuda", "libcu", "onnxruntime", "[E:", "[W:", "Error", "error")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"), height=32, width=64, dim=16)


@pytest.fixture(scope="module")
def embedder(model_path: Path) -> Embedder:
    return Embedder(model_path)


def photos(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(64, 32), (100, 40), (31, 77), (640, 200), (1, 1), (3, 2), (128, 64)]
    return [Image.fromarray(rng.integers(0, 256, (sizes[i % len(sizes)][1], sizes[i % len(sizes)][0], 3),
                                         dtype=np.uint8)) for i in range(n)]


def rewrite_card(model: Path, **changes: object) -> None:
    card = ModelCard.load(card_path_for(model))
    card = dataclasses.replace(card, **changes)  # type: ignore[arg-type]
    card.save(card_path_for(model))


def refused(model: Path, *words: str, **kwargs: object) -> ModelError:
    with pytest.raises(ModelError) as info:
        Embedder(model, **kwargs)  # type: ignore[arg-type]
    reason = info.value.reason.lower()
    assert any(w.lower() in reason for w in words), reason
    return info.value


# ---------------------------------------------------------------- outputs


def test_output_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    vecs = embedder.embed_images(photos(5))
    assert vecs.shape == (5, 16) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 16


def test_embed_preprocessed_batch(embedder: Embedder) -> None:
    prep = embedder.card.preprocessing
    batch = np.stack([to_model_input(im, prep) for im in photos(4)])
    vecs = embedder.embed(batch)
    assert vecs.shape == (4, 16) and vecs.dtype == np.float32
    np.testing.assert_allclose(vecs, embedder.embed_images(photos(4)), atol=1e-6)
    one = embedder.embed(batch[0])  # a single (H, W, 3) image is a batch of one
    np.testing.assert_allclose(one, vecs[:1], atol=1e-6)
    np.testing.assert_allclose(embedder.embed(batch.astype(np.float64)), vecs, atol=1e-6)


def test_empty_inputs(embedder: Embedder) -> None:
    assert embedder.embed_images([]).shape == (0, 16)
    assert embedder.embed(np.zeros((0, 32, 64, 3), np.float32)).shape == (0, 16)


def test_wrong_batch_shape_is_a_value_error(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="expected a batch"):
        embedder.embed(np.zeros((2, 64, 32, 3), np.float32))
    with pytest.raises(ValueError):
        embedder.embed(np.zeros((2, 32, 64), np.float32))


def test_same_photo_same_vector_and_different_photos_differ(embedder: Embedder) -> None:
    ims = photos(3)
    a = embedder.embed_images([ims[0], ims[0], ims[1]])
    np.testing.assert_array_equal(a[0], a[1])
    assert float(a[0] @ a[2]) < 0.999


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_batching_equivalence(embedder: Embedder, batch_size: int) -> None:
    ims = photos(7)
    one_by_one = np.concatenate([embedder.embed_images([im]) for im in ims])
    batched = embedder.embed_images(ims, batch_size=batch_size)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_embedding_from_file_matches_embedding_from_image(embedder: Embedder, tmp_path: Path) -> None:
    path = tmp_path / "fluke.png"
    photos(1)[0].save(path)
    prep = embedder.card.preprocessing
    from_file = embedder.embed(load_model_input(path, prep))
    from_image = embedder.embed_images([load_photo(path).image])
    np.testing.assert_allclose(from_file, from_image, atol=1e-6)


def test_l2_normalise() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = l2_normalise(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize("resize", ["letterbox", "crop"])
def test_other_resize_policies_run(tmp_path: Path, resize: str) -> None:
    model = make_tiny_model(tmp_path, resize=resize)
    emb = Embedder(model, device="cpu")
    assert emb.card.preprocessing.resize == resize
    assert emb.embed_images(photos(3)).shape == (3, 16)


# ---------------------------------------------------------------- identity and devices


def test_identity(embedder: Embedder, model_path: Path) -> None:
    assert embedder.fingerprint == file_sha256(model_path) == embedder.card.sha256
    assert embedder.card.name == "tiny"
    assert "tiny" in embedder.describe() and embedder.fingerprint[:12] in embedder.describe()
    assert embedder.describe().endswith(embedder.device)


def test_provider_report_here(embedder: Embedder) -> None:
    """This machine has no GPU: whatever ONNX Runtime build is installed, the CPU runs the model."""
    import onnxruntime as ort

    assert embedder.provider in ort.get_available_providers()
    assert embedder.provider == "CPUExecutionProvider"
    assert embedder.device == "CPU"


def test_cpu_is_forced(model_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="whalegui.core"):
        emb = Embedder(model_path, device="cpu")
    assert emb.provider == "CPUExecutionProvider" and emb.device == "CPU"
    assert "CUDA" not in caplog.text  # not even probed
    assert "on the CPU" in caplog.text


def test_cuda_falls_back_to_cpu_with_one_clear_line(model_path: Path, caplog: pytest.LogCaptureFixture,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.INFO, logger="whalegui.core"):
        emb = Embedder(model_path, device="cuda")
    assert emb.device == "CPU"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "using the CPU" in warnings[0].getMessage()
    assert emb.embed_images(photos(2)).shape == (2, 16)
    out, err = capfd.readouterr()
    assert not any(word in err for word in NOISE), err
    assert not any(word in out for word in NOISE), out


@pytest.mark.parametrize("device", ["auto", "cuda", "cpu"])
def test_no_onnx_runtime_noise_on_stderr(model_path: Path, capfd: pytest.CaptureFixture[str],
                                         device: str) -> None:
    capfd.readouterr()
    Embedder(model_path, device=device).embed_images(photos(1))
    out, err = capfd.readouterr()
    assert err == "", err
    assert out == "", out


def test_stderr_still_works_after_probing(model_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import sys

    Embedder(model_path, device="auto")
    print("after the probe", file=sys.stderr)
    assert "after the probe" in capfd.readouterr().err


def test_unknown_device_is_a_value_error(model_path: Path) -> None:
    with pytest.raises(ValueError, match="device"):
        Embedder(model_path, device="tpu")


def test_threads_option(model_path: Path) -> None:
    assert Embedder(model_path, device="cpu", threads=1).embed_images(photos(1)).shape == (1, 16)


def test_explicit_card(model_path: Path) -> None:
    card = ModelCard.load(card_path_for(model_path))
    assert Embedder(model_path, card=card).card is card


# ---------------------------------------------------------------- bad model files


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return make_tiny_model(tmp_path / "m")


def _replace_model_bytes(model: Path, data: bytes) -> None:
    """Swap the .onnx content and keep the card's sha256 honest, so the ONNX check itself is reached."""
    model.write_bytes(data)
    rewrite_card(model, sha256=file_sha256(model))


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda"])
def test_random_bytes_are_not_onnx(tiny: Path, device: str, capfd: pytest.CaptureFixture[str]) -> None:
    _replace_model_bytes(tiny, np.random.default_rng(0).bytes(4096))
    error = refused(tiny, "not a valid onnx model", device=device)
    assert error.path == tiny
    _, err = capfd.readouterr()
    assert err == "", err


def test_text_file_is_not_onnx(tiny: Path) -> None:
    _replace_model_bytes(tiny, b"This is the README, not a model.\n" * 10)
    refused(tiny, "not a valid onnx model")


def test_empty_model_file(tiny: Path) -> None:
    _replace_model_bytes(tiny, b"")
    refused(tiny, "not a valid onnx model")


def test_truncated_model(tiny: Path) -> None:
    data = tiny.read_bytes()
    _replace_model_bytes(tiny, data[: len(data) // 2])
    refused(tiny, "not a valid onnx model")


def test_model_missing(tmp_path: Path) -> None:
    refused(tmp_path / "nowhere.onnx", "not found")


def test_model_path_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "folder.onnx").mkdir()
    refused(tmp_path / "folder.onnx", "not a file")


def test_card_missing(tiny: Path) -> None:
    card_path_for(tiny).unlink()
    error = refused(tiny, "card not found")
    assert error.path == card_path_for(tiny)


def test_card_malformed_json(tiny: Path) -> None:
    card_path_for(tiny).write_text('{"schema_version": 1, "name": ', encoding="utf-8")
    refused(tiny, "not readable json")


def test_card_schema_error(tiny: Path) -> None:
    card_path_for(tiny).write_text('{"schema_version": 1, "name": "x"}', encoding="utf-8")
    refused(tiny, "malformed model card")


def test_card_sha256_does_not_match(tiny: Path) -> None:
    rewrite_card(tiny, sha256="0" * 64)
    refused(tiny, "does not match this model file")


def test_model_changed_after_the_card_was_written(tiny: Path) -> None:
    model = onnx.load(tiny)
    model.doc_string = "edited"
    onnx.save(model, tiny)
    refused(tiny, "does not match this model file")


@pytest.mark.parametrize(("height", "width"), [(40, 64), (32, 32), (64, 32)])
def test_card_input_size_does_not_match(tiny: Path, height: int, width: int) -> None:
    rewrite_card(tiny, preprocessing=Preprocessing(height, width, "squash", "RGB",
                                                   (127.5, 127.5, 127.5), (64.0, 64.0, 64.0)))
    refused(tiny, "input shape")


def test_card_embedding_dim_does_not_match(tiny: Path) -> None:
    rewrite_card(tiny, embedding_dim=128)
    refused(tiny, "embedding size")


def test_card_input_name_wrong(tiny: Path) -> None:
    rewrite_card(tiny, input_name="input_1")
    error = refused(tiny, "names input 'input_1'")
    assert "image" in error.reason


def test_card_output_name_wrong(tiny: Path) -> None:
    rewrite_card(tiny, output_name="features")
    refused(tiny, "names output 'features'")


def test_output_size_mismatch_caught_at_load_or_first_run(tiny: Path) -> None:
    """Even when the model's output size is symbolic, a card that says otherwise is caught."""
    model = onnx.load(tiny)
    dim = model.graph.output[0].type.tensor_type.shape.dim[1]
    dim.dim_param = "dim"  # replaces the fixed 16 (a protobuf oneof)
    onnx.save(model, tiny)
    rewrite_card(tiny, sha256=file_sha256(tiny), embedding_dim=32)
    with pytest.raises(ModelError, match="16"):
        Embedder(tiny, device="cpu").embed_images(photos(1))


def test_nchw_model_is_refused(tmp_path: Path) -> None:
    """A valid model that takes NCHW input: its shape cannot match the card's NHWC size."""
    model_path = make_tiny_model(tmp_path)
    model = onnx.load(model_path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value, dims[3].dim_value = 3, 32, 64
    transpose = model.graph.node[0]
    transpose.attribute[0].ints[:] = [0, 1, 2, 3]
    onnx.checker.check_model(model)
    onnx.save(model, model_path)
    rewrite_card(model_path, sha256=file_sha256(model_path))
    error = refused(model_path, "input shape")
    assert "3, 32, 64" in error.reason
