"""AppTests: every page renders without an exception and shows what a user would check."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from tests_support import canvas_state, drawn_one, open_page, upload_shapes

from core import datasets, session_keys


def metric_values(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_home_page_explains_each_page() -> None:
    app = open_page("pages/home.py")
    assert app.title[0].value == "Convlab"
    text = " ".join(block.value for block in app.markdown)
    assert "Browse MNIST digits" in text and "average image" in text
    assert [link.proto.page for link in app.get("page_link")] == [
        "datasets",
        "train",
        "evaluate",
        "inside",
        "draw",
        "play",
        "teach",
    ]
    sidebar_text = " ".join(caption.value for caption in app.sidebar.caption)
    assert "Compute device" in sidebar_text


def test_datasets_page_shows_the_offline_digits_by_default_choice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("digits").run()
    assert not app.exception and not app.error
    metrics = metric_values(app)
    assert metrics["Image size"] == "28 x 28" and metrics["Classes"] == "10"
    assert metrics["Training images"] == "1,497" and metrics["Test images"] == "300"
    assert len(app.get("plotly_chart")) == 4, "samples, balance, means and pixels"


def test_datasets_page_reads_real_mnist_and_reshuffles(
    monkeypatch: pytest.MonkeyPatch, shared_datasets: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(shared_datasets))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("fashion_mnist").run()
    assert not app.exception
    assert metric_values(app)["Training images"] == "60,000"
    assert "Zalando Research" in app.caption[0].value
    app.button(key="datasets_reshuffle").click().run()
    assert app.session_state[session_keys.GALLERY_SEED] == 1


def test_a_corrupt_file_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, shared_datasets: Path, tmp_path: Path
) -> None:
    shutil.copytree(shared_datasets / "mnist", tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"junk"))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("mnist").run()
    assert not app.exception
    assert "t10k-images-idx3-ubyte.gz is corrupt" in app.error[0].value
    assert "The Digits dataset works offline" in app.info[0].value
    app.button[0].click().run()
    assert app.selectbox(key="datasets_name").value == "digits"
    assert metric_values(app)["Test images"] == "300"


def test_missing_files_that_cannot_be_downloaded_say_what_to_fetch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_server
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setitem(datasets.IDX_MIRRORS, "fashion_mnist", (f"{file_server.url}/none/",))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("fashion_mnist").run()
    assert not app.exception
    assert "Could not download train-images-idx3-ubyte.gz" in app.error[0].value
    assert "fashion-mnist/ with the four IDX files" in app.info[0].value


def test_quickdraw_categories_are_fetched_from_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_server
) -> None:
    for index, category in enumerate(datasets.QUICKDRAW_DEFAULT_CATEGORIES):
        drawings = np.random.default_rng(index).integers(0, 256, (60, 784), dtype=np.uint8)
        np.save(file_server.root / f"{category}.npy", drawings)
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", file_server.url)
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("quickdraw").run()
    assert not app.exception and not app.error
    assert metric_values(app)["Classes"] == "10"
    assert metric_values(app)["Training images"] == "500"
    app.multiselect(key="datasets_categories").set_value(["cat"]).run()
    assert "at least two categories" in app.warning[0].value


def test_an_uploaded_zip_of_class_folders_becomes_a_gallery(tmp_path: Path) -> None:
    from tests_support import class_folder_zip

    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("custom").run()
    assert not app.exception
    archive = class_folder_zip({"circles": 4, "squares": 4}, extra={"readme.txt": b"hi"})
    app.file_uploader(key="datasets_custom_upload").upload("shapes.zip", archive).run()
    assert not app.exception and not app.error
    metrics = metric_values(app)
    assert metrics["Classes"] == "2" and metrics["Test images"] == "2"
    assert "1 files were skipped" in app.expander[0].label
    assert len(app.get("plotly_chart")) == 4


def test_an_uploaded_archive_with_one_class_is_refused_with_the_reason() -> None:
    from tests_support import class_folder_zip

    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("custom").run()
    app.file_uploader(key="datasets_custom_upload").upload(
        "one.zip", class_folder_zip({"circles": 3})
    ).run()
    assert not app.exception
    assert "at least two classes" in app.error[0].value


def open_train_page_on_digits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user: str | None = "Ana"
) -> AppTest:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page("pages/train.py", user=user)
    app.selectbox(key="train_name").set_value("digits").run()
    assert not app.exception
    return app


def test_train_page_shows_the_layers_and_parameters_before_training(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = open_train_page_on_digits(monkeypatch, tmp_path)
    assert not app.error
    layers = app.dataframe[0].value
    assert list(layers.columns) == ["layer", "type", "output shape", "parameters"]
    assert "conv1" in layers["layer"].tolist()
    assert metric_values(app)["Parameters"] == f"{layers['parameters'].sum():,}"
    assert "No runs yet" in " ".join(caption.value for caption in app.caption)
    app.selectbox(key="train_preset").set_value("lenet5").run()
    assert "LeNet-5" in " ".join(caption.value for caption in app.caption)


def test_an_impossible_architecture_is_refused_before_any_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = open_train_page_on_digits(monkeypatch, tmp_path)
    app.selectbox(key="train_preset").set_value("custom").run()
    extra_pools = [
        {"filters": 8, "kernel_size": 3, "convs": 1, "pooling": "max", "batch_norm": True,
         "activation": "relu", "padding": "same"}
    ] * 4  # fmt: skip
    app.session_state["train_blocks"] = {
        "edited_rows": {},
        "added_rows": extra_pools,
        "deleted_rows": [],
    }
    app.run()
    assert not app.exception
    assert "pooling" in app.error[0].value
    assert not [button for button in app.button if button.label == "Train"]


def test_a_run_that_learns_nothing_ends_in_red_naming_its_learning_rate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app_uses_training_cluster: str
) -> None:
    app = open_train_page_on_digits(monkeypatch, tmp_path)
    app.selectbox(key="train_optimizer").set_value("adam").run()
    app.number_input(key="train_learning_rate").set_value(10.0).run()
    app.number_input(key="train_epochs").set_value(4).run()
    app.selectbox(key="train_batch_size").set_value(32).run()
    app.button(key="train_train").click().run()
    job = app.session_state[session_keys.TRAINING_JOB]
    assert job.wait(180) and job.state == "finished", job.error
    app.run()
    assert not app.exception
    assert not app.success, "a failed training must never read as a success"
    message = app.error[0].value
    assert "learning rate 10" in message
    assert job.record["status"] in ("learned_nothing", "diverged")
    assert app.dataframe[-1].value["status"].tolist() == [job.record["status"]]


def test_training_runs_on_a_worker_and_survives_reruns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app_uses_training_cluster: str
) -> None:
    app = open_train_page_on_digits(monkeypatch, tmp_path)
    app.number_input(key="train_epochs").set_value(2).run()
    app.button(key="train_train").click().run()
    job = app.session_state[session_keys.TRAINING_JOB]
    # Another widget's rerun while training: the job lives on in the session.
    app.selectbox(key="train_optimizer").set_value("sgd").run()
    assert app.session_state[session_keys.TRAINING_JOB] is job
    assert job.wait(180)
    app.run()
    assert not app.exception
    assert job.state == "finished", job.error
    assert "Training completed" in app.success[0].value
    assert metric_values(app)["Test accuracy"].endswith("%")
    runs_table = app.dataframe[-1].value
    assert runs_table["dataset"].tolist() == ["digits"]
    assert runs_table["made by"].tolist() == ["Ana"]
    assert runs_table["worker"].tolist() == [job.worker]
    captions = " ".join(caption.value for caption in app.caption)
    assert "Trained on worker" in captions
    assert "Trainings run on the cluster at tcp://127.0.0.1:" in captions
    assert "1 training at a time" in captions


def test_training_needs_a_name_so_the_run_has_a_maker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = open_train_page_on_digits(monkeypatch, tmp_path, user=None)
    assert "Type your name in the sidebar" in app.info[0].value
    assert app.button(key="train_train").disabled
    # AppTest drops the sidebar after a page switch, so the name goes in through its state.
    app.session_state["user"] = "Ana"
    app.run()
    assert not app.button(key="train_train").disabled


def test_a_link_with_a_user_opens_the_app_as_that_person_and_odd_names_are_refused() -> None:
    # AppTest shows the sidebar of a session's first run only, so each case opens afresh.
    app = open_page("pages/home.py", user="Ben")
    assert app.sidebar.text_input(key="user").value == "Ben"
    assert not app.sidebar.error
    app = open_page("pages/home.py", user="<script>")
    assert "letters" in app.sidebar.error[0].value


def test_a_queued_job_shows_its_place_an_estimated_wait_and_cancel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app_uses_training_cluster: str
) -> None:
    from core.engine import TrainingRequest
    from core.models import PRESETS
    from core.training import TrainConfig
    from ui.engine import training_engine

    app = open_train_page_on_digits(monkeypatch, tmp_path)
    engine = training_engine()
    # Another student's long run holds the only worker.
    blocker = engine.submit(
        TrainingRequest(
            dataset_name="digits",
            spec=PRESETS["fast"],
            config=TrainConfig(epochs=50, time_budget_seconds=120),
            owner="Ben",
            runs_dir=str(tmp_path / "other"),
        )
    )
    try:
        deadline = time.monotonic() + 120
        while blocker.state == "queued" and time.monotonic() < deadline:
            time.sleep(0.1)  # Until the worker has said it started: then ours is next.
        assert blocker.state == "running", blocker.error
        app.button(key="train_train").click().run()
        job = app.session_state[session_keys.TRAINING_JOB]
        assert job.state == "queued"
        info = " ".join(block.value for block in app.info)
        assert "next in line" in info and "to wait" in info
        assert "time budget starts when your training does" in info
        app.button(key="train_cancel").click().run()
        assert job.state == "cancelled"
        app.run()
        assert "Cancelled: nothing was trained or saved." in app.info[0].value
    finally:
        engine.cancel(blocker)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_evaluate_page_without_runs_points_to_the_train_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "none"))
    app = open_page("pages/evaluate.py")
    assert not app.exception
    assert "No saved runs yet" in app.info[0].value


def test_evaluate_page_shows_the_run_s_matrix_scores_and_mistakes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(digits_runs_dir))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page("pages/evaluate.py")
    assert not app.exception and not app.error
    metrics = metric_values(app)
    assert metrics["Test images"] == "300" and metrics["Classes"] == "10"
    accuracy = float(metrics["Test accuracy"].rstrip("%")) / 100
    mistakes = int(metrics["Mistakes"].replace(",", ""))
    assert mistakes == round((1 - accuracy) * 300)
    per_class = app.dataframe[0].value
    assert list(per_class.columns)[:4] == ["class", "precision", "recall", "f1"]
    assert per_class["support"].sum() == 300
    charts = app.get("plotly_chart")
    assert len(charts) >= 3, "matrix, a cell's gallery, worst mistakes"
    app.toggle(key="evaluate_normalize").set_value(True).run()
    assert not app.exception


def test_evaluate_page_scrubs_back_to_the_untrained_network_and_plays_forward(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    import ui.time_machine

    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(digits_runs_dir))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ui.time_machine, "PLAY_SECONDS", 0.0)
    app = open_page("pages/evaluate.py")
    slider = app.select_slider(key="evaluate_checkpoint")
    labels = list(slider.options)  # As the user reads them.
    assert labels[0] == "untrained" and labels[-1].startswith("end (epoch")
    assert len(labels) >= 5 and slider.value == len(labels) - 1
    final_accuracy = float(metric_values(app)["Test accuracy"].rstrip("%")) / 100
    assert "Accuracy along the way" in " ".join(
        json.loads(chart.proto.spec)["layout"]["title"]["text"]
        for chart in app.get("plotly_chart")
        if "title" in json.loads(chart.proto.spec)["layout"]
    )

    slider.set_value(0).run()
    assert not app.exception
    untrained_accuracy = float(metric_values(app)["Test accuracy"].rstrip("%")) / 100
    assert untrained_accuracy < 0.3 < final_accuracy
    assert "untrained" in app.info[0].value

    app.button(key="evaluate_checkpoint_play").click().run()
    assert not app.exception
    # Play stepped through every point and stopped at the end, the finished run.
    assert app.select_slider(key="evaluate_checkpoint").value == len(labels) - 1
    assert float(metric_values(app)["Test accuracy"].rstrip("%")) / 100 == final_accuracy
    assert not app.session_state["evaluate_checkpoint_playing"]


def test_draw_page_without_a_run_offers_to_train_one_in_place(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app_uses_training_cluster: str
) -> None:
    import core.training
    from core.training import TrainConfig

    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    # Two epochs instead of the page's twenty: the path is the same, the wait is not.
    monkeypatch.setattr(
        core.training, "QUICK_START_CONFIG", TrainConfig(epochs=2, time_budget_seconds=60)
    )
    app = open_page("pages/draw.py", user="Ana")
    assert not app.exception
    assert "Train the fast default on Digits (offline) now (about 60 seconds)" in app.info[0].value
    app.button(key="draw_quick_start").click().run()
    job = app.session_state[session_keys.TRAINING_JOB]
    assert job.wait(180)
    assert job.state == "finished", job.error
    app.run()
    assert not app.exception
    assert "Nothing drawn yet" in app.info[0].value


def test_draw_page_guesses_an_injected_drawing_and_shows_what_the_model_sees(
    monkeypatch: pytest.MonkeyPatch, digits_runs_dir: Path
) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(digits_runs_dir))
    app = open_page("pages/draw.py")
    assert not app.exception
    assert "Nothing drawn yet" in app.info[0].value
    app.session_state["draw_canvas"] = canvas_state(drawn_one())
    app.run()
    assert not app.exception and not app.info
    guess = app.metric[0]
    assert guess.label == "Top guess" and guess.value in [str(digit) for digit in range(10)]
    model_input = app.session_state[session_keys.DRAW_INPUT]
    assert model_input.shape == (1, 28, 28, 1) and model_input.dtype == np.uint8
    # MNIST's recipe: the stroke is centred, with an empty border around it.
    assert model_input[0, :3].max() == 0 and model_input[0, :, 11:17].max() == 255
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert charts[1:] == ["draw_stages"], "guesses and what it sees; Grad-CAM waits to be opened"


def copy_runs_owned_by(source: Path, destination: Path, owner: str | None) -> list[str]:
    """Copy a runs folder, giving each run `owner`; returns the run ids."""
    import json

    shutil.copytree(source, destination)
    run_ids = []
    for folder in sorted(destination.iterdir()):
        record_path = folder / "record.json"
        record = json.loads(record_path.read_text())
        record["owner"] = owner
        record_path.write_text(json.dumps(record))
        run_ids.append(folder.name)
    return run_ids


def test_a_saved_run_is_renamed_deleted_after_a_yes_and_restored_by_its_maker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    (run_id,) = copy_runs_owned_by(digits_runs_dir, tmp_path / "runs", "Ana")
    app = open_train_page_on_digits(monkeypatch, tmp_path, user="ana")
    assert app.dataframe[-1].value["name"].tolist() == ["tiny digits"]
    app.text_input(key=f"train_new_name_{run_id}").set_value("my first net").run()
    app.button(key="train_rename").click().run()
    assert not app.exception
    assert app.dataframe[-1].value["name"].tolist() == ["my first net"]
    # Delete asks first, naming the run; "Keep it" keeps it.
    app.button(key="train_delete").click().run()
    assert "Delete **my first net**?" in app.warning[0].value
    app.button(key="train_delete_no").click().run()
    assert app.dataframe[-1].value["name"].tolist() == ["my first net"]
    app.button(key="train_delete").click().run()
    app.button(key="train_delete_yes").click().run()
    assert not app.exception
    assert "No runs yet" in " ".join(caption.value for caption in app.caption)
    assert [path.name for path in (tmp_path / "runs").iterdir()] == [".trash"]
    # The maker can bring it back, as it was.
    app.button(key=f"train_restore_{run_id}").click().run()
    assert not app.exception
    assert app.dataframe[-1].value["name"].tolist() == ["my first net"]
    assert (tmp_path / "runs" / run_id / "model.keras").is_file()


def test_a_run_downloads_as_keras_saved_model_and_tflite_built_on_a_worker(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digits_runs_dir: Path,
    app_uses_training_cluster: str,
) -> None:
    import io
    import time
    import zipfile

    (run_id,) = copy_runs_owned_by(digits_runs_dir, tmp_path / "runs", None)
    app = open_train_page_on_digits(monkeypatch, tmp_path, user="Ben")
    assert app.get("download_button")[0].proto.label == "Download .keras"
    app.button(key="train_prepare_tflite").click().run()
    app.button(key="train_prepare_saved_model").click().run()
    assert not app.exception
    for kind in ("tflite", "saved_model"):
        task = app.session_state[f"train_export_{kind}"]
        assert task.wait(120) and task.state == "finished", task.error
    time.sleep(0.1)
    app.run()
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == ["Download .keras", "Download SavedModel (.zip)", "Download TFLite (.tflite)"]
    saved_model = app.session_state["train_export_saved_model"].result["bytes"]
    assert "saved_model/saved_model.pb" in zipfile.ZipFile(io.BytesIO(saved_model)).namelist()
    assert "tensorboard --logdir" in " ".join(caption.value for caption in app.caption)
    assert run_id in str(app.session_state["train_export_tflite"].run_id)


@pytest.mark.parametrize("maker", ["Ana", None], ids=["another student's", "the teacher's"])
def test_another_session_sees_a_run_read_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path, maker: str | None
) -> None:
    (run_id,) = copy_runs_owned_by(digits_runs_dir, tmp_path / "runs", maker)
    app = open_train_page_on_digits(monkeypatch, tmp_path, user="Ben")
    assert app.dataframe[-1].value["made by"].tolist() == [maker or "teacher (command line)"]
    assert app.button(key="train_rename").disabled and app.button(key="train_delete").disabled
    assert app.text_input(key=f"train_new_name_{run_id}").disabled
    captions = " ".join(caption.value for caption in app.caption)
    assert "only its maker can rename or delete it" in captions
    assert (tmp_path / "runs" / run_id / "model.keras").is_file()


def test_every_picker_follows_renamed_and_deleted_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    from core.runs import delete_run, rename_run

    runs = tmp_path / "runs"
    runs.mkdir()
    run_ids = []
    for number in (1, 2):
        run_ids += copy_runs_owned_by(digits_runs_dir, runs / str(number), "Ana")
        (runs / str(number) / run_ids[-1]).rename(runs / f"2026010{number}-000000-00000{number}")
        (runs / str(number)).rmdir()
    first, second = sorted(path.name for path in runs.iterdir())
    for run_id, name in ((first, "older"), (second, "newer")):
        rename_run(run_id, name, user="Ana", runs_dir=runs)
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page("pages/evaluate.py", user="Ana")
    app.selectbox(key="evaluate_run").set_value(first).run()
    assert app.selectbox(key="evaluate_run").value == first
    # Renamed elsewhere (another tab): the same run stays chosen, under its new name.
    rename_run(first, "renamed", user="Ana", runs_dir=runs)
    app.run()
    picker = app.selectbox(key="evaluate_run")
    assert picker.value == first and "renamed" in picker.format_func(first)
    # Deleted elsewhere: the picker moves to a run that exists, never shows the deleted one.
    delete_run(first, user="Ana", runs_dir=runs)
    app.run()
    assert not app.exception
    assert app.selectbox(key="evaluate_run").options == [
        app.selectbox(key="evaluate_run").format_func(second)
    ]
    assert app.selectbox(key="evaluate_run").value == second


def test_an_imported_model_is_checked_and_kept_as_a_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1))
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(inputs))
    good, wrong = tmp_path / "good.keras", tmp_path / "wrong.keras"
    keras.Model(inputs, outputs).save(good)
    keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.Flatten()(inputs))).save(wrong)
    app = open_train_page_on_digits(monkeypatch, tmp_path)
    app.file_uploader(key="train_import").upload("wrong.keras", wrong.read_bytes()).run()
    app.button(key="train_import_button").click().run()
    assert not app.exception
    assert "has 3 outputs but the dataset has 10 classes" in app.error[0].value
    app.file_uploader(key="train_import").set_value(
        ("good.keras", good.read_bytes(), "application/octet-stream")
    ).run()
    app.button(key="train_import_button").click().run()
    assert not app.exception and not app.error
    assert "Imported as run" in app.success[0].value
    app.run()
    assert app.dataframe[-1].value["status"].tolist() == ["imported"]


def test_uploaded_images_train_like_a_built_in_dataset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app_uses_training_cluster: str
) -> None:

    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page("pages/datasets.py", user="Ana")
    upload_shapes(app)
    assert not app.exception and metric_values(app)["Classes"] == "2"
    # The upload lives in this session: the Train page finds it.
    app.switch_page("pages/train.py").run()
    app.selectbox(key="train_name").set_value("custom").run()
    assert not app.exception
    assert "20 training and 4 test images of 28 x 28 x 1, 2 classes" in app.caption[0].value
    # 24 images cannot fill the default batch of 256: the page picks one that fits them, and
    # a batch too big for them, picked by hand, is named before any training.
    assert app.selectbox(key="train_batch_size").value == 16 and not app.error
    app.selectbox(key="train_batch_size").set_value(32).run()
    assert "batch size 32 is larger than the 18 training images" in app.error[0].value
    app.selectbox(key="train_batch_size").set_value(16).run()
    assert not app.error
    app.number_input(key="train_epochs").set_value(2).run()
    app.button(key="train_train").click().run()
    job = app.session_state[session_keys.TRAINING_JOB]
    assert job.wait(180)
    assert job.state == "finished", job.error
    app.run()
    assert app.dataframe[-1].value["dataset"].tolist() == ["custom"]


def test_the_app_keeps_the_keras_session_for_background_trainings() -> None:
    from streamlit.runtime.scriptrunner import script_runner

    open_page("pages/home.py")
    # Streamlit's own clean-up clears the Keras session after each run, which crashed a
    # training on its thread (bench/bench_app_memory.py reproduced it); the frame disables it.
    assert script_runner._clean_problem_modules.__name__ == "_keep_problem_modules"


def test_the_train_page_s_setup_lives_in_the_url_and_a_link_opens_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    link = {"dataset": "digits", "preset": "lenet5", "time_budget": "30", "epochs": "3"}
    app = open_page("pages/train.py", user="ana", **link)
    assert not app.exception and not app.warning
    assert app.selectbox(key="train_name").value == "digits"
    assert app.selectbox(key="train_preset").value == "lenet5"
    assert (
        app.toggle(key="train_budget_on").value and app.number_input(key="train_budget").value == 30
    )
    assert app.number_input(key="train_epochs").value == 3
    # A change goes into the address at once.
    app.selectbox(key="train_optimizer").set_value("sgd").run()
    shared = {key: app.query_params[key] for key in app.query_params if key != "user"}
    shared = {key: value[0] if isinstance(value, list) else value for key, value in shared.items()}
    assert shared == {**link, "optimizer": "sgd"}
    # The shared link (or a refresh) opens the page set up the same way.
    again = open_page("pages/train.py", user="ben", **shared)
    assert again.selectbox(key="train_optimizer").value == "sgd"
    assert again.selectbox(key="train_preset").value == "lenet5"
    assert again.number_input(key="train_budget").value == 30


def test_learning_to_say_not_one_of_mine_is_on_for_drawings_and_a_link_can_switch_it_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page("pages/train.py", user="ana", dataset="digits")
    not_mine = app.checkbox(key="train_not_mine")
    assert not_mine.value and not not_mine.disabled and "stray marks" in not_mine.help
    not_mine.uncheck().run()
    assert app.query_params["outliers"] in ("0", ["0"])
    again = open_page("pages/train.py", user="ben", dataset="digits", outliers="0")
    assert not again.checkbox(key="train_not_mine").value
    again.checkbox(key="train_not_mine").check().run()
    assert "outliers" not in again.query_params


def test_a_link_s_bad_values_are_named_and_the_defaults_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page("pages/train.py", dataset="digits", time_budget="abc", preset="nope")
    assert not app.exception
    warnings = " ".join(warning.value for warning in app.warning)
    assert "time_budget=abc" in warnings and "preset=nope" in warnings
    assert not app.toggle(key="train_budget_on").value
    assert app.selectbox(key="train_preset").value == "fast"
