"""Names of the values pages keep in st.session_state, in one place so pages agree on them."""

GALLERY_SEED = "gallery_seed"
# The user's own uploaded dataset: (upload key, Dataset, ImportReport); never shared.
CUSTOM_DATASET = "custom_dataset"
# This session's background training run (a core.engine.TrainingJob), and whether its end was shown.
TRAINING_JOB = "training_job"
TRAINING_JOB_SHOWN = "training_job_shown"
# The latest drawing as the model's uint8 input (1, 28, 28, 1), for the Inside page.
DRAW_INPUT = "draw_input"
# The Play page's game (a core.game.Game), the run it is played with, the seed that chose its
# prompts (it also names the canvases, so a new game never shows an old game's drawing), the
# round whose drawing the end screen looks at, and the last line handed to the browser's voice.
PLAY_GAME = "play_game"
PLAY_GAME_RUN = "play_game_run"
PLAY_GAME_SEED = "play_game_seed"
PLAY_CHOSEN_ROUND = "play_chosen_round"
PLAY_SPOKEN_LINE = "play_spoken_line"
PLAY_UTTERANCE = "play_utterance"
# The Teach page's collections (a core.teach.Collection per kind: drawings, photos), the number
# that names its canvas and camera (a new number is an empty canvas after each added example),
# and the file id of the .zip it last read per kind (a rerun must not read it again).
TEACH_COLLECTIONS = "teach_collections"
TEACH_EXAMPLE_NUMBER = "teach_example_number"
TEACH_UPLOAD_READ = "teach_upload_read"
