"""DEVICE apps (numpy, OpenCV and an OpenVINO runtime; never TensorFlow): ``enet-edge bench`` (:mod:`.bench`),
``demo`` (:mod:`.demo`), ``eval`` (:mod:`.evaluate`; ``.npz`` weights through the keras backend) and the frame
reading they share (:mod:`.frames`)."""
