"""Home: what Convlab is and what each page teaches."""

import streamlit as st

from ui.frame import leave_pages_directory_mode

leave_pages_directory_mode()

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
    (
        "pages/train.py",
        "Train",
        ":material/model_training:",
        "How a network learns. Pick a dataset and an architecture (or build your own, block by "
        "block), see its layers and parameters, press Train and watch the loss and accuracy "
        "curves move while it learns. Try a learning rate that is too high, too few images, or "
        "no pooling, and compare the runs.",
    ),
    (
        "pages/evaluate.py",
        "Evaluate",
        ":material/grid_on:",
        "Where a network goes wrong. A confusion matrix whose cells you click to see the very "
        "test images behind them, precision and recall per class, the most confused pairs, "
        "and the mistakes the network was most sure of.",
    ),
    (
        "pages/inside.py",
        "Inside the network",
        ":material/visibility:",
        "What each layer sees. The feature maps of every layer for one image, the patterns the "
        "first filters look for, where the network looks to decide (Grad-CAM and saliency), "
        "and a map of how it arranges all the test images.",
    ),
    (
        "pages/draw.py",
        "Draw",
        ":material/draw:",
        "Does it work on your handwriting? Draw on a canvas and the network guesses while you "
        "draw, with how sure it is. See how your drawing is cropped, scaled and centred before "
        "the network sees it, and send the same drawing to several networks.",
    ),
    (
        "pages/play.py",
        "Play",
        ":material/sports_esports:",
        "Quick, Draw! with your own network. Six prompts, 20 seconds each, and the network "
        "thinking aloud while you draw until it knows. At the end, see which training drawings "
        "it found most like each of yours: that is what it compared them with.",
    ),
    (
        "pages/teach.py",
        "Teach",
        ":material/school:",
        "Teach a network classes of your own: name them, draw about 20 examples of each, train "
        "for 20 seconds, then draw for it and play. Too few examples, or two classes that look "
        "alike, and you will see it guess wrong: that is what data does.",
    ),
)

for page, title, icon, lesson in PAGE_LESSONS:
    with st.container(border=True):
        st.page_link(page, label=title, icon=icon)
        st.write(lesson)
