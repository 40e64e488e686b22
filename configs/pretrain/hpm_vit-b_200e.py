# HPM ViT-B/16, 200 epochs, 8 x 256, AMP.
# Short alias of hpm_vit-base-p16_8xb256-amp-coslr-200e_in1k.py
# (OpenMMLab's naming); the settings live there, nothing is set here.
_base_ = ['./hpm_vit-base-p16_8xb256-amp-coslr-200e_in1k.py']
