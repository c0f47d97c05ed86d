"""WORKSTATION apps (TensorFlow, the export): `make bench`'s suite (:mod:`enet_edge.workstation.suite`)."""
