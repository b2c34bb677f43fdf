"""Streamlit helpers shared by the pages; the logic stays in core/."""
