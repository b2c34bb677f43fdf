"""A user's own images: a .zip of one folder per class, read safely into a Dataset."""

from __future__ import annotations

import io
import posixpath
import stat
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.datasets import Dataset, DatasetError

CUSTOM_DATASET_NAME = "custom"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Folders that archivers add and that hold no images of the user's.
IGNORED_PREFIXES = ("__MACOSX/",)
# Why a file was skipped, for the import report; files outside class folders are told apart.
OUTSIDE_CLASS_FOLDER = "it is not inside a class folder"
NOT_AN_IMAGE_NAME = "it is not a .png, .jpg or .jpeg file"
# A collection made on the Teach page: how many classes, and how long a class name may be.
MIN_CLASSES = 2
MAX_CLASSES = 10
MAX_CLASS_NAME_LENGTH = 40
# Characters that Windows, macOS or a zip tool would refuse or misread in a folder name.
FOLDER_NAME_FORBIDDEN = '<>:"/\\|?*'


@dataclass(frozen=True)
class ImageFolderOptions:
    """How to read a .zip of class folders, and the limits that keep a bad archive harmless."""

    image_size: int = 28
    channels: int = 1
    test_fraction: float = 0.2
    seed: int = 0
    max_files: int = 20_000
    max_archive_bytes: int = 200_000_000
    max_uncompressed_bytes: int = 1_000_000_000
    max_image_pixels: int = 25_000_000
    min_images_per_class: int = 2

    def __post_init__(self) -> None:
        if not 8 <= self.image_size <= 128:
            raise ValueError("Choose an image size between 8 and 128 pixels.")
        if self.channels not in (1, 3):
            raise ValueError("Choose 1 channel (grayscale) or 3 (colour).")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError("Keep between 5% and 50% of the images for the test set.")


@dataclass(frozen=True)
class ImportReport:
    """What was read, and each skipped file with the reason."""

    images_per_class: dict[str, int]
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _class_and_file(name: str) -> tuple[str, str] | None:
    """Split 'class/file.png' or 'top/class/file.png'; None for anything else."""
    parts = name.split("/")
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 3:
        return parts[1], parts[2]
    return None


def _is_unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if name.startswith("/") or "\\" in name or ":" in name.split("/")[0]:
        return "an absolute path"
    if ".." in name.split("/") or posixpath.normpath(name).startswith(".."):
        return "a path that climbs out of the archive ('..')"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return None


def decode_image(data: bytes, options: ImageFolderOptions) -> np.ndarray:
    """Decode one image to uint8 (size, size, channels); raises ValueError with the reason."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            # The header gives the size before any pixel is decoded: refuse huge images here.
            width, height = image.size
            if width * height > options.max_image_pixels:
                raise ValueError(
                    f"it is {width}x{height} pixels, over the limit of {options.max_image_pixels:,}"
                )
            if image.format not in ("PNG", "JPEG"):
                raise ValueError(f"it is a {image.format} image, not PNG or JPEG")
            image = ImageOps.exif_transpose(image)
            mode = "L" if options.channels == 1 else "RGB"
            if image.mode in ("RGBA", "LA", "P"):
                # Transparent pixels become white, as they look in an image viewer.
                background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, image.convert("RGBA"))
            image = image.convert(mode)
            fitted = ImageOps.fit(
                image, (options.image_size, options.image_size), Image.Resampling.LANCZOS
            )
            pixels = np.asarray(fitted, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"it is not a readable image ({error.__class__.__name__})") from error
    return pixels.reshape(options.image_size, options.image_size, options.channels)


def load_image_zip(
    archive: bytes, options: ImageFolderOptions = ImageFolderOptions()
) -> tuple[Dataset, ImportReport]:
    """Read a .zip holding one folder per class of PNG/JPEG images into a Dataset."""
    images_by_class, skipped = _read_class_folders(archive, options)
    return _split_classes(images_by_class, skipped, options)


def _read_class_folders(
    archive: bytes, options: ImageFolderOptions
) -> tuple[dict[str, list[np.ndarray]], list[tuple[str, str]]]:
    """Each class folder's images in file-name order, and the skipped files with the reason."""
    if len(archive) > options.max_archive_bytes:
        raise DatasetError(
            f"The archive is {len(archive) / 1e6:,.0f} MB; the limit is "
            f"{options.max_archive_bytes / 1e6:,.0f} MB. Use fewer or smaller images."
        )
    try:
        bundle = zipfile.ZipFile(io.BytesIO(archive))
    except zipfile.BadZipFile as error:
        raise DatasetError("The upload is not a readable .zip archive.") from error
    with bundle:
        entries = [info for info in bundle.infolist() if not info.is_dir()]
        if len(entries) > options.max_files:
            raise DatasetError(
                f"The archive holds {len(entries):,} files; the limit is {options.max_files:,}."
            )
        for info in entries:
            reason = _is_unsafe(info)
            if reason:
                raise DatasetError(f"The archive was refused: {info.filename!r} is {reason}.")
        total = sum(info.file_size for info in entries)
        if total > options.max_uncompressed_bytes:
            raise DatasetError(
                f"The archive unpacks to {total / 1e6:,.0f} MB; the limit is "
                f"{options.max_uncompressed_bytes / 1e6:,.0f} MB."
            )
        images_by_class: dict[str, list[np.ndarray]] = {}
        skipped: list[tuple[str, str]] = []
        for info in sorted(entries, key=lambda entry: entry.filename):
            name = info.filename
            if name.startswith(IGNORED_PREFIXES) or posixpath.basename(name).startswith("."):
                continue
            location = _class_and_file(name)
            if location is None:
                skipped.append((name, OUTSIDE_CLASS_FOLDER))
                continue
            class_name, file_name = location
            if not file_name.lower().endswith(IMAGE_SUFFIXES):
                skipped.append((name, NOT_AN_IMAGE_NAME))
                continue
            try:
                pixels = decode_image(bundle.read(info), options)
            except (ValueError, zipfile.BadZipFile, RuntimeError) as error:
                skipped.append((name, str(error)))
                continue
            images_by_class.setdefault(class_name, []).append(pixels)
    return images_by_class, skipped


def _because(names: Sequence[str], why: str) -> str:
    """'because they are <why> (a.txt, b.csv, c.gif, …)', naming at most three of the files."""
    shown = ", ".join(posixpath.basename(name) for name in names[:3])
    more = ", …" if len(names) > 3 else ""
    return f"because {'they are' if len(names) != 1 else 'it is'} {why} ({shown}{more})"


def no_images_message(skipped: Sequence[tuple[str, str]]) -> str:
    """Why an upload gave no image at all, counting the skipped files by what was wrong."""
    advice = (
        "Put PNG or JPEG images in one folder per class (for example cats/ and dogs/), zip "
        "the folders and upload the .zip again."
    )
    if not skipped:
        return f"The .zip holds no files at all. {advice}"
    outside = [name for name, reason in skipped if reason == OUTSIDE_CLASS_FOLDER]
    not_images = [name for name, reason in skipped if reason != OUTSIDE_CLASS_FOLDER]
    files = f"{len(skipped):,} file{'s were' if len(skipped) != 1 else ' was'} skipped"
    if not outside:
        reasons = _because(not_images, "not PNG or JPEG images")
        return f"The .zip holds no images: {files} {reasons}. {advice}"
    if not not_images:
        reasons = _because(outside, "not inside a class folder")
    else:
        reasons = (
            f"{len(not_images):,} {_because(not_images, 'not PNG or JPEG images')} and "
            f"{len(outside):,} {_because(outside, 'not inside a class folder')}"
        )
        files += ","
    return f"The .zip holds no images in class folders: {files} {reasons}. {advice}"


def _split_classes(
    images_by_class: dict[str, list[np.ndarray]],
    skipped: Sequence[tuple[str, str]],
    options: ImageFolderOptions,
) -> tuple[Dataset, ImportReport]:
    if not images_by_class:
        raise DatasetError(no_images_message(skipped))
    small = [name for name, images in images_by_class.items() if len(images) < 2]
    if small:
        raise DatasetError(
            f"The folders {', '.join(map(repr, small))} hold fewer than 2 readable images; "
            "each class needs at least one to train on and one to test."
        )
    if len(images_by_class) < 2:
        found = ", ".join(map(repr, images_by_class)) or "none"
        raise DatasetError(
            f"A classifier needs at least two classes: one folder per class. Found: {found}."
        )
    class_names = tuple(sorted(images_by_class))
    rng = np.random.default_rng(options.seed)
    splits: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "test": ([], [])}
    for label, class_name in enumerate(class_names):
        images = images_by_class[class_name]
        order = rng.permutation(len(images))
        test_count = max(1, round(len(images) * options.test_fraction))
        for position, index in enumerate(order):
            split = "test" if position < test_count else "train"
            splits[split][0].append(images[index])
            splits[split][1].append(label)
    arrays = [
        (np.stack(images), np.asarray(labels, dtype=np.int64))
        for images, labels in (splits["train"], splits["test"])
    ]
    (x_train, y_train), (x_test, y_test) = arrays
    for array in (x_train, y_train, x_test, y_test):
        array.flags.writeable = False
    dataset = Dataset(CUSTOM_DATASET_NAME, class_names, x_train, y_train, x_test, y_test)
    counts = {name: len(images_by_class[name]) for name in class_names}
    return dataset, ImportReport(images_per_class=counts, skipped=tuple(skipped))


# --- A collection made on the Teach page -------------------------------------------------


def check_class_names(names: Sequence[str]) -> tuple[str, ...]:
    """The names with spaces tidied; raises ValueError unless 2 to 10 distinct folder names."""
    tidy = tuple(" ".join(unicodedata.normalize("NFC", str(name)).split()) for name in names)
    if any(not name for name in tidy):
        raise ValueError("A class name cannot be empty: give every class a name.")
    if not MIN_CLASSES <= len(tidy) <= MAX_CLASSES:
        raise ValueError(
            f"Name between {MIN_CLASSES} and {MAX_CLASSES} classes, separated by commas; "
            f"there {'is' if len(tidy) == 1 else 'are'} {len(tidy)}."
        )
    for name in tidy:
        if len(name) > MAX_CLASS_NAME_LENGTH:
            raise ValueError(
                f"The class name {name!r} has {len(name)} characters; keep it to "
                f"{MAX_CLASS_NAME_LENGTH}."
            )
        refused = sorted(
            {
                character
                for character in name
                if character in FOLDER_NAME_FORBIDDEN or unicodedata.category(character)[0] == "C"
            }
        )
        if refused:
            shown = " ".join(repr(character) for character in refused)
            raise ValueError(
                f"The class name {name!r} cannot be a folder name in the .zip: remove {shown}."
            )
        if name.startswith(".") or name.startswith(IGNORED_PREFIXES[0].rstrip("/")):
            raise ValueError(
                f"The class name {name!r} would be a hidden or ignored folder in the .zip: "
                "start it with a letter or a digit."
            )
    # Windows and macOS folders ignore case: 'Cat' and 'cat' would unpack into one folder.
    seen: dict[str, str] = {}
    for name in tidy:
        if name.casefold() in seen:
            raise ValueError(
                f"The classes {seen[name.casefold()]!r} and {name!r} have the same name: give "
                "each class its own."
            )
        seen[name.casefold()] = name
    return tidy


def class_names_from_text(text: str) -> tuple[str, ...]:
    """Class names typed as 'cat, dog, sun' (commas or new lines); raises ValueError."""
    pieces = text.replace("\n", ",").split(",")
    # An empty piece is a comma typed ahead of the next name, not an unnamed class.
    return check_class_names([piece for piece in pieces if piece.strip()])


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise ValueError(
            f"An image must be uint8 (height, width, 1 or 3 channels); got shape {pixels.shape}."
        )
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def collection_zip(images_by_class: Mapping[str, Sequence[np.ndarray]]) -> bytes:
    """A .zip of one folder of PNG files per class, as load_image_zip and the Datasets page read.

    Files are numbered from 0001 within their folder, so they read back in the order drawn.
    """
    check_class_names(list(images_by_class))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for class_name, images in images_by_class.items():
            for number, image in enumerate(images, start=1):
                archive.writestr(f"{class_name}/{number:04d}.png", _png_bytes(image))
    return buffer.getvalue()


def read_collection_zip(
    archive: bytes, options: ImageFolderOptions
) -> tuple[dict[str, list[np.ndarray]], ImportReport]:
    """A collection's images by class, in the order drawn, from a .zip of class folders.

    Raises DatasetError for an archive that cannot be read and ValueError for class folders
    that cannot be a collection (fewer than 2 or more than 10, odd names).
    """
    images_by_class, skipped = _read_class_folders(archive, options)
    if not images_by_class:
        raise DatasetError(no_images_message(skipped))
    if not MIN_CLASSES <= len(images_by_class) <= MAX_CLASSES:
        raise ValueError(
            f"A collection has {MIN_CLASSES} to {MAX_CLASSES} class folders with images; this "
            f".zip has {len(images_by_class)} ({', '.join(sorted(images_by_class))})."
        )
    check_class_names(list(images_by_class))
    counts = {name: len(images) for name, images in images_by_class.items()}
    return images_by_class, ImportReport(images_per_class=counts, skipped=tuple(skipped))


def collection_dataset(
    images_by_class: Mapping[str, Sequence[np.ndarray]], options: ImageFolderOptions
) -> Dataset:
    """The collection split into training and test images, as an uploaded .zip would be."""
    check_class_names(list(images_by_class))
    dataset, _ = _split_classes(
        {name: list(images) for name, images in images_by_class.items()}, (), options
    )
    return dataset
