"""Names of the values pages keep in st.session_state, in one place so pages agree on them."""

GALLERY_SEED = "gallery_seed"
