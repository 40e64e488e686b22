# HPM ViT-B/16, 800 epochs, 8 GPUs x 256 (total 2048), AMP.
#   tools/dist_train.sh \
#       configs/pretrain/hpm_vit-base-p16_8xb256-amp-coslr-800e_in1k.py 8
# configs/pretrain/hpm_vit-b.py is a short alias of this file.
_base_ = [
    './_base_/hpm_vit-base-p16.py',
    './_base_/hpm_pretrain_runtime.py',
]

# The runtime's hooks (the model updates its teacher itself).
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='CheckpointKeysHook'),
    dict(type='RNGStateHook'),
    dict(type='CheckpointSafeGlobalsHook'),
    dict(type='PreemptionHook'),
]
