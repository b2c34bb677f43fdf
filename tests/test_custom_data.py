"""Tests for core.custom_data: a user's .zip of class folders, and every way it can be bad."""

from __future__ import annotations

import io
import stat
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.custom_data import ImageFolderOptions, load_image_zip
from core.datasets import DatasetError


def image_bytes(size=(40, 30), colour=(200, 10, 10), image_format="PNG", mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=image_format)
    return buffer.getvalue()


def make_zip(files: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def two_classes(count: int = 5, top: str = "") -> dict[str, bytes]:
    files = {}
    for index in range(count):
        files[f"{top}cats/cat{index}.png"] = image_bytes(colour=(250, 250, 250))
        files[f"{top}dogs/dog{index}.jpg"] = image_bytes(colour=(5, 5, 5), image_format="JPEG")
    return files


def test_class_folders_become_a_dataset_with_a_held_out_test_set() -> None:
    dataset, report = load_image_zip(make_zip(two_classes(5)))
    assert dataset.class_names == ("cats", "dogs")
    assert dataset.x_train.shape == (8, 28, 28, 1) and dataset.x_test.shape == (2, 28, 28, 1)
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int64
    assert sorted(dataset.y_test.tolist()) == [0, 1]
    cats = dataset.x_train[dataset.y_train == 0]
    assert cats.min() >= 240, "a white image stays white"
    assert report.images_per_class == {"cats": 5, "dogs": 5} and report.skipped == ()


def test_a_wrapping_top_folder_and_colour_size_options_are_honoured() -> None:
    options = ImageFolderOptions(image_size=32, channels=3)
    dataset, _ = load_image_zip(make_zip(two_classes(4, top="pets/")), options)
    assert dataset.class_names == ("cats", "dogs")
    assert dataset.x_train.shape[1:] == (32, 32, 3)


def test_files_that_are_not_images_are_skipped_and_listed() -> None:
    files = two_classes(3)
    files["cats/notes.txt"] = b"hello"
    files["cats/broken.png"] = b"\x89PNG not really"
    files["loose.png"] = image_bytes()
    files["__MACOSX/cats/._cat0.png"] = b"resource fork"
    files["cats/anim.png.gif"] = image_bytes(image_format="GIF", mode="P", colour=1)
    dataset, report = load_image_zip(make_zip(files))
    reasons = dict(report.skipped)
    assert "not a .png" in reasons["cats/notes.txt"]
    assert "not a readable image" in reasons["cats/broken.png"]
    assert "not inside a class folder" in reasons["loose.png"]
    assert "not a .png" in reasons["cats/anim.png.gif"]
    assert "__MACOSX/cats/._cat0.png" not in reasons
    assert len(dataset.x_train) + len(dataset.x_test) == 6


def test_a_huge_image_is_refused_before_its_pixels_are_decoded() -> None:
    files = two_classes(3)
    files["cats/huge.png"] = image_bytes(size=(6000, 6000), colour=(0, 0, 0))
    _, report = load_image_zip(make_zip(files), ImageFolderOptions(max_image_pixels=1_000_000))
    assert "6000x6000 pixels, over the limit" in dict(report.skipped)["cats/huge.png"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("../evil/x.png", "climbs out"), ("/etc/cats/x.png", "absolute path")],
)
def test_path_tricks_refuse_the_whole_archive(name: str, reason: str) -> None:
    files = two_classes(3)
    files[name] = image_bytes()
    with pytest.raises(DatasetError, match=reason):
        load_image_zip(make_zip(files))


def test_a_symbolic_link_refuses_the_whole_archive() -> None:
    with pytest.raises(DatasetError, match="symbolic link"):
        load_image_zip(make_zip(two_classes(3), symlinks=("cats/link.png",)))


def test_too_many_files_are_refused() -> None:
    with pytest.raises(DatasetError, match="holds 10 files; the limit is 9"):
        load_image_zip(make_zip(two_classes(5)), ImageFolderOptions(max_files=9))


def test_a_single_class_is_refused_with_the_reason() -> None:
    files = {f"cats/cat{index}.png": image_bytes() for index in range(4)}
    with pytest.raises(DatasetError, match="at least two classes.*'cats'"):
        load_image_zip(make_zip(files))


def test_a_class_with_one_image_is_refused_with_the_reason() -> None:
    files = two_classes(3)
    files["birds/bird.png"] = image_bytes()
    with pytest.raises(DatasetError, match="'birds' hold fewer than 2"):
        load_image_zip(make_zip(files))


def test_impossible_options_are_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="between 8 and 128"):
        ImageFolderOptions(image_size=1000)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_a_dataset_error_never_a_crash(data: bytes) -> None:
    with pytest.raises(DatasetError):
        load_image_zip(data)


def test_an_archive_without_images_counts_the_files_it_skipped() -> None:
    files = {f"notes/note{index}.txt": b"not a picture" for index in range(12)}
    with pytest.raises(DatasetError) as caught:
        load_image_zip(make_zip(files))
    message = str(caught.value)
    assert message.startswith(
        "The .zip holds no images: 12 files were skipped because they are not PNG or JPEG "
        "images (note0.txt, note1.txt, note10.txt, …)."
    )
    assert "one folder per class" in message


def test_an_archive_of_loose_images_says_they_need_class_folders() -> None:
    files = {"cat.png": image_bytes(), "dog.png": image_bytes(), "readme.md": b"hi"}
    with pytest.raises(DatasetError) as caught:
        load_image_zip(make_zip(files))
    assert str(caught.value).startswith(
        "The .zip holds no images in class folders: 3 files were skipped because they are "
        "not inside a class folder (cat.png, dog.png, readme.md)."
    )


# --- A collection made on the Teach page -------------------------------------------------


def drawings(count: int, seed: int, shape=(28, 28, 1)) -> list[np.ndarray]:
    return list(np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8))


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)], ids=["drawings", "photos"])
def test_a_collection_zip_reads_back_to_the_same_pixels_in_the_order_drawn(shape) -> None:
    from core.custom_data import collection_zip, read_collection_zip

    # 12 examples: file 10 must come after file 9, not after file 1.
    made = {"sun": drawings(12, 1, shape), "cat": drawings(3, 2, shape)}
    archive = collection_zip(made)
    options = ImageFolderOptions(image_size=shape[0], channels=shape[-1])
    read, report = read_collection_zip(archive, options)
    assert report.images_per_class == {"cat": 3, "sun": 12} and report.skipped == ()
    for name, images in made.items():
        assert len(read[name]) == len(images)
        for original, again in zip(images, read[name], strict=True):
            np.testing.assert_array_equal(original, again)
    # The Datasets page reads the same archive: every pixel arrives, split into train and test.
    dataset, _ = load_image_zip(archive, options)
    assert dataset.class_names == ("cat", "sun")
    assert len(dataset.x_train) + len(dataset.x_test) == 15
    everything = np.concatenate([dataset.x_train, dataset.x_test])
    assert sorted(image.tobytes() for image in everything) == sorted(
        image.tobytes() for images in made.values() for image in images
    )


def test_class_names_are_tidied_and_bad_lists_say_why() -> None:
    from core.custom_data import check_class_names, class_names_from_text

    assert class_names_from_text(" cat,  big   dog ,\nsun, ") == ("cat", "big dog", "sun")
    assert check_class_names(["chat", "chien"]) == ("chat", "chien")
    refusals = {
        "cat": "between 2 and 10 classes",
        ", ".join(f"class {number}" for number in range(11)): "between 2 and 10 classes",
        "cat, dog, Cat": "'cat' and 'Cat' have the same name",
        "cat, dog/wolf": "cannot be a folder name",
        "cat, a:b": "cannot be a folder name",
        "cat, .hidden": "hidden or ignored folder",
        "cat, " + "x" * 41: "keep it to 40",
    }
    for text, reason in refusals.items():
        with pytest.raises(ValueError, match=reason):
            class_names_from_text(text)
    with pytest.raises(ValueError, match="cannot be empty"):
        check_class_names(["cat", "  "])


def test_collection_dataset_puts_every_class_in_train_and_test() -> None:
    from core.custom_data import collection_dataset

    made = {"sun": drawings(5, 1), "cat": drawings(5, 2), "dog": drawings(20, 3)}
    dataset = collection_dataset(made, ImageFolderOptions())
    assert dataset.name == "custom" and dataset.class_names == ("cat", "dog", "sun")
    assert set(dataset.y_train.tolist()) == set(dataset.y_test.tolist()) == {0, 1, 2}
    assert np.bincount(dataset.y_test).tolist() == [1, 4, 1]
    assert np.bincount(dataset.y_train).tolist() == [4, 16, 4]
    with pytest.raises(ValueError, match="between 2 and 10"):
        collection_dataset({"sun": drawings(5, 1)}, ImageFolderOptions())


def test_a_zip_that_cannot_be_a_collection_says_why() -> None:
    from core.custom_data import read_collection_zip

    eleven = make_zip({f"class{number}/a.png": image_bytes() for number in range(11)})
    with pytest.raises(ValueError, match="2 to 10 class folders with images; this .zip has 11"):
        read_collection_zip(eleven, ImageFolderOptions())
    with pytest.raises(DatasetError, match="holds no images"):
        read_collection_zip(make_zip({"notes.txt": b"hello"}), ImageFolderOptions())
