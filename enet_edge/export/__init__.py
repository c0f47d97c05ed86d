"""Workstation side: freeze, convert, quantize, gate and parity-check an export (TensorFlow lazily)."""
