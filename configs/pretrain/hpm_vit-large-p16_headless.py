# Feature extraction with an HPM ViT-L/16 encoder, student or EMA teacher
# (inference only, like mmpretrain's `*_headless` configs):
#   from mmpretrain import FeatureExtractor
#   extract = FeatureExtractor('hpm_vit-large-p16_headless', pretrained=CKPT)
#   feats = extract('img.jpg')[0]                    # student encoder
#   feats = extract('img.jpg', source='teacher')[0]  # EMA teacher encoder
# CKPT: any checkpoint of the ViT-L pre-training configs (hpm_mm's, or the
# authors' converted with tools/convert_checkpoint.py --to hpm).
_base_ = [
    './hpm_vit-large-p16_8xb256-amp-coslr-800e_in1k.py',
    './_base_/hpm_feature_extraction.py',
]
