"""Home: what Convlab is and what each page teaches."""

import streamlit as st

st.title("Convlab")
st.markdown(
    "See how a **convolutional neural network** learns to recognise images: look at the data, "
    "train a network, open it up, then draw and watch it guess."
)

PAGE_LESSONS = (
    (
        "pages/datasets.py",
        "Datasets",
        ":material/photo_library:",
        "What a network learns from. Browse MNIST digits, Fashion-MNIST clothes, CIFAR-10 "
        "photos, Quick, Draw! doodles and an offline digits set: samples of every class, how "
        "many images each class has, the average image of a class, and how bright the pixels "
        "are. Notice how much a class varies, and which classes look alike.",
    ),
)

for page, title, icon, lesson in PAGE_LESSONS:
    with st.container(border=True):
        st.page_link(page, label=title, icon=icon)
        st.write(lesson)

st.info(
    "Coming next: training a network live, a clickable confusion matrix and feature maps, and "
    "a canvas to draw on while the network guesses.",
    icon=":material/construction:",
)
