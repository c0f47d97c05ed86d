"""enet-edge: ENet semantic segmentation from TensorFlow to Intel edge hardware.

Importing the package imports no TensorFlow: the runtime, benchmark and demo work on a device
that has only numpy, OpenCV and an OpenVINO runtime. TensorFlow-dependent modules
(``model/``, ``export/``'s pipeline and conversions, ``workstation/train/``) import it themselves.
"""

__version__ = "0.1.0"
