"""Export a trained run's model for engineers: TensorFlow SavedModel and TFLite."""

from __future__ import annotations

import io
import re
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# The serving input is named here rather than by Keras, whose default name follows the model's
# input layer ("image", or "keras_tensor_17" for an unnamed one) and so changes between models.
SERVING_INPUT_NAME = "images"
SAVED_MODEL_FOLDER = "saved_model"
MAX_SLUG_LENGTH = 60
FALLBACK_SLUG = "model"
MAX_ERROR_LENGTH = 300


def export_file_names(run_name: str) -> tuple[str, str]:
    """Safe download names for a run: ('<slug>-saved_model.zip', '<slug>.tflite').

    The slug keeps ASCII lowercase letters, digits and single dashes, at most 60 characters;
    a name with none of those gives 'model'.
    """
    # NFKD splits "é" into "e" and a combining accent, so accented names keep their letters.
    ascii_name = unicodedata.normalize("NFKD", str(run_name)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    slug = slug[:MAX_SLUG_LENGTH].rstrip("-") or FALLBACK_SLUG
    return f"{slug}-{SAVED_MODEL_FOLDER}.zip", f"{slug}.tflite"


def saved_model_zip_bytes(model: keras.Model) -> bytes:
    """The model as a zipped TensorFlow SavedModel, its files under 'saved_model/' in the zip.

    The endpoint is Keras's `serve` (also registered as the `serving_default` signature). It
    takes one float32 tensor named 'images', shape (None, height, width, channels), of raw
    0-255 pixel values (Convlab's models scale them inside, with a Rescaling layer), and
    returns the class probabilities, shape (None, num_classes); the `serving_default`
    signature returns them under the key 'output_0'. Reload with
    `tf.saved_model.load("saved_model").serve(images)`. The model's own precision is kept.
    Raises TypeError for something that is not a Keras model and ValueError if the model
    cannot be exported.
    """
    _check_exportable(model)
    with tempfile.TemporaryDirectory(prefix="convlab-export-") as temporary_folder:
        saved_model_dir = _export_saved_model(model, Path(temporary_folder) / SAVED_MODEL_FOLDER)
        return _zip_folder(saved_model_dir)


def tflite_bytes(model: keras.Model) -> bytes:
    """The model as a float32 TFLite flatbuffer (no quantization), converted from a SavedModel.

    The interpreter's one input is float32 raw 0-255 pixels of shape (1, height, width,
    channels); its shape signature is (-1, height, width, channels), so
    `interpreter.resize_tensor_input(index, [n, height, width, channels])` before
    `allocate_tensors()` runs a batch of n. The output is the class probabilities, shape
    (1, num_classes), and the flatbuffer's signature is 'serving_default' (input 'images',
    output 'output_0'). A mixed-precision model is converted from a float32 copy, since TFLite's
    built-in kernels have no float16 convolutions. Raises TypeError for something that is not a
    Keras model and ValueError if the conversion fails.
    """
    import tensorflow as tf

    _check_exportable(model)
    if _uses_reduced_precision(model):
        model = _float32_copy(model)
    with tempfile.TemporaryDirectory(prefix="convlab-export-") as temporary_folder:
        saved_model_dir = _export_saved_model(model, Path(temporary_folder) / SAVED_MODEL_FOLDER)
        try:
            # From the SavedModel, not from_keras_model: the latter exports one itself anyway
            # and prints "Saved artifact at ..." to stdout on every call.
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
            return bytes(converter.convert())
        except Exception as error:
            raise ValueError(
                f"This model could not be converted to TFLite: {_first_line(error)}"
            ) from error


def _check_exportable(model: keras.Model) -> None:
    """Raise TypeError for a non-model and ValueError unless it has one 4-D image input."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"Only a Keras model can be exported; got {type(model).__name__}.")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        # A subclassed model never called has no inputs yet.
        inputs = None
    if not inputs or len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = ", ".join(str(tuple(tensor.shape)) for tensor in inputs or []) or "none"
        raise ValueError(
            "Only a model with one image input of shape (batch, height, width, channels) can be "
            f"exported; this one's inputs are {shapes}."
        )


def _export_saved_model(model: keras.Model, saved_model_dir: Path) -> Path:
    """Write `model` as a SavedModel with one named float32 image input; returns the folder."""
    import tensorflow as tf

    input_signature = [
        tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name=SERVING_INPUT_NAME)
    ]
    try:
        model.export(
            str(saved_model_dir),
            format="tf_saved_model",
            verbose=False,
            input_signature=input_signature,
        )
    except Exception as error:
        raise ValueError(
            f"This model could not be exported as a SavedModel: {_first_line(error)}"
        ) from error
    return saved_model_dir


def _zip_folder(folder: Path) -> bytes:
    """A deflated zip of `folder` with the folder itself as the zip's top entry."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # Directories are written too: a SavedModel's empty 'assets/' folder is part of it.
        for path in [folder, *sorted(folder.rglob("*"))]:
            archive.write(path, path.relative_to(folder.parent).as_posix())
    return buffer.getvalue()


def _uses_reduced_precision(model: keras.Model) -> bool:
    """Whether any layer, nested models included, computes in something other than float32."""
    import keras

    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.Model) and _uses_reduced_precision(layer):
            return True
        if layer.compute_dtype != "float32":
            return True
    return False


def _float32_copy(model: keras.Model) -> keras.Model:
    """A float32 copy of a mixed-precision model with the same weights (stored as float32)."""
    import keras

    def clone_in_float32(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone_in_float32, recursive=True)
        copy.set_weights(model.get_weights())
    except Exception as error:
        raise ValueError(
            "This mixed-precision model could not be copied to float32 for TFLite: "
            f"{_first_line(error)}"
        ) from error
    return copy


def _first_line(error: BaseException) -> str:
    # Converter errors run to hundreds of lines of MLIR; the start says what went wrong.
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else type(error).__name__
    return line if len(line) <= MAX_ERROR_LENGTH else line[: MAX_ERROR_LENGTH - 3] + "..."
