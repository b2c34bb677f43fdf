"""Names of the values pages keep in st.session_state, in one place so pages agree on them."""

GALLERY_SEED = "gallery_seed"
# The user's own uploaded dataset: (upload key, Dataset, ImportReport); never shared.
CUSTOM_DATASET = "custom_dataset"
