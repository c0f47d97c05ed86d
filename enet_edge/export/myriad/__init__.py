"""The MYRIAD X (NCS2) compiler in the loop, no stick needed: :mod:`.compiler` (OpenVINO 2021.4.2's graph compiler in
a Python 3.8/3.9 venv, its dump read into stages and traffic), :mod:`.driver` (the script that venv runs; never
imported), :mod:`.runner_io` (the one compile of a model, with the I/O precisions enet-edge's runner asks: the
export, ``make bench`` and ``enet-edge check`` call it) and :mod:`.compile_table` (``make bench``'s table of compiled
ncs2 variants). No TensorFlow or OpenVINO on import."""
