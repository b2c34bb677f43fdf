"""Every dataset Convlab knows, read from its published files; the only module that knows paths."""

from __future__ import annotations

import ast
import gzip
import hashlib
import http.client
import json
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASET_NAMES = ("mnist", "fashion_mnist", "cifar10", "quickdraw", "digits")

# progress(fraction_done in [0, 1], message) lets a page draw a progress bar.
ProgressCallback = Callable[[float, str], None]

QUICKDRAW_URL_ENVIRONMENT_VARIABLE = "CONVLAB_QUICKDRAW_URL"
QUICKDRAW_DEFAULT_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap"
# Ten categories whose drawings are distinct and well drawn, so a first model does well.
QUICKDRAW_DEFAULT_CATEGORIES = (
    "apple",
    "bicycle",
    "cat",
    "clock",
    "envelope",
    "fish",
    "house",
    "star",
    "tree",
    "umbrella",
)
QUICKDRAW_DEFAULT_PER_CLASS = 5000
# One drawing in six goes to the test set, always the last ones of a category's file.
QUICKDRAW_TEST_FRACTION = 1 / 6
QUICKDRAW_IMAGE_BYTES = 28 * 28

CIFAR10_ARCHIVE_NAME = "cifar-10-python.tar.gz"
CIFAR10_FOLDER_NAME = "cifar-10-batches-py"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

IDX_FILE_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
IDX_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
# Public mirrors, tried in order: LeCun's own site is often down, so it is not first.
IDX_MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion_mnist": (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}

MNIST_CLASS_NAMES = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


class DatasetError(Exception):
    """A dataset file is missing, corrupt, wrong-sized or unknown; the message says what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a person should know about a dataset before using it."""

    name: str
    title: str
    description: str
    image_shape: tuple[int, int, int]
    source: str
    source_url: str
    licence: str
    files: str


DATASET_INFO: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST handwritten digits",
        description="70,000 handwritten digits 0-9, size-normalised to 20x20 and centred by "
        "their centre of mass in 28x28.",
        image_shape=(28, 28, 1),
        source="Yann LeCun, Corinna Cortes and Christopher Burges",
        source_url="http://yann.lecun.com/exdb/mnist/",
        licence="CC BY-SA 3.0",
        files="mnist/ with the four IDX files train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        title="Fashion-MNIST",
        description="70,000 grayscale photos of Zalando clothing in 10 classes, a harder "
        "drop-in replacement for MNIST.",
        image_shape=(28, 28, 1),
        source="Zalando Research",
        source_url="https://github.com/zalandoresearch/fashion-mnist",
        licence="MIT",
        files="fashion-mnist/ with the four IDX files train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        description="60,000 small colour photos of 10 kinds of animals and vehicles.",
        image_shape=(32, 32, 3),
        source="Alex Krizhevsky, Vinod Nair and Geoffrey Hinton",
        source_url="https://www.cs.toronto.edu/~kriz/cifar.html",
        licence="Free to use, cite Krizhevsky (2009)",
        files=f"{CIFAR10_FOLDER_NAME}/ (the extracted python batches) or {CIFAR10_ARCHIVE_NAME}",
    ),
    "quickdraw": DatasetInfo(
        name="quickdraw",
        title="Quick, Draw!",
        description="Doodles drawn in 20 seconds by players of Google's Quick, Draw! game, "
        "345 categories, rendered to 28x28.",
        image_shape=(28, 28, 1),
        source="Google Creative Lab",
        source_url="https://github.com/googlecreativelab/quickdraw-dataset",
        licence="CC BY 4.0",
        files="quickdraw/<category>.npy, Google's numpy_bitmap files",
    ),
    "digits": DatasetInfo(
        name="digits",
        title="Digits (offline)",
        description="1,797 tiny 8x8 handwritten digits bundled with scikit-learn, upscaled to "
        "28x28: works on a machine that has never been online.",
        image_shape=(28, 28, 1),
        source="UCI Optical Recognition of Handwritten Digits, via scikit-learn",
        source_url="https://archive.ics.uci.edu/dataset/80",
        licence="CC BY 4.0",
        files="none: bundled with scikit-learn",
    ),
    "custom": DatasetInfo(
        name="custom",
        title="Your own images",
        description="Images you uploaded as a .zip with one folder per class.",
        image_shape=(28, 28, 1),
        source="you",
        source_url="",
        licence="yours",
        files="an uploaded .zip of one folder of PNG or JPEG images per class",
    ),
}


@dataclass(frozen=True)
class Dataset:
    """Images uint8 (n, height, width, channels) and labels int64 (n,); arrays are read-only."""

    name: str
    class_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def quickdraw_categories() -> tuple[str, ...]:
    """All 345 Quick, Draw! category names, spelled as in the dataset's own list."""
    text = (Path(__file__).with_name("quickdraw_categories.txt")).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: the argument, else $CONVLAB_DATA_DIR, else ~/.keras/datasets."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    from_environment = os.environ.get("CONVLAB_DATA_DIR")
    if from_environment:
        return Path(from_environment).expanduser()
    return Path.home() / ".keras" / "datasets"


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    categories: Sequence[str] | None = None,
    per_class: int | None = None,
    progress: ProgressCallback | None = None,
) -> Dataset:
    """Load a dataset by name from the data folder, downloading what is missing."""
    if name not in DATASET_NAMES:
        raise DatasetError(f"Unknown dataset {name!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
    folder = resolve_data_dir(data_dir)
    if name in IDX_FILE_MD5:
        dataset = _load_idx_dataset(name, folder, progress)
    elif name == "cifar10":
        dataset = _load_cifar10(folder, progress)
    elif name == "quickdraw":
        dataset = _load_quickdraw(folder, categories, per_class, progress)
    else:
        dataset = _load_digits()
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        # Caches share one copy between sessions, so nobody may change it in place.
        array.flags.writeable = False
    if progress is not None:
        progress(1.0, f"{DATASET_INFO[name].title} loaded")
    return dataset


# --- Checksums and downloads -------------------------------------------------------------------


def file_md5(path: Path) -> str:
    """The MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_md5(path: Path, expected_md5: str) -> None:
    actual = file_md5(path)
    if actual != expected_md5:
        raise DatasetError(
            f"{path} is corrupt or not the official file: its MD5 is {actual}, the published "
            f"one is {expected_md5}. Delete it so it can be downloaded again, or replace it "
            "with the official file."
        )


def plain_download_reason(error: BaseException) -> str:
    """Why a download failed, in a few plain words, from its exception and what it wraps.

    Keras and urllib wrap the cause (Keras re-raises a bare Exception), so the chain is read.
    """
    chain = []
    link: BaseException | None = error
    while link is not None and len(chain) < 8:
        chain.append(link)
        link = link.__cause__ or link.__context__
    for link in chain:
        if isinstance(link, urllib.error.HTTPError):
            return "the server does not have it" if link.code == 404 else "the server refused it"
        if isinstance(link, urllib.error.ContentTooShortError):
            return "the download stopped halfway"
        if isinstance(link, urllib.error.URLError):
            if isinstance(link.reason, TimeoutError):
                return "the server did not answer in time"
            return "the server could not be reached; this machine may be offline"
        if isinstance(link, TimeoutError):
            return "the server did not answer in time"
        if isinstance(link, (OSError, http.client.HTTPException)):
            return "the connection broke off"
    if isinstance(error, ValueError) and "hash" in str(error):
        return "what came back is not the official file (its checksum differs)"
    return "the download failed"


def offline_advice(destination: Path, url: str) -> str:
    """What to do when a file cannot be downloaded: put it in place by hand, or go online."""
    return (
        f"Put {destination.name} in the data folder as {destination} (on a machine that is "
        f"online, fetch it from {url}), or connect this machine to the internet and try again."
    )


def _download(urls: Sequence[str], destination: Path, md5: str) -> None:
    """Fetch the first URL that works into destination, checking the published MD5.

    keras.utils.get_file does the fetch and the checksum; it writes into a private temporary
    folder first, so an interrupted or corrupt download never lands in the data folder.
    """
    import keras  # Imported here: TensorFlow costs 5 s and 790 MB, paid only when downloading.

    destination.parent.mkdir(parents=True, exist_ok=True)
    reasons: list[str] = []
    for url in urls:
        with tempfile.TemporaryDirectory(dir=destination.parent) as staging:
            try:
                fetched = keras.utils.get_file(
                    fname=destination.name,
                    origin=url,
                    file_hash=md5,
                    hash_algorithm="md5",
                    cache_dir=staging,
                    cache_subdir=".",
                )
            except Exception as error:  # Keras wraps network errors in bare Exceptions.
                reason = plain_download_reason(error)
                if reason not in reasons:
                    reasons.append(reason)
                continue
            os.replace(fetched, destination)
            return
    # A plain reason only: Python's exception text means nothing to a student.
    raise DatasetError(
        f"Could not download {destination.name}: {'; '.join(reasons)}. "
        + offline_advice(destination, urls[0])
    )


def _ensure_file(path: Path, urls: Sequence[str], md5: str) -> None:
    """A present file must match its published checksum; a missing one is downloaded."""
    if path.exists():
        _check_md5(path, md5)
    else:
        _download(urls, path, md5)


# --- MNIST and Fashion-MNIST: IDX files --------------------------------------------------------

IDX_UNSIGNED_BYTE = 0x08


def parse_idx(data: bytes, *, source: str, expected_dimensions: int) -> np.ndarray:
    """Read an uncompressed IDX file (big-endian header: magic, sizes; then raw uint8)."""
    if len(data) < 4:
        raise DatasetError(f"{source} is too short to be an IDX file.")
    zero, zero_too, data_type, dimensions = struct.unpack(">BBBB", data[:4])
    if zero != 0 or zero_too != 0 or data_type != IDX_UNSIGNED_BYTE:
        raise DatasetError(f"{source} does not start with an IDX header of unsigned bytes.")
    if dimensions != expected_dimensions:
        raise DatasetError(
            f"{source} holds {dimensions}-dimensional data where {expected_dimensions} were "
            "expected: is it an image file swapped with a label file?"
        )
    header_size = 4 + 4 * dimensions
    if len(data) < header_size:
        raise DatasetError(f"{source} is truncated inside its header.")
    shape = struct.unpack(f">{dimensions}I", data[4:header_size])
    expected_bytes = int(np.prod(shape, dtype=np.int64))
    actual_bytes = len(data) - header_size
    if actual_bytes != expected_bytes:
        raise DatasetError(
            f"{source} announces {shape} values ({expected_bytes} bytes) but holds "
            f"{actual_bytes}: the file is truncated or corrupt."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def read_idx_gz(path: Path, *, expected_dimensions: int) -> np.ndarray:
    """Read a gzip-compressed IDX file."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DatasetError(f"{path} is not a readable gzip file ({error}).") from error
    return parse_idx(data, source=str(path), expected_dimensions=expected_dimensions)


def _load_idx_dataset(name: str, data_dir: Path, progress: ProgressCallback | None) -> Dataset:
    folder = data_dir / IDX_FOLDERS[name]
    checksums = IDX_FILE_MD5[name]
    for position, (file_name, md5) in enumerate(checksums.items()):
        if progress is not None:
            progress(position / len(checksums), f"Reading {file_name}")
        urls = [mirror + file_name for mirror in IDX_MIRRORS[name]]
        _ensure_file(folder / file_name, urls, md5)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", expected_dimensions=3)
        labels = read_idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", expected_dimensions=1)
        if len(images) != len(labels):
            raise DatasetError(f"{folder}: {len(images)} {split} images but {len(labels)} labels.")
        arrays[split] = (images[..., np.newaxis], labels.astype(np.int64))
    class_names = MNIST_CLASS_NAMES if name == "mnist" else FASHION_MNIST_CLASS_NAMES
    return _checked_dataset(name, class_names, arrays, source=str(folder))


def _checked_dataset(
    name: str,
    class_names: Sequence[str],
    arrays: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    source: str,
) -> Dataset:
    for split, (_, labels) in arrays.items():
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise DatasetError(
                f"{source}: {split} labels run from {labels.min()} to {labels.max()}, but the "
                f"dataset has {len(class_names)} classes. The label file is corrupt."
            )
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return Dataset(name, tuple(class_names), x_train, y_train, x_test, y_test)


# --- CIFAR-10: pickled python batches ----------------------------------------------------------


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only, so a doctored file cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"),
        ("__builtin__", "object"),
        ("builtins", "object"),
        # Python 3 pickles bytes for protocol 2 through codecs.encode, which only encodes text.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle's own hook.
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: images (n, 32, 32, 3) uint8 and labels int64."""
    try:
        with open(path, "rb") as handle:
            batch = _ArraysOnlyUnpickler(handle, encoding="bytes").load()
    except FileNotFoundError as error:
        raise DatasetError(f"{path} is missing.") from error
    except Exception as error:  # A corrupt pickle can fail in many ways; all mean the same.
        raise DatasetError(f"{path} is not a CIFAR-10 python batch ({error}).") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path} is not a CIFAR-10 python batch (no data and labels).")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(
            f"{path} holds data of shape {data.shape} and type {data.dtype}; CIFAR-10 batches "
            "hold (n, 3072) uint8."
        )
    if len(labels) != len(data):
        raise DatasetError(f"{path} holds {len(data)} images but {len(labels)} labels.")
    # Stored as channel planes (n, 3, 32, 32); Keras and Plotly want (n, 32, 32, 3).
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _extract_cifar_archive(archive: Path, data_dir: Path) -> None:
    """Extract into a temporary folder and rename, so an interrupted extract leaves nothing."""
    with tempfile.TemporaryDirectory(dir=data_dir) as staging:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(staging, filter="data")
        except (tarfile.TarError, OSError, EOFError) as error:
            raise DatasetError(f"{archive} could not be extracted ({error}).") from error
        extracted = Path(staging) / CIFAR10_FOLDER_NAME
        if not extracted.is_dir():
            raise DatasetError(f"{archive} does not contain a {CIFAR10_FOLDER_NAME}/ folder.")
        os.replace(extracted, data_dir / CIFAR10_FOLDER_NAME)


def _load_cifar10(data_dir: Path, progress: ProgressCallback | None) -> Dataset:
    folder = data_dir / CIFAR10_FOLDER_NAME
    if not folder.is_dir():
        archive = data_dir / CIFAR10_ARCHIVE_NAME
        if progress is not None:
            progress(0.0, f"Fetching {CIFAR10_ARCHIVE_NAME} (163 MB)")
        _ensure_file(archive, [CIFAR10_URL], CIFAR10_MD5)
        if progress is not None:
            progress(0.5, f"Extracting {CIFAR10_ARCHIVE_NAME}")
        _extract_cifar_archive(archive, data_dir)
    batch_files = [folder / f"data_batch_{index}" for index in range(1, 6)]
    x_train: np.ndarray | None = None
    label_parts = []
    position = 0
    for batch_number, path in enumerate(batch_files):
        if progress is not None:
            progress(0.5 + 0.08 * batch_number, f"Reading {path.name}")
        images, labels = read_cifar_batch(path)
        if x_train is None:
            # Room for five batches the size of the first, filled in place: the training set
            # is never held twice (the published batches hold 10,000 images each).
            x_train = np.empty((len(images) * len(batch_files), 32, 32, 3), dtype=np.uint8)
        if position + len(images) > len(x_train):
            x_train = np.concatenate([x_train[:position], images])
        else:
            x_train[position : position + len(images)] = images
        position += len(images)
        label_parts.append(labels)
        del images
    x_train = x_train[:position]
    y_train = np.concatenate(label_parts)
    x_test, y_test = read_cifar_batch(folder / "test_batch")
    arrays = {"train": (x_train, y_train), "test": (np.ascontiguousarray(x_test), y_test)}
    return _checked_dataset("cifar10", CIFAR10_CLASS_NAMES, arrays, source=str(folder))


# --- Quick, Draw!: numpy_bitmap .npy files, fetched by HTTP range ------------------------------

NPY_MAGIC = b"\x93NUMPY"


def parse_npy_header(head: bytes, *, source: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a .npy file from its first bytes."""
    if not head.startswith(NPY_MAGIC) or len(head) < 10:
        raise DatasetError(f"{source} is not a .npy file (bad magic bytes).")
    major = head[6]
    if major == 1:
        header_length = struct.unpack("<H", head[8:10])[0]
        header_start = 10
    elif major in (2, 3):
        if len(head) < 12:
            raise DatasetError(f"{source} is truncated inside its .npy header.")
        header_length = struct.unpack("<I", head[8:12])[0]
        header_start = 12
    else:
        raise DatasetError(f"{source} has an unknown .npy format version {major}.")
    data_offset = header_start + header_length
    if len(head) < data_offset:
        raise DatasetError(f"{source} is truncated inside its .npy header.")
    text = head[header_start:data_offset].decode("latin1")
    try:
        # The header is a Python dict literal, read without eval.
        descriptor = _parse_header_dict(text)
        dtype = np.dtype(np.lib.format.descr_to_dtype(descriptor["descr"]))
        shape = tuple(int(size) for size in descriptor["shape"])
        fortran_order = bool(descriptor["fortran_order"])
    except (KeyError, TypeError, ValueError, SyntaxError) as error:
        raise DatasetError(f"{source} has an unreadable .npy header ({error}).") from error
    if fortran_order:
        raise DatasetError(f"{source} is stored in Fortran order; Quick, Draw! files are not.")
    return shape, dtype, data_offset


def _parse_header_dict(text: str) -> dict:
    value = ast.literal_eval(text.strip())  # Literals only: a header cannot run code.
    if not isinstance(value, dict):
        raise ValueError("the header is not a dictionary")
    return value


def _check_bitmap_header(shape: tuple[int, ...], dtype: np.dtype, source: str) -> int:
    if dtype != np.uint8 or len(shape) != 2 or shape[1] != QUICKDRAW_IMAGE_BYTES:
        raise DatasetError(
            f"{source} holds {dtype} data of shape {shape}; a Quick, Draw! numpy_bitmap file "
            f"holds uint8 data of shape (n, {QUICKDRAW_IMAGE_BYTES})."
        )
    return shape[0]


def quickdraw_url(base_url: str, category: str) -> str:
    """The numpy_bitmap URL of a category, its name URL-encoded."""
    return f"{base_url.rstrip('/')}/{urllib.parse.quote(category)}.npy"


def _http_range(url: str, start: int, end_inclusive: int, destination: Path) -> bytes:
    """Bytes start to end_inclusive of `url`, the file to be kept at `destination`."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-{end_inclusive}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 206:
                raise DatasetError(
                    f"{url} ignored the byte range request (HTTP {response.status}); the "
                    "server must support Range requests to fetch only part of a file."
                )
            data = response.read()
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as error:
        raise DatasetError(
            f"Could not download {destination.name} of Quick, Draw!: "
            f"{plain_download_reason(error)}. " + offline_advice(destination, url)
        ) from error
    if len(data) != end_inclusive - start + 1:
        raise DatasetError(
            f"{url} sent {len(data)} bytes where {end_inclusive - start + 1} were asked for: "
            "the download stopped halfway. Try again."
        )
    return data


def _fetch_quickdraw_head(url: str, count: int, destination: Path) -> tuple[np.ndarray, int]:
    """The first count drawings of a remote numpy_bitmap file, and how many it holds."""
    head = _http_range(url, 0, 1023, destination)
    shape, dtype, data_offset = parse_npy_header(head, source=url)
    available = _check_bitmap_header(shape, dtype, url)
    count = min(count, available)
    if count == 0:
        return np.empty((0, QUICKDRAW_IMAGE_BYTES), dtype=np.uint8), available
    body = _http_range(
        url, data_offset, data_offset + count * QUICKDRAW_IMAGE_BYTES - 1, destination
    )
    return np.frombuffer(body, dtype=np.uint8).reshape(count, QUICKDRAW_IMAGE_BYTES), available


def _write_npy_atomically(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as handle:
        temporary = Path(handle.name)
        try:
            np.save(handle, array)
        except BaseException:
            handle.close()
            temporary.unlink(missing_ok=True)
            raise
    os.replace(temporary, path)


def _read_local_bitmaps(path: Path, count: int) -> np.ndarray:
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
        shape, dtype, data_offset = parse_npy_header(head, source=str(path))
        available = _check_bitmap_header(shape, dtype, str(path))
        expected_size = data_offset + available * QUICKDRAW_IMAGE_BYTES
        if path.stat().st_size < expected_size:
            raise DatasetError(
                f"{path} is truncated: it announces {available} drawings but is too short. "
                "Delete it so it can be downloaded again."
            )
        # A memory map reads only the drawings asked for, not the whole 100 MB file.
        bitmaps = np.load(path, mmap_mode="r", allow_pickle=False)
        return np.array(bitmaps[:count])
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path} is not a readable .npy file ({error}).") from error


def _quickdraw_bitmaps(folder: Path, category: str, count: int, base_url: str) -> np.ndarray:
    """First count drawings of a category: from the data folder, else fetched and cached."""
    path = folder / f"{category}.npy"
    marker = folder / f"{category}.npy.partial.json"
    if path.exists():
        cached = _read_local_bitmaps(path, count)
        # A file we fetched partially may hold fewer drawings than now asked for.
        if len(cached) >= count or not marker.exists():
            return cached
        if json.loads(marker.read_text())["available"] <= len(cached):
            return cached
    url = quickdraw_url(base_url, category)
    bitmaps, available = _fetch_quickdraw_head(url, count, path)
    _write_npy_atomically(path, bitmaps)
    marker.write_text(json.dumps({"url": url, "available": available}))
    return bitmaps


def _load_quickdraw(
    data_dir: Path,
    categories: Sequence[str] | None,
    per_class: int | None,
    progress: ProgressCallback | None,
) -> Dataset:
    chosen = tuple(categories) if categories else QUICKDRAW_DEFAULT_CATEGORIES
    count = QUICKDRAW_DEFAULT_PER_CLASS if per_class is None else int(per_class)
    known = set(quickdraw_categories())
    unknown = [category for category in chosen if category not in known]
    if unknown:
        raise DatasetError(
            f"Unknown Quick, Draw! categories: {', '.join(map(repr, unknown))}. Pick names "
            "from the list of 345 (for example 'cat', 'house', 'The Eiffel Tower')."
        )
    if len(set(chosen)) != len(chosen):
        raise DatasetError("Each Quick, Draw! category may be chosen only once.")
    if len(chosen) < 2:
        raise DatasetError("Choose at least two Quick, Draw! categories to tell apart.")
    if count < 6:
        raise DatasetError("Take at least 6 drawings per category (5 to train, 1 to test).")
    base_url = os.environ.get(QUICKDRAW_URL_ENVIRONMENT_VARIABLE) or QUICKDRAW_DEFAULT_URL
    folder = data_dir / "quickdraw"
    train_parts, test_parts = [], []
    for index, category in enumerate(chosen):
        if progress is not None:
            progress(index / len(chosen), f"Reading {category} ({count:,} drawings)")
        bitmaps = _quickdraw_bitmaps(folder, category, count, base_url)
        if len(bitmaps) < 6:
            raise DatasetError(f"{category}.npy holds only {len(bitmaps)} drawings.")
        test_size = max(1, round(len(bitmaps) * QUICKDRAW_TEST_FRACTION))
        images = bitmaps.reshape(-1, 28, 28, 1)
        labels = np.full(len(images), index, dtype=np.int64)
        train_parts.append((images[:-test_size], labels[:-test_size]))
        test_parts.append((images[-test_size:], labels[-test_size:]))
    arrays = {
        split: (
            np.concatenate([images for images, _ in parts]),
            np.concatenate([labels for _, labels in parts]),
        )
        for split, parts in (("train", train_parts), ("test", test_parts))
    }
    return _checked_dataset("quickdraw", chosen, arrays, source=str(folder))


# --- Digits: scikit-learn's bundled 8x8 digits, upscaled ---------------------------------------


def _load_digits() -> Dataset:
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixel values run 0-16; upscale the 8x8 digit to 20x20 and centre it in 28x28 like MNIST.
    small = (digits.images * (255 / 16)).astype(np.uint8)
    images = np.zeros((len(small), 28, 28, 1), dtype=np.uint8)
    for index, digit in enumerate(small):
        resized = Image.fromarray(digit).resize((20, 20), Image.Resampling.BILINEAR)
        images[index, 4:24, 4:24, 0] = np.asarray(resized)
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=1 / 6, random_state=0, stratify=labels
    )
    arrays = {"train": (x_train, y_train), "test": (x_test, y_test)}
    return _checked_dataset("digits", MNIST_CLASS_NAMES, arrays, source="scikit-learn digits")


def is_available_locally(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    categories: Sequence[str] | None = None,
) -> bool:
    """Whether a dataset can be read without the network (its files are present).

    For Quick, Draw! the files of `categories` are checked, or the default ten's when None.
    """
    folder = resolve_data_dir(data_dir)
    if name in IDX_FILE_MD5:
        return all((folder / IDX_FOLDERS[name] / file).exists() for file in IDX_FILE_MD5[name])
    if name == "cifar10":
        return (folder / CIFAR10_FOLDER_NAME).is_dir() or (folder / CIFAR10_ARCHIVE_NAME).exists()
    if name == "quickdraw":
        return all(
            (folder / "quickdraw" / f"{category}.npy").exists()
            for category in (categories or QUICKDRAW_DEFAULT_CATEGORIES)
        )
    return name == "digits"


def missing_files_message(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """What to fetch and where to put it, for a person whose machine is offline."""
    info = DATASET_INFO[name]
    folder = resolve_data_dir(data_dir)
    return (
        f"{info.title} is not in the data folder {folder} and could not be downloaded. "
        f"Put {info.files} there (from {info.source_url}), or set CONVLAB_DATA_DIR to a folder "
        "that has them. The Digits dataset works offline."
    )


def dataset_bytes(dataset: Dataset) -> int:
    """Memory held by a dataset's arrays, in bytes."""
    return sum(
        array.nbytes for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
    )


__all__ = [
    "DATASET_INFO",
    "DATASET_NAMES",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "dataset_bytes",
    "is_available_locally",
    "load_dataset",
    "missing_files_message",
    "quickdraw_categories",
    "resolve_data_dir",
]
