"""Names of the values pages keep in st.session_state, in one place so pages agree on them."""

GALLERY_SEED = "gallery_seed"
# The user's own uploaded dataset: (upload key, Dataset, ImportReport); never shared.
CUSTOM_DATASET = "custom_dataset"
# This session's background training run (a core.engine.TrainingJob), and whether its end was shown.
TRAINING_JOB = "training_job"
TRAINING_JOB_SHOWN = "training_job_shown"
# The latest drawing as the model's uint8 input (1, 28, 28, 1), for the Inside page.
DRAW_INPUT = "draw_input"
