"""Inference APIs of hpm_mm (the OpenMMLab name for them)."""
