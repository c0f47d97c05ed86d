"""The MYRIAD X (NCS2) compiler in the loop, no stick needed: :mod:`.compiler` (OpenVINO 2021.4.2's graph compiler in
a Python 3.8/3.9 venv, its dump read into stages and traffic), :mod:`.driver` (the script that venv runs; never
imported) and :mod:`.compile_table` (``make bench``'s table of compiled ncs2 variants). No TensorFlow or OpenVINO
on import."""
