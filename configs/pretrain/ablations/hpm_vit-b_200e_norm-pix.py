# Ablation: reconstruct per-patch normalised pixels (MAE's norm_pix; the
# released HPM recipe reconstructs raw normalised-image pixels).
_base_ = ['../hpm_vit-b_200e.py']

model = dict(head=dict(norm_pix=True))
