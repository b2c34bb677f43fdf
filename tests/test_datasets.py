"""Tests for core.datasets: real MNIST files, synthesized CIFAR-10 and Quick, Draw! files."""

from __future__ import annotations

import gzip
import io
import pickle
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import datasets
from core.datasets import DatasetError, load_dataset

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- Real MNIST and Fashion-MNIST --------------------------------------------------------------


def test_mnist_loads_from_the_official_files(shared_datasets: Path) -> None:
    dataset = load_dataset("mnist", data_dir=shared_datasets)
    assert dataset.x_train.shape == (60_000, 28, 28, 1)
    assert dataset.x_test.shape == (10_000, 28, 28, 1)
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int64
    assert np.bincount(dataset.y_test).tolist() == MNIST_TEST_COUNTS
    assert dataset.class_names == tuple("0123456789")
    assert not dataset.x_train.flags.writeable, "shared arrays must be read-only"
    # The first test digit of MNIST is a 7.
    assert dataset.y_test[0] == 7


def test_fashion_mnist_loads_from_the_official_files(shared_datasets: Path) -> None:
    dataset = load_dataset("fashion_mnist", data_dir=shared_datasets)
    assert dataset.x_train.shape == (60_000, 28, 28, 1)
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10
    assert dataset.class_names[9] == "Ankle boot"


def test_data_folder_comes_from_the_environment(
    shared_datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(shared_datasets))
    assert datasets.resolve_data_dir() == shared_datasets
    assert load_dataset("mnist").x_test.shape[0] == 10_000
    monkeypatch.delenv("CONVLAB_DATA_DIR")
    assert datasets.resolve_data_dir() == Path.home() / ".keras" / "datasets"


def _copy_mnist(shared_datasets: Path, destination: Path) -> Path:
    folder = destination / "mnist"
    shutil.copytree(shared_datasets / "mnist", folder)
    return folder


def _forbid_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*arguments, **keywords):
        raise AssertionError("a present file must never be downloaded again")

    monkeypatch.setattr(datasets, "_download", refuse)


def test_a_present_file_with_a_wrong_checksum_is_named_not_downloaded_again(
    shared_datasets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy_mnist(shared_datasets, tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(labels.read_bytes())
    data[-1] ^= 0xFF
    labels.write_bytes(bytes(data))
    _forbid_downloads(monkeypatch)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz.*MD5"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_files_are_downloaded_from_the_next_mirror_and_checked(
    shared_datasets: Path, tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    (file_server.root / "good").mkdir()
    for path in (shared_datasets / "mnist").iterdir():
        shutil.copy(path, file_server.root / "good" / path.name)
    mirrors = (f"{file_server.url}/missing/", f"{file_server.url}/good/")
    monkeypatch.setitem(datasets.IDX_MIRRORS, "mnist", mirrors)
    progress_messages = []
    dataset = load_dataset(
        "mnist",
        data_dir=tmp_path / "data",
        progress=lambda fraction, message: progress_messages.append((fraction, message)),
    )
    assert dataset.x_test.shape == (10_000, 28, 28, 1)
    assert sorted(path.name for path in (tmp_path / "data" / "mnist").iterdir()) == sorted(
        datasets.IDX_FILE_MD5["mnist"]
    ), "only the four official files, no leftovers"
    assert any(path.startswith("/missing/") for path, _ in file_server.requests)
    assert progress_messages[-1][0] == 1.0


def test_a_download_with_the_wrong_checksum_leaves_nothing_behind(
    tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in datasets.IDX_FILE_MD5["mnist"]:
        (file_server.root / name).write_bytes(b"not the official file")
    monkeypatch.setitem(datasets.IDX_MIRRORS, "mnist", (f"{file_server.url}/",))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", data_dir=tmp_path / "data")
    leftovers = [path for path in (tmp_path / "data").rglob("*") if path.is_file()]
    assert leftovers == []


def test_an_offline_machine_gets_a_message_saying_what_to_fetch(tmp_path: Path) -> None:
    message = datasets.missing_files_message("fashion_mnist", tmp_path)
    assert str(tmp_path) in message and "train-images-idx3-ubyte.gz" in message
    assert "Digits" in message


def _idx(shape: tuple[int, ...], values: bytes | None = None) -> bytes:
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    count = int(np.prod(shape))
    return header + (values if values is not None else bytes(count))


def test_idx_reader_accepts_a_well_formed_file() -> None:
    array = datasets.parse_idx(_idx((2, 3, 4), bytes(range(24))), source="x", expected_dimensions=3)
    assert array.shape == (2, 3, 4) and array[1, 2, 3] == 23


@pytest.mark.parametrize(
    ("data", "dimensions", "message"),
    [
        (b"\x00\x00", 3, "too short"),
        (b"\x00\x00\x0d\x03" + bytes(12), 3, "unsigned bytes"),
        (_idx((4,)), 3, "1-dimensional data where 3"),
        (_idx((5, 2, 2))[:-3], 3, "truncated or corrupt"),
        (_idx((5, 2, 2)) + b"extra", 3, "truncated or corrupt"),
        (_idx((5, 2, 2))[:10], 3, "truncated inside its header"),
    ],
)
def test_idx_reader_refuses_bad_files(data: bytes, dimensions: int, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        datasets.parse_idx(data, source="file.idx", expected_dimensions=dimensions)


def test_a_file_that_is_not_gzip_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(DatasetError, match="images.gz is not a readable gzip file"):
        datasets.read_idx_gz(path, expected_dimensions=3)


def test_labels_out_of_range_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    files = {
        "train-images-idx3-ubyte.gz": _idx((3, 28, 28)),
        "train-labels-idx1-ubyte.gz": _idx((3,), bytes([1, 2, 12])),
        "t10k-images-idx3-ubyte.gz": _idx((1, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": _idx((1,), bytes([0])),
    }
    checksums = {}
    for name, raw in files.items():
        (folder / name).write_bytes(gzip.compress(raw))
        checksums[name] = datasets.file_md5(folder / name)
    monkeypatch.setitem(datasets.IDX_FILE_MD5, "mnist", checksums)
    with pytest.raises(DatasetError, match="train labels run from 1 to 12"):
        load_dataset("mnist", data_dir=tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_idx_reader_never_fails_with_anything_but_a_dataset_error(data: bytes) -> None:
    try:
        array = datasets.parse_idx(data, source="random", expected_dimensions=3)
    except DatasetError:
        return
    assert array.ndim == 3 and array.dtype == np.uint8


# --- CIFAR-10: python batches built in the published format ------------------------------------


def _cifar_batch(count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"synthetic batch",
        b"labels": [int(label) for label in rng.integers(0, 10, count)],
        b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
        b"filenames": [f"image_{index}.png".encode() for index in range(count)],
    }


def _write_cifar_folder(folder: Path, count: int = 8) -> dict[str, dict]:
    folder.mkdir(parents=True)
    batches = {f"data_batch_{index}": _cifar_batch(count, index) for index in range(1, 6)}
    batches["test_batch"] = _cifar_batch(count, 99)
    for name, batch in batches.items():
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    return batches


def test_cifar10_reads_the_extracted_python_batches(tmp_path: Path) -> None:
    batches = _write_cifar_folder(tmp_path / "cifar-10-batches-py")
    dataset = load_dataset("cifar10", data_dir=tmp_path)
    assert dataset.x_train.shape == (40, 32, 32, 3)
    assert dataset.x_test.shape == (8, 32, 32, 3)
    first = batches["data_batch_1"][b"data"][0]
    # Channel planes: red first, so pixel (0, 1) red is byte 1 and its green is byte 1025.
    assert dataset.x_train[0, 0, 1, 0] == first[1]
    assert dataset.x_train[0, 0, 1, 1] == first[1025]
    assert dataset.y_test.tolist() == batches["test_batch"][b"labels"]
    assert dataset.class_names[0] == "airplane"


def _cifar_archive(tmp_path: Path) -> Path:
    _write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive


def test_cifar10_archive_is_downloaded_checked_and_extracted(
    tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _cifar_archive(tmp_path)
    shutil.copy(archive, file_server.root / archive.name)
    monkeypatch.setattr(datasets, "CIFAR10_URL", f"{file_server.url}/{archive.name}")
    monkeypatch.setattr(datasets, "CIFAR10_MD5", datasets.file_md5(archive))
    data_dir = tmp_path / "data"
    dataset = load_dataset("cifar10", data_dir=data_dir)
    assert dataset.x_train.shape == (40, 32, 32, 3)
    assert sorted(path.name for path in data_dir.iterdir()) == [
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
    ]


def test_a_corrupt_cifar10_archive_is_refused_before_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "cifar-10-python.tar.gz").write_bytes(b"half a download")
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz is corrupt"):
        load_dataset("cifar10", data_dir=data_dir)
    assert not (data_dir / "cifar-10-batches-py").exists()


def test_a_cifar_batch_that_carries_code_is_refused_and_never_runs(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_folder(folder)
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    with open(folder / "data_batch_3", "wb") as handle:
        pickle.dump({b"data": Payload(), b"labels": []}, handle, protocol=2)
    with pytest.raises(DatasetError, match="data_batch_3 is not a CIFAR-10 python batch"):
        load_dataset("cifar10", data_dir=tmp_path)
    assert not marker.exists()


def test_a_cifar_batch_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_folder(folder)
    batch = _cifar_batch(4, 0)
    batch[b"data"] = batch[b"data"][:, :1000]
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump(batch, handle, protocol=2)
    with pytest.raises(DatasetError, match=r"test_batch holds data of shape \(4, 1000\)"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_a_missing_cifar_batch_is_named(tmp_path: Path) -> None:
    _write_cifar_folder(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").unlink()
    with pytest.raises(DatasetError, match="data_batch_2 is missing"):
        load_dataset("cifar10", data_dir=tmp_path)


# --- Quick, Draw!: numpy_bitmap files served with HTTP ranges ----------------------------------


def _bitmaps(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 784), dtype=np.uint8)


def _serve_categories(file_server, categories: dict[str, int]) -> dict[str, np.ndarray]:
    arrays = {}
    for index, (category, count) in enumerate(categories.items()):
        arrays[category] = _bitmaps(count, index)
        np.save(file_server.root / f"{category}.npy", arrays[category])
    return arrays


def test_quickdraw_is_available_locally_when_the_categories_asked_for_are(tmp_path: Path) -> None:
    from core.datasets import is_available_locally

    (tmp_path / "quickdraw").mkdir()
    for category in ("cat", "house"):
        np.save(tmp_path / "quickdraw" / f"{category}.npy", _bitmaps(6, 0))
    assert is_available_locally("quickdraw", tmp_path, categories=["cat", "house"])
    assert not is_available_locally("quickdraw", tmp_path, categories=["cat", "apple"])
    assert not is_available_locally("quickdraw", tmp_path), "the default ten are not all here"


def test_quickdraw_fetches_only_the_drawings_asked_for(
    tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _serve_categories(file_server, {"cat": 500, "The Eiffel Tower": 500})
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", file_server.url)
    dataset = load_dataset(
        "quickdraw", data_dir=tmp_path, categories=["cat", "The Eiffel Tower"], per_class=12
    )
    assert dataset.class_names == ("cat", "The Eiffel Tower")
    assert dataset.x_train.shape == (20, 28, 28, 1) and dataset.x_test.shape == (4, 28, 28, 1)
    assert np.array_equal(dataset.x_train[:10].reshape(10, 784), arrays["cat"][:10])
    assert np.array_equal(dataset.x_test[2:].reshape(2, 784), arrays["The Eiffel Tower"][10:12])
    assert dataset.y_train.tolist() == [0] * 10 + [1] * 10
    assert ("/The Eiffel Tower.npy", "bytes=0-1023") in file_server.requests
    # Two header reads of 1 KiB and two bodies of 12 drawings: a tiny part of the files.
    assert file_server.bytes_sent <= 2 * 1024 + 2 * 12 * 784
    assert all(range_header for _, range_header in file_server.requests)

    requests_before = len(file_server.requests)
    again = load_dataset(
        "quickdraw", data_dir=tmp_path, categories=["cat", "The Eiffel Tower"], per_class=12
    )
    assert len(file_server.requests) == requests_before, "the second load reads the cache"
    assert np.array_equal(again.x_train, dataset.x_train)

    more = load_dataset(
        "quickdraw", data_dir=tmp_path, categories=["cat", "The Eiffel Tower"], per_class=60
    )
    assert more.x_train.shape == (100, 28, 28, 1)
    assert len(file_server.requests) > requests_before, "a bigger request fetches more"


def test_quickdraw_reads_a_full_local_file_without_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "quickdraw"
    folder.mkdir()
    for index, category in enumerate(["apple", "star"]):
        np.save(folder / f"{category}.npy", _bitmaps(30, index))
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", "http://127.0.0.1:9/unreachable")
    dataset = load_dataset(
        "quickdraw", data_dir=tmp_path, categories=["apple", "star"], per_class=30
    )
    assert dataset.x_train.shape == (50, 28, 28, 1) and dataset.x_test.shape == (10, 28, 28, 1)


def test_quickdraw_unknown_category_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="Unknown Quick, Draw! categories: 'unicorn'"):
        load_dataset("quickdraw", data_dir=tmp_path, categories=["cat", "unicorn"], per_class=10)


def test_quickdraw_download_that_stops_halfway_leaves_no_file(
    tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_categories(file_server, {"cat": 100, "dog": 100})
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", file_server.url)
    file_server.truncate_to = 500
    with pytest.raises(DatasetError, match="cat.npy"):
        load_dataset("quickdraw", data_dir=tmp_path, categories=["cat", "dog"], per_class=20)
    assert not list((tmp_path / "quickdraw").rglob("*"))


def test_quickdraw_server_without_range_support_is_a_clear_error(
    tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_categories(file_server, {"cat": 10, "dog": 10})
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", file_server.url)
    file_server.honour_range = False
    with pytest.raises(DatasetError, match="ignored the byte range request"):
        load_dataset("quickdraw", data_dir=tmp_path, categories=["cat", "dog"], per_class=10)


def test_quickdraw_file_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "quickdraw"
    folder.mkdir()
    np.save(folder / "cat.npy", np.zeros((10, 28, 28), dtype=np.uint8))
    np.save(folder / "dog.npy", _bitmaps(10, 0))
    with pytest.raises(DatasetError, match=r"cat.npy holds uint8 data of shape \(10, 28, 28\)"):
        load_dataset("quickdraw", data_dir=tmp_path, categories=["cat", "dog"], per_class=10)


def test_quickdraw_truncated_local_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "quickdraw"
    folder.mkdir()
    buffer = io.BytesIO()
    np.save(buffer, _bitmaps(10, 0))
    (folder / "cat.npy").write_bytes(buffer.getvalue()[:-100])
    np.save(folder / "dog.npy", _bitmaps(10, 1))
    with pytest.raises(DatasetError, match="cat.npy is truncated"):
        load_dataset("quickdraw", data_dir=tmp_path, categories=["cat", "dog"], per_class=10)


def test_quickdraw_category_names_are_url_encoded() -> None:
    assert datasets.quickdraw_url("https://host/base/", "The Eiffel Tower") == (
        "https://host/base/The%20Eiffel%20Tower.npy"
    )
    categories = datasets.quickdraw_categories()
    assert len(categories) == 345 and "The Eiffel Tower" in categories
    assert set(datasets.QUICKDRAW_DEFAULT_CATEGORIES) <= set(categories)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_npy_header_reader_never_fails_with_anything_but_a_dataset_error(data: bytes) -> None:
    try:
        datasets.parse_npy_header(data, source="random")
    except DatasetError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 300), st.sampled_from(["<u1", "<f4", "<i8"]))
def test_npy_header_reader_agrees_with_numpy(count: int, dtype: str) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((count, 784), dtype=dtype))
    shape, parsed_dtype, offset = datasets.parse_npy_header(buffer.getvalue()[:1024], source="x")
    assert shape == (count, 784) and parsed_dtype == np.dtype(dtype)
    assert len(buffer.getvalue()) == offset + count * 784 * np.dtype(dtype).itemsize


# --- Digits and names --------------------------------------------------------------------------


def test_digits_work_offline_as_28x28_images() -> None:
    dataset = load_dataset("digits")
    assert dataset.x_train.shape[1:] == (28, 28, 1)
    assert len(dataset.x_train) + len(dataset.x_test) == 1797
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.max() == 255
    # Centred like MNIST: a 4-pixel empty border.
    assert dataset.x_train[:, :4].max() == 0 and dataset.x_train[:, 24:].max() == 0
    assert sorted(set(dataset.y_test.tolist())) == list(range(10))


def test_unknown_dataset_is_refused() -> None:
    with pytest.raises(DatasetError, match="Unknown dataset 'imagenet'"):
        load_dataset("imagenet")


def test_cifar_batches_of_unequal_sizes_are_all_kept(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_folder(folder, count=3)
    bigger = _cifar_batch(7, 42)
    with open(folder / "data_batch_5", "wb") as handle:
        pickle.dump(bigger, handle, protocol=2)
    dataset = load_dataset("cifar10", data_dir=tmp_path)
    assert dataset.x_train.shape == (4 * 3 + 7, 32, 32, 3)
    assert dataset.y_train[-7:].tolist() == bigger[b"labels"]


# --- Offline: what a failed download says ------------------------------------------------------


def _assert_plain(message: str) -> None:
    """No Python exception text: what a student reads is a reason and what to do."""
    for technical in ("Errno", "urlopen", "<", "Exception", "URL fetch failure", "--"):
        assert technical not in message, f"{technical!r} in {message!r}"


def test_an_offline_quickdraw_download_says_what_to_do_in_plain_words(tmp_path: Path) -> None:
    # The autouse fixture points every download at a closed local port, as offline.
    with pytest.raises(DatasetError) as caught:
        load_dataset("quickdraw", data_dir=tmp_path, categories=["cat", "dog"], per_class=10)
    message = str(caught.value)
    first_sentence = message.split(". ")[0]
    assert first_sentence == (
        "Could not download cat.npy of Quick, Draw!: the server could not be reached; this "
        "machine may be offline"
    )
    assert str(tmp_path / "quickdraw" / "cat.npy") in message
    assert "connect this machine to the internet" in message
    _assert_plain(message)


def test_an_offline_mnist_download_says_what_to_do_in_plain_words(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as caught:
        load_dataset("mnist", data_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith(
        "Could not download train-images-idx3-ubyte.gz: the server could not be reached; "
        "this machine may be offline. Put train-images-idx3-ubyte.gz in the data folder as "
        f"{tmp_path / 'mnist' / 'train-images-idx3-ubyte.gz'}"
    )
    assert "connect this machine to the internet" in message
    _assert_plain(message)


def test_a_missing_file_on_the_server_is_named_plainly(
    tmp_path: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(datasets.IDX_MIRRORS, "mnist", (f"{file_server.url}/none/",))
    with pytest.raises(DatasetError) as caught:
        load_dataset("mnist", data_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith(
        "Could not download train-images-idx3-ubyte.gz: the server does not have it."
    )
    _assert_plain(message)


def test_download_reasons_are_read_through_the_wrapping_exceptions() -> None:
    import urllib.error

    def wrapped(cause: BaseException) -> Exception:
        try:
            try:
                raise cause
            except urllib.error.URLError as error:  # As keras.utils.get_file wraps it.
                raise Exception(f"URL fetch failure on http://x: None -- {error.reason}")  # noqa: B904
        except Exception as outer:
            return outer

    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    assert "could not be reached" in datasets.plain_download_reason(wrapped(refused))
    timed_out = urllib.error.URLError(TimeoutError("timed out"))
    assert datasets.plain_download_reason(wrapped(timed_out)) == (
        "the server did not answer in time"
    )
    checksum = ValueError("Incomplete or corrupted file detected. The md5 file hash does not")
    assert "checksum" in datasets.plain_download_reason(checksum)
