_base_ = "../_base_/default_runtime.py"
level = _base_.no_such_key
