# HPM ViT-B/16 on your own unlabelled images: every image file under
# data_root, in any nesting of sub-folders, no labels and no ann file
# (mmpretrain's CustomDataset with with_label=False). Same recipe as
# hpm_vit-b.py; first check that every image reads:
#   python tools/check_dataset.py configs/pretrain/hpm_vit-b_custom-folder.py \
#       --cfg-options train_dataloader.dataset.data_root=/data/my_images/
#   tools/dist_train.sh configs/pretrain/hpm_vit-b_custom-folder.py 8 \
#       --cfg-options train_dataloader.dataset.data_root=/data/my_images/
_base_ = ['./hpm_vit-b.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,  # not ImageNet: no split, no ann file
        type='CustomDataset',
        data_root='data/my_images/',
        data_prefix='',
        with_label=False,
        # matched case-insensitively; decoded to 3-channel colour (grey and
        # CMYK included) by CheckedLoadImageFromFile
        extensions=('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                    '.tiff', '.webp'),
        pipeline={{_base_.train_pipeline}}))
