"""WORKSTATION apps (TensorFlow, the export): ``enet-edge train`` (:mod:`.train`), ``import`` (:mod:`.importer`,
kwotsin/TensorFlow-ENet checkpoints), the run directory reader (:mod:`.run_dir`, numpy only) and ``make bench``'s
suite (:mod:`.suite`)."""
