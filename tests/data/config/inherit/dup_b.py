default_scope = "mmdet"
b = 2
