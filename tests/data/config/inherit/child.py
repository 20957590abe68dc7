_base_ = ["./mid.yaml", "./data.yml"]

model = dict(norm_cfg=dict(type="SyncBN"))
train_dataloader = dict(batch_size=8)
max_epochs = _base_.schedule_len * 2
depth_copy = "{{_base_.model.depth}}"
depth_ref = {{_base_.model.depth}}
name_in_string = "resnet{{_base_.model.depth}}_{{ _base_.schedule_len }}e"
